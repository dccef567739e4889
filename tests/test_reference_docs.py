"""docs/reference/ stays true: the generated files equal what the code gives, and the rest names what exists."""

from __future__ import annotations

import re

import pytest

from portal import ROOT
from portal.compliance.labels import RULE
from portal.reference import REFRESH, generated_documents, stale_documents

DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"


def test_the_generated_reference_is_up_to_date():
    stale = stale_documents(REFERENCE)
    assert not stale, f"docs/reference/{', '.join(stale)} differ from the code: run `{REFRESH}` to refresh"


@pytest.mark.parametrize("name", sorted(generated_documents()))
def test_the_generator_writes_each_file_from_scratch(tmp_path, name):
    from portal.reference import write_documents

    assert name in write_documents(tmp_path)
    assert (tmp_path / name).read_text(encoding="utf-8") == (REFERENCE / name).read_text(encoding="utf-8")


def test_cli_reference_has_every_registered_command(runner):
    text = (REFERENCE / "cli.md").read_text(encoding="utf-8")
    for group in ("agencies", "users", "cases", "demo", "uploads", "adapters", "audit"):
        listing = runner.invoke(args=[group, "--help"]).output
        for command in re.findall(r"^  ([a-z][a-z-]*)  ", listing.split("Commands:")[-1], flags=re.M):
            assert f"## `flask {group} {command}`" in text, f"flask {group} {command} is not in cli.md"
    assert "## `flask db upgrade`" in text and "## `flask worker`" in text


def test_every_rule_id_is_documented_with_its_status():
    text = (REFERENCE / "rules.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| \**(active|planned)\** \|", text, flags=re.M))
    assert set(rows) == set(RULE), f"rules.md and the rule ids differ: {sorted(set(rows) ^ set(RULE))}"


def test_the_docs_never_send_users_to_a_file_they_do_not_have():
    for path in [*DOCS.rglob("*.md"), ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert "CONTRACT.md" not in text and "shared contract" not in text, f"{path.relative_to(ROOT)} cites it"


def test_the_readme_links_every_documentation_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted([*DOCS.rglob("*.md"), REFERENCE / "openapi.json"]):
        relative = path.relative_to(ROOT).as_posix()
        assert f"]({relative})" in readme, f"README.md does not link {relative}"


def test_links_between_reference_files_resolve():
    for path in REFERENCE.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            assert (path.parent / target).exists(), f"{path.name} links {target}, which does not exist"
