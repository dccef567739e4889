"""Make the built-in adapters' entry points visible even when the checkout is not pip-installed."""

from __future__ import annotations

import configparser
import importlib.metadata
import sys
from collections.abc import Iterator

import pytest

from tests.adapters.adapter_golden import REPO, fake_distribution


def declared_entry_points() -> dict[str, str]:
    """The ``portal.adapters`` entry points that setup.cfg declares."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf-8")
    lines = config.get("options.entry_points", "portal.adapters", fallback="").strip().splitlines()
    return {name.strip(): value.strip() for name, _, value in (line.partition("=") for line in lines if line.strip())}


@pytest.fixture(scope="session", autouse=True)
def _builtin_entry_points(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    installed = {entry.name for entry in importlib.metadata.entry_points(group="portal.adapters")}
    missing = {name: value for name, value in declared_entry_points().items() if name not in installed}
    if not missing:
        yield
        return
    # Not installed (or stale): register setup.cfg's entry points through a stand-in
    # distribution, so the tests still go through real entry-point loading.
    root = str(fake_distribution(tmp_path_factory.mktemp("dist"), "collections-portal-checkout", missing))
    sys.path.insert(0, root)
    yield
    sys.path.remove(root)
