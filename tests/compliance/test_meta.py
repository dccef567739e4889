"""Drift tests: hookspecs, rule ids, parameters, tests, translations and docs stay in step; the engine stays pure."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po

from portal.compliance import hookspecs
from portal.compliance.labels import RULE
from portal.compliance.rules import build_rule_registry

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("rule_"))
REGISTRY = build_rule_registry()
BUILTIN = [item.rule for item in REGISTRY.all() if item.plugin == "builtin"]
TESTS = {
    path.name: path.read_text(encoding="utf-8")
    for path in (ROOT / "tests" / "compliance").glob("test_*.py")
    if path.name != "test_meta.py"
}
ENGINE_SOURCES = [
    *sorted((ROOT / "portal" / "compliance" / "rules").rglob("*.py")),
    ROOT / "portal" / "compliance" / "hookspecs.py",
]
PURE = (
    "portal.compliance.rules",
    "portal.compliance.hookspecs",
    "portal.compliance",
    "portal.plugins.records",
    "portal.plugins.fields",
    "portal.plugins.loading",
)
BANNED = {"flask", "flask_babel", "sqlalchemy", "requests", "socket", "urllib", "http", "portal"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_documented(hook):
    assert f"### `{hook}`" in DOCS, f"docs/compliance.md has no section for {hook}"
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 400, f"{hook} needs a full docstring"
    for parameter in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {parameter}:" in doc, f"{hook} does not document {parameter}"


@pytest.mark.parametrize("rule_id", sorted(RULE))
def test_every_contract_rule_id_is_registered_and_documented(rule_id):
    assert rule_id in REGISTRY, f"no built-in rule {rule_id!r}"
    assert f"### `{rule_id}`" in DOCS, f"docs/compliance.md has no section for {rule_id}"


def _section(rule_id: str) -> str:
    start = DOCS.index(f"### `{rule_id}`")
    following = DOCS.find("\n### ", start + 1)
    return DOCS[start : following if following != -1 else len(DOCS)]


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda rule: rule.id)
def test_every_rule_has_tests_and_its_parameters_documented(rule):
    assert any(f'"{rule.id}"' in source for source in TESTS.values()), f"no test names {rule.id!r}"
    section = _section(rule.id)
    for parameter in rule.parameters:
        assert f"`{parameter.name}`" in section, f"{rule.id}: parameter {parameter.name} is not documented"
    for profile in rule.profiles:
        assert profile in section, f"{rule.id}: profile {profile} is not in its section"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", ENGINE_SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_engine_imports_neither_flask_nor_the_database(path):
    bad = [
        name
        for name in _imports(path)
        if name.split(".")[0] in BANNED and not any(name == p or name.startswith(p + ".") for p in PURE)
    ]
    assert not bad, f"{path.name} imports {bad}: the rule engine runs from plain data"
    assert not [n for n in _imports(path) if n in ("portal.compliance.models", "portal.compliance.services")]


def test_every_rule_message_has_a_simplified_chinese_translation():
    with (ROOT / "portal" / "translations" / "incoming" / "rules.po").open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id for m in catalog if m.id and m.string}
    missing = []
    for path in ENGINE_SOURCES:
        with path.open("rb") as fh:
            for _line, _func, message, _comments in extract_python(fh, {"N_": None}, [], {}):
                if isinstance(message, str) and message not in translated:
                    missing.append(f"{path.name}: {message}")
    assert not missing, "add these to portal/translations/incoming/rules.po:\n" + "\n".join(missing)


def test_the_reference_lists_the_engine_and_the_readme_links_the_guide():
    assert "](docs/compliance.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\(\.\./compliance\.md", (ROOT / "docs" / "reference" / "rules.md").read_text(encoding="utf-8"))


def _rules_po_gettext():
    with (ROOT / "portal" / "translations" / "incoming" / "rules.po").open("rb") as fh:
        table = {m.id: m.string for m in read_po(fh) if m.id}
    return lambda text: table.get(text, text)


def test_a_verdict_reads_in_chinese_with_its_values_and_names_translated():
    from tests.compliance.builders import contact, engine, verdict

    found = verdict(engine("CN"), [contact("2026-11-25 10:00", channel="sms", phone="13600136000")], "unlisted_number")
    assert found.message.render(_rules_po_gettext()) == "以短信方式联系 136****6000，该号码未在案件中登记"


def test_the_engine_from_a_registry_takes_the_plugins_word_lists(tmp_path):
    from types import SimpleNamespace

    from portal.compliance.hookspecs import hookimpl
    from portal.compliance.rules import RuleEngine
    from portal.compliance.rules import builtin as builtin_rules

    (tmp_path / "threats.lender.txt").write_text("让你破产\n", encoding="utf-8")
    lists = SimpleNamespace(rule_wordlist_dirs=hookimpl(lambda: [tmp_path]))
    registry = build_rule_registry(
        profile="US", load_entrypoints=False, plugins=[("builtin", builtin_rules), ("lists", lists)]
    )
    rule_engine = RuleEngine.from_registry(registry)
    assert rule_engine.profile == "US" and "call_frequency_7in7" in {rule.id for rule in rule_engine.rules}
    assert [m.term for m in rule_engine.wordlists.find("让你破产")] == ["让你破产"]
