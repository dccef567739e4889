"""The rule registry: one pluggy manager per app, every installed rule by id, validated at startup."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import pluggy

from portal.compliance import hookspecs
from portal.compliance.rules.facts import PROFILES
from portal.compliance.rules.rule import Rule, RuleSettings, check_rule
from portal.plugins.loading import call_impl, register_plugins


class RuleConfigError(Exception):
    """The installed rules cannot work together (a broken plugin, a duplicate id, a bad declaration)."""


@dataclass(frozen=True, slots=True)
class RegisteredRule:
    """A rule with the plugin (entry-point name) that declared it."""

    rule: Rule
    plugin: str

    @property
    def id(self) -> str:
        return self.rule.id


class RuleRegistry:
    """Every installed rule, by id, and the word-list directories plugins offer."""

    def __init__(self, pm: pluggy.PluginManager, settings: RuleSettings) -> None:
        self.pm = pm
        self.settings = settings
        self._rules: dict[str, RegisteredRule] = {}
        for impl in pm.hook.rule_definitions.get_hookimpls():
            try:
                declared = call_impl(impl, settings=settings) or []
            except Exception as exc:
                raise RuleConfigError(f"rule plugin {impl.plugin_name!r} failed to declare its rules: {exc!r}") from exc
            for rule in declared:
                problem = check_rule(rule, impl.plugin_name)
                if problem:
                    raise RuleConfigError(f"rule plugin {impl.plugin_name!r}: {problem}")
                if rule.id in self._rules:
                    other = self._rules[rule.id].plugin
                    raise RuleConfigError(
                        f"rule id {rule.id!r} is declared by both plugin {other!r} and plugin {impl.plugin_name!r}; "
                        "block one of them"
                    )
                self._rules[rule.id] = RegisteredRule(rule, impl.plugin_name)
        dirs: list[str] = []
        for impl in pm.hook.rule_wordlist_dirs.get_hookimpls():  # registration order
            try:
                dirs.extend(str(path) for path in call_impl(impl, settings=settings) or [])
            except Exception as exc:
                raise RuleConfigError(
                    f"rule plugin {impl.plugin_name!r} failed to name its word lists: {exc!r}"
                ) from exc
        dirs.extend(settings.wordlist_dirs)
        missing = [path for path in dirs if not Path(path).is_dir()]
        if missing:
            raise RuleConfigError(f"word-list directories not found: {', '.join(missing)}")
        self.wordlist_dirs: tuple[str, ...] = tuple(dirs)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self):
        return iter(self.all())

    def all(self) -> list[RegisteredRule]:
        """Every registered rule, sorted by id."""
        return sorted(self._rules.values(), key=lambda item: item.id)

    def get(self, rule_id: str) -> Rule:
        try:
            return self._rules[rule_id].rule
        except KeyError:
            raise KeyError(f"no installed rule {rule_id!r}") from None

    def for_profile(self, profile: str) -> list[Rule]:
        """The rules that run under ``profile``, sorted by id (the ones raised elsewhere included)."""
        if profile not in PROFILES:
            raise RuleConfigError(f"unknown rule profile {profile!r}; use one of {', '.join(PROFILES)}")
        return [item.rule for item in self.all() if profile in item.rule.profiles]


def build_rule_registry(
    *,
    profile: str = "CN",
    blocked: Iterable[str] = (),
    load_entrypoints: bool = True,
    plugins: Iterable[tuple[str, object]] = (),
    wordlist_dirs: Iterable[str | PathLike[str]] = (),
) -> RuleRegistry:
    """A validated registry with every installed rule plugin registered.

    ``blocked``: plugin (entry-point) names to leave out, as an admin switch (``builtin`` is the
    portal's own). ``load_entrypoints``: load the ``portal.rules`` group; tests turn it off and
    pass ``plugins`` ((name, module or object) pairs) instead. ``wordlist_dirs``: the lender's
    extra word-list directories. Raises RuleConfigError when a plugin fails to load, implements
    an unknown hook, or declares a bad or duplicate rule.
    """
    if profile not in PROFILES:
        raise RuleConfigError(f"unknown rule profile {profile!r}; use one of {', '.join(PROFILES)}")
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    register_plugins(
        pm,
        group=hookspecs.ENTRY_POINT_GROUP,
        plugins=plugins,
        blocked=blocked,
        load_entrypoints=load_entrypoints,
        error=RuleConfigError,
        what="rule plugin",
        contract="rule contract",
    )
    return RuleRegistry(pm, RuleSettings(profile=profile, wordlist_dirs=tuple(str(d) for d in wordlist_dirs)))
