"""Rule parameters: defaults per profile, the lender's configuration, an agency's contract (stricter only)."""

from __future__ import annotations

import re

import pytest

from portal.compliance.rules import AgencyContract, RuleParameterError
from tests.compliance.builders import REGISTRY, engine

DEFAULTS = [
    ("CN", "contact_hours", {"window": "08:00-22:00"}),
    ("US", "contact_hours", {"window": "08:00-21:00"}),
    ("CN", "daily_conversation_cap", {"cap": 3}),
    ("CN", "unanswered_attempt_cap", {"cap": 6}),
    ("US", "call_frequency_7in7", {"limit": 7, "days": 7}),
    ("US", "call_after_conversation", {"days": 7, "debtor_parties": ["debtor", "spouse"]}),
    ("CN", "third_party_contact", {"debtor_parties": ["debtor"], "unanswered_first": 3}),
    ("US", "third_party_contact", {"debtor_parties": ["debtor", "spouse"], "unanswered_first": 0}),
    ("CN", "attempt_interval", {"minutes": None}),
]


@pytest.mark.parametrize(("profile", "rule", "expected"), DEFAULTS)
def test_defaults_per_profile(profile, rule, expected):
    rule_engine = engine(profile)
    assert rule_engine.params_for(REGISTRY.get(rule)).as_json() == expected


def test_configuration_overrides_and_accepts_text_values():
    rule_engine = engine("CN", parameters={"unanswered_attempt_cap": {"cap": "4"}, "attempt_interval": {"minutes": 15}})
    assert rule_engine.params_for(REGISTRY.get("unanswered_attempt_cap")).cap == 4
    assert rule_engine.params_for(REGISTRY.get("attempt_interval")).minutes == 15


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"contact_hour": {"window": "09:00-20:00"}}, "no rule contact_hour runs under the CN profile"),
        ({"call_frequency_7in7": {"limit": 5}}, "no rule call_frequency_7in7 runs under the CN profile"),
        (
            {"daily_conversation_cap": {"limit": 2}},
            "rule daily_conversation_cap has no parameter limit (it has: cap)",
        ),
        (
            {"daily_conversation_cap": {"cap": "three"}},
            "parameter cap of rule daily_conversation_cap must be a whole number of at least 0, not 'three'",
        ),
        (
            {"contact_hours": {"window": "22:00-08:00"}},
            "parameter window of rule contact_hours must be a window such as 08:00-22:00, not '22:00-08:00'",
        ),
        ({"daily_conversation_cap": {"cap": True}}, "must be a whole number"),
    ],
)
def test_a_bad_configuration_fails_at_once_with_a_clear_error(parameters, message):
    with pytest.raises(RuleParameterError, match=re.escape(message)) as caught:
        engine("CN", parameters=parameters)
    assert caught.value.template and caught.value.params


def test_an_agencys_contract_may_tighten_but_not_loosen():
    rule_engine = engine("CN")
    stricter = AgencyContract(
        "ZC", overrides={"contact_hours": {"window": "09:00-20:00"}, "unanswered_attempt_cap": {"cap": 4}}
    )
    rule_engine.validate_contract(stricter)
    assert rule_engine.params_for(REGISTRY.get("unanswered_attempt_cap"), stricter).cap == 4
    assert rule_engine.params_for(REGISTRY.get("unanswered_attempt_cap")).cap == 6
    for looser in ({"contact_hours": {"window": "07:00-22:00"}}, {"unanswered_attempt_cap": {"cap": 8}}):
        with pytest.raises(RuleParameterError, match=r"may only make rule .* stricter"):
            rule_engine.validate_contract(AgencyContract("ZC", overrides=looser))
    with pytest.raises(RuleParameterError, match="no rule nope"):
        rule_engine.validate_contract(AgencyContract("ZC", overrides={"nope": {}}))
