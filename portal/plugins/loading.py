"""Loading pluggy plugins for the portal's plugin contracts (adapters, compliance rules) the same way."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from typing import Any

import pluggy


def register_plugins(
    pm: pluggy.PluginManager,
    *,
    group: str,
    plugins: Iterable[tuple[str, object]],
    blocked: Iterable[str],
    load_entrypoints: bool,
    error: type[Exception],
    what: str,
    contract: str,
) -> None:
    """Register ``plugins`` ((name, module or object) pairs) and, if asked, the entry points of ``group``.

    Blocked names are skipped (an admin switch). A plugin that fails to import, implements an
    unknown hook or has a wrong signature raises ``error`` naming it, as ``what`` (``"adapter"``),
    against the ``contract`` it breaks: a broken plugin stops the portal at startup, by name.
    """
    for name in blocked:
        pm.set_blocked(name)
    names: dict[int, str] = {}
    try:
        for name, plugin in plugins:
            names[id(plugin)] = name
            if not pm.is_blocked(name):
                pm.register(plugin, name=name)
        if load_entrypoints:
            names.update(_preload_entrypoints(pm, group, error, what))
            pm.load_setuptools_entrypoints(group)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = names.get(id(exc.plugin)) or pm.get_name(exc.plugin) or repr(exc.plugin)
        raise error(f"{what} {name!r} does not fit the {contract}: {exc}") from exc
    except ValueError as exc:
        raise error(str(exc)) from exc


def _preload_entrypoints(pm: pluggy.PluginManager, group: str, error: type[Exception], what: str) -> dict[int, str]:
    # pluggy stops at the first failing entry point without naming it; load each first so the error
    # says which plugin is broken.
    names: dict[int, str] = {}
    for entry in importlib.metadata.entry_points(group=group):
        if pm.is_blocked(entry.name) or pm.get_plugin(entry.name) is not None:
            continue
        try:
            names[id(entry.load())] = entry.name
        except Exception as exc:
            raise error(f"{what} {entry.name!r} ({entry.value}) failed to load: {exc!r}") from exc
    return names


def call_impl(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one hook implementation; implementations may take fewer arguments than the spec (pluggy's rule)."""
    return impl.function(*[kwargs[name] for name in impl.argnames])
