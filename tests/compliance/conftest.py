"""Make the built-in rules' entry point visible even when the checkout is not pip-installed."""

from __future__ import annotations

import configparser
import importlib.metadata
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.adapter_golden import fake_distribution

ROOT = Path(__file__).resolve().parents[2]


def declared_rule_entry_points() -> dict[str, str]:
    """The ``portal.rules`` entry points that setup.cfg declares."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config.get("options.entry_points", "portal.rules", fallback="").strip().splitlines()
    return {name.strip(): value.strip() for name, _, value in (line.partition("=") for line in lines if line.strip())}


@pytest.fixture(scope="session", autouse=True)
def _builtin_rule_entry_points(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    installed = {entry.name for entry in importlib.metadata.entry_points(group="portal.rules")}
    missing = {name: value for name, value in declared_rule_entry_points().items() if name not in installed}
    if not missing:
        yield
        return
    root = str(fake_distribution(tmp_path_factory.mktemp("dist"), "collections-portal-rules", missing, "portal.rules"))
    sys.path.insert(0, root)
    yield
    sys.path.remove(root)
