"""The example third-party package, installed through a stand-in distribution (no pip, no network)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from portal.plugins import PortalPluginManager, build_plugin_manager, list_formats
from tests.adapters.adapter_golden import REPO, fake_distribution

EXAMPLE = REPO / "examples" / "portal-adapter-example"


def _load_example_tests() -> ModuleType:
    # The package's own test module, so its conformance class is the one exercised here.
    spec = importlib.util.spec_from_file_location("portal_adapter_example_tests", EXAMPLE / "tests/test_conformance.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ExampleConformance = _load_example_tests().TestAcmePsv


@pytest.fixture
def installed_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As after `pip install examples/portal-adapter-example`: its source and its entry point."""
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    monkeypatch.syspath_prepend(
        str(fake_distribution(tmp_path, "portal-adapter-example", {"acme_psv": "portal_adapter_example"}))
    )


class TestExamplePackage(_ExampleConformance):
    @pytest.fixture
    def plugin_manager(self, installed_example: None) -> PortalPluginManager:
        return self.make_plugin_manager()


def test_the_example_is_listed_with_its_distribution(installed_example: None) -> None:
    [item] = [item for item in list_formats(build_plugin_manager()) if item.adapter == "acme_psv"]
    assert item.distribution == "portal-adapter-example 0.0.0"


def test_the_example_can_be_blocked(installed_example: None) -> None:
    pm = build_plugin_manager(blocked=["acme_psv"])
    assert "acme_psv" not in {item.adapter for item in list_formats(pm)}


def test_the_example_declares_its_entry_point() -> None:
    import tomllib

    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["portal.adapters"] == {"acme_psv": "portal_adapter_example"}
