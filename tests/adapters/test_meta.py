"""Drift tests: entry points, conformance tests, docs and hookspecs stay in step; adapters stay pure."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from portal.plugins import build_plugin_manager, hookspecs, list_formats
from portal.testing import AdapterConformance
from tests.adapters.adapter_golden import REPO
from tests.adapters.conftest import declared_entry_points

DOCS = (REPO / "docs" / "adapters.md").read_text(encoding="utf-8")
TEST_SOURCES = [path.read_text(encoding="utf-8") for path in (REPO / "tests" / "adapters").glob("test_*.py")]
ENTRY_POINTS = declared_entry_points()
HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("adapter_"))
BANNED = {"flask", "sqlalchemy", "requests", "socket", "urllib", "http", "httpx", "aiohttp", "portal"}
ALLOWED = ("portal.plugins",)


def test_builtin_entry_points_are_declared() -> None:
    assert {name: f"adapters.{name}" for name in ("canonical", "cn_gbk_csv", "fixed_width", "mapping")} == ENTRY_POINTS


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_entry_point_has_a_conformance_test(name: str) -> None:
    pattern = re.compile(rf"^\s+adapter_name = \"{name}\"$", re.MULTILINE)
    assert any(pattern.search(source) for source in TEST_SOURCES), f"no AdapterConformance subclass for {name!r}"


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_every_entry_point_is_documented(name: str) -> None:
    assert f"### `{name}`" in DOCS, f"docs/adapters.md has no section for adapter {name!r}"


def test_every_builtin_format_is_documented() -> None:
    for item in list_formats(build_plugin_manager()):
        if item.adapter in ENTRY_POINTS:
            assert f"`{item.key}`" in DOCS, f"format {item.key!r} is not documented"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_documented(hook: str) -> None:
    assert f"### `{hook}`" in DOCS, f"docs/adapters.md has no section for {hook}"
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 400, f"{hook} needs a full docstring"
    for parameter in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {parameter}:" in doc, f"{hook} does not document {parameter}"


def test_every_conformance_check_is_documented() -> None:
    checks = [name for name in dir(AdapterConformance) if name.startswith("test_")]
    assert len(checks) >= 9
    for name in checks:
        assert f"`{name}`" in DOCS, f"conformance check {name} is not listed in docs/adapters.md"


def _adapter_sources() -> list[Path]:
    roots = [REPO / "adapters", REPO / "examples" / "portal-adapter-example" / "src"]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "__import__",
            "import_module",
        ):
            names.append("<dynamic import>")
    return names


@pytest.mark.parametrize("path", _adapter_sources(), ids=lambda path: str(path.relative_to(REPO)))
def test_adapters_import_nothing_but_pure_modules(path: Path) -> None:
    bad = [
        name
        for name in _imports(path)
        if name == "<dynamic import>"
        or (name.split(".")[0] in BANNED and not (name == "portal.plugins" or name.startswith("portal.plugins.")))
    ]
    assert not bad, f"{path.name} imports {bad}: adapters are pure translators (see docs/adapters.md)"


def test_the_import_rule_catches_offenders(tmp_path: Path) -> None:
    offender = tmp_path / "x.py"
    offender.write_text("import flask\nfrom portal.models import Case\nfrom urllib.request import urlopen\n")
    assert _imports(offender) == ["flask", "portal.models", "urllib.request"]


def test_every_built_in_format_has_a_simplified_chinese_label() -> None:
    # Agency users read the upload form in Chinese: a built-in format must not show English there.
    formats = list_formats(build_plugin_manager())
    missing = [item.key for item in formats if item.format.label_for("zh_CN") == item.format.label]
    assert not missing, f"formats without a zh_CN label: {missing}"
