"""The rule plugin contract: entry-point registration, a lender's package, clashes and bad rules fail at startup."""

from __future__ import annotations

import sys
import textwrap
from types import SimpleNamespace

import pytest

from portal.compliance.hookspecs import hookimpl
from portal.compliance.rules import PROFILES, Finding, History, Rule, RuleConfigError, build_rule_registry
from portal.compliance.rules import builtin as builtin_rules
from portal.compliance.rules.builtin.frequency import DailyConversationCap
from tests.adapters.adapter_golden import fake_distribution
from tests.compliance.builders import cn_case, contact, engine


def test_the_built_in_rules_load_through_the_entry_point_like_any_plugin():
    registry = build_rule_registry()
    assert {item.plugin for item in registry.all()} == {"builtin"}
    assert len(registry.all()) == 18
    assert [r.id for r in registry.for_profile("US")] == sorted(r.id for r in registry.for_profile("US"))


@pytest.mark.parametrize("profile", PROFILES)
def test_the_registry_lists_rules_by_profile(profile):
    registry = build_rule_registry()
    ids = {rule.id for rule in registry.for_profile(profile)}
    only = {
        "CN": {"daily_conversation_cap", "unanswered_attempt_cap", "recording_missing"},
        "US": {"call_frequency_7in7", "call_after_conversation"},
    }
    other = "US" if profile == "CN" else "CN"
    assert only[profile] <= ids and not (only[other] & ids)


def test_a_lender_adds_its_own_rule_as_an_installed_package(tmp_path, monkeypatch):
    package = tmp_path / "lender_rules"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from portal.compliance.hookspecs import hookimpl
            from portal.compliance.rules import Explanation, Finding, Rule


            class NoWeekendCalls(Rule):
                id = "lender_no_weekend_calls"
                severity = "low"
                title = "call on a weekend"

                def evaluate(self, contact, ctx):
                    if contact.channel == "call" and ctx.days.local(contact.contacted_at).weekday() >= 5:
                        return Finding(Explanation("call on a weekend"))
                    return None


            @hookimpl
            def rule_definitions():
                return [NoWeekendCalls()]
            """
        ),
        encoding="utf-8",
    )
    fake_distribution(tmp_path, "lender-rules", {"lender": "lender_rules"}, "portal.rules")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry = build_rule_registry()
        assert {item.plugin for item in registry.all() if item.id == "lender_no_weekend_calls"} == {"lender"}
        saturday = contact("2026-11-28 10:00")
        verdicts = engine_from(registry).evaluate(saturday, cn_case(), History([saturday]))
        assert [v.rule for v in verdicts] == ["lender_no_weekend_calls"]
        assert "lender_no_weekend_calls" not in build_rule_registry(blocked=["lender"])
    finally:
        sys.modules.pop("lender_rules", None)


def engine_from(registry):
    from portal.compliance.rules import RuleEngine

    return RuleEngine(registry.for_profile("CN"))


def test_duplicate_rule_ids_fail_at_startup_naming_both_plugins():
    clash = SimpleNamespace(rule_definitions=hookimpl(lambda: [DailyConversationCap()]))
    with pytest.raises(
        RuleConfigError, match="'daily_conversation_cap' is declared by both plugin 'builtin' and plugin 'clash'"
    ):
        build_rule_registry(load_entrypoints=False, plugins=[("builtin", builtin_rules), ("clash", clash)])


class _Bad(Rule):
    id = "bad_rule"

    def evaluate(self, contact, ctx):
        return Finding


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"id": "Bad-Id"}, "must match"),
        ({"profiles": ("EU",)}, "profiles"),
        ({"severity": "critical"}, "severity"),
    ],
)
def test_a_rule_that_does_not_fit_the_contract_fails_at_startup(attributes, message):
    rule = type("Broken", (_Bad,), attributes)()
    plugin = SimpleNamespace(rule_definitions=hookimpl(lambda: [rule]))
    with pytest.raises(RuleConfigError, match=message):
        build_rule_registry(load_entrypoints=False, plugins=[("broken", plugin)])


def test_an_unknown_hook_and_a_missing_word_list_directory_fail_at_startup(tmp_path):
    typo = SimpleNamespace(rule_definition=hookimpl(lambda: []))
    with pytest.raises(RuleConfigError, match="'typo' does not fit the rule contract"):
        build_rule_registry(load_entrypoints=False, plugins=[("typo", typo)])
    with pytest.raises(RuleConfigError, match="word-list directories not found"):
        build_rule_registry(load_entrypoints=False, wordlist_dirs=[tmp_path / "nope"])


def test_a_plugin_offers_word_lists(tmp_path):
    (tmp_path / "threats.extra.txt").write_text("让你破产\n", encoding="utf-8")
    lists = SimpleNamespace(rule_wordlist_dirs=hookimpl(lambda: [tmp_path]))
    registry = build_rule_registry(load_entrypoints=False, plugins=[("builtin", builtin_rules), ("lists", lists)])
    assert registry.wordlist_dirs == (str(tmp_path),)


@pytest.mark.parametrize("rule_id", ["placement_inactive", "waiver_over_limit"])
def test_ids_raised_elsewhere_are_registered_but_never_judge_a_contact(rule_id):
    rule_engine = engine("CN")
    assert rule_id in {rule.id for rule in rule_engine.rules}
    assert not rule_engine.params_for(next(r for r in rule_engine.rules if r.id == rule_id))
    night = contact("2026-11-25 23:00")
    assert rule_id not in {v.rule for v in rule_engine.evaluate(night, cn_case(), History([night]))}
