"""The pre-contact check (contract 4.5): either outcome, the rules left out, next_allowed_at from boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.compliance.rules import FlagSpell, History, ProposedContact, RestrictedPeriod
from tests.compliance.builders import (
    DEBTOR_PHONE,
    NEW_YORK,
    US_DEBTOR_PHONE,
    at,
    cn_case,
    contact,
    engine,
    us_case,
)

CN = engine("CN")
US = engine("US")


def propose(when: datetime, **fields: object) -> ProposedContact:
    values: dict[str, object] = {
        "case_id": 1,
        "customer_id": 1,
        "agency_id": "ZC",
        "channel": "call",
        "party": "debtor",
        "phone": DEBTOR_PHONE,
    }
    values.update(fields)
    return ProposedContact(at=when, **values)  # type: ignore[arg-type]


def check(rule_engine, when, history=(), case=None, **fields):
    return rule_engine.check(propose(when, **fields), case or cn_case(), History(history))


def rules(result) -> set[str]:
    return {v.rule for v in result.verdicts}


def test_allowed_now_has_no_next_allowed_at():
    result = check(CN, at("2026-11-25 10:00"))
    assert (result.allowed, result.verdicts, result.next_allowed_at) == (True, (), None)


def test_outside_hours_waits_for_the_window_to_open():
    result = check(CN, at("2026-11-25 22:30"))
    assert not result.allowed and rules(result) == {"contact_hours"}
    assert result.next_allowed_at == at("2026-11-26 08:00").astimezone(UTC)
    assert check(CN, at("2026-11-26 06:00")).next_allowed_at == at("2026-11-26 08:00")


def test_a_call_is_judged_as_if_it_could_be_a_conversation():
    talks = [contact(f"2026-11-25 1{i}:00", outcome="promise_to_pay") for i in range(3)]
    result = check(CN, at("2026-11-25 15:00"), talks)
    assert rules(result) == {"daily_conversation_cap"}
    # Midnight ends the day, then the hours rule waits for 08:00.
    assert result.next_allowed_at == at("2026-11-26 08:00")


def test_a_call_is_judged_as_if_it_could_go_unanswered():
    calls = [contact(at("2026-11-25 09:00") + timedelta(minutes=i)) for i in range(6)]
    result = check(CN, at("2026-11-25 12:00"), calls)
    assert rules(result) == {"unanswered_attempt_cap"}
    assert result.next_allowed_at == at("2026-11-26 08:00")


def test_record_rules_are_left_out():
    # A proposed call that may become a conversation has no recording reference yet: under CN,
    # recording_missing would find it if the check judged records.
    assert check(CN, at("2026-11-25 10:00")).allowed


@pytest.mark.parametrize(
    ("case_fields", "proposal", "rule"),
    [
        ({"flags": (FlagSpell("cease"),)}, {}, "cease_communication"),
        ({"flags": (FlagSpell("dispute"),)}, {}, "dispute_open"),
        ({"flags": (FlagSpell("deceased"),)}, {}, "deceased_or_bankrupt"),
        ({}, {"phone": "13600136000"}, "unlisted_number"),
    ],
)
def test_waiting_does_not_help(case_fields, proposal, rule):
    # Even at night: the hours rule would lift by morning, this one would not.
    result = check(CN, at("2026-11-25 23:00"), case=cn_case(**case_fields), **proposal)
    assert rule in rules(result) and not result.allowed and result.next_allowed_at is None


def test_a_restricted_period_waits_for_its_end_and_a_long_one_beyond_the_horizon_gives_none():
    short = engine("CN", calendar=(RestrictedPeriod("typhoon", date(2026, 11, 24), date(2026, 11, 27)),))
    assert check(short, at("2026-11-25 10:00")).next_allowed_at == at("2026-11-28 08:00")
    long = engine("CN", calendar=(RestrictedPeriod("long", date(2026, 11, 1), date(2027, 3, 1)),))
    result = check(long, at("2026-11-25 10:00"))
    assert not result.allowed and result.next_allowed_at is None


def test_attempt_interval_waits_for_the_interval():
    spaced = engine("CN", parameters={"attempt_interval": {"minutes": 45}})
    result = check(spaced, at("2026-11-25 10:30"), [contact("2026-11-25 10:00")])
    assert result.next_allowed_at == at("2026-11-25 10:45")
    late = check(spaced, at("2026-11-25 21:30"), [contact("2026-11-25 21:20")])
    assert late.next_allowed_at == at("2026-11-26 08:00")


def us_call(when: str, **fields: object):
    values = {"phone": US_DEBTOR_PHONE, "zone": NEW_YORK, "outcome": "no_answer"}
    values.update(fields)
    return contact(when, **values)


def test_us_7in7_waits_until_the_oldest_call_leaves_the_window():
    calls = [us_call(f"2026-11-{10 + i} 10:00") for i in range(7)]
    result = check(US, at("2026-11-16 12:00", NEW_YORK), calls, us_case(), phone=US_DEBTOR_PHONE)
    assert rules(result) == {"call_frequency_7in7"}
    assert result.next_allowed_at == at("2026-11-17 08:00", NEW_YORK)


@pytest.mark.parametrize(
    ("conversation", "proposed", "expected"),
    [
        ("2026-11-20 10:00", "2026-11-22 10:00", "2026-11-27 08:00"),
        # Across the fall-back change (2026-11-01) and the spring-forward one (2026-03-08): local 08:00.
        ("2026-10-28 10:00", "2026-10-30 10:00", "2026-11-04 08:00"),
        ("2026-03-05 10:00", "2026-03-06 10:00", "2026-03-12 08:00"),
    ],
)
def test_us_call_after_a_conversation_waits_seven_local_days(conversation, proposed, expected):
    talk = us_call(conversation, outcome="promise_to_pay", agency_id="HX")
    result = check(US, at(proposed, NEW_YORK), [talk], us_case(), phone=US_DEBTOR_PHONE)
    assert rules(result) == {"call_after_conversation"}
    assert result.next_allowed_at == at(expected, NEW_YORK)
    assert conversation[:10] not in result.verdicts[0].agency_message.render()


def test_the_check_counts_every_agency_without_telling():
    talks = [contact(f"2026-11-25 1{i}:00", outcome="refused", agency_id="HX") for i in range(3)]
    result = check(CN, at("2026-11-25 15:00"), talks)
    text = result.verdicts[0].agency_message.render()
    assert text == "the debtor's conversation limit for 2026-11-25 was already reached (3 a day)"


def test_a_contact_already_made_later_is_counted_when_checking_at_that_later_time():
    # Stored contacts after `at` do not count for `at`, but do once the search moves past them.
    evening = [contact(f"2026-11-25 {19 + i}:00", outcome="refused") for i in range(3)]
    assert check(CN, at("2026-11-25 10:00"), evening).allowed
    assert not check(CN, at("2026-11-25 21:30"), evening).allowed


def _blocked_by_timing(rule_engine, proposal, history, case, moment) -> bool:
    moved = ProposedContact(**{**{f: getattr(proposal, f) for f in proposal.__dataclass_fields__}, "at": moment})
    return not rule_engine.check(moved, case, history).allowed


@settings(max_examples=25, deadline=None)
@given(
    profile=st.sampled_from(["CN", "US"]),
    offsets=st.lists(st.integers(0, 3 * 24 * 60), min_size=3, max_size=40),
    outcomes=st.lists(st.sampled_from(["no_answer", "busy", "refused", "promise_to_pay"]), min_size=40, max_size=40),
    start=st.integers(0, 3 * 24 * 60),
)
def test_next_allowed_at_is_clear_and_nothing_before_it_is(profile, offsets, outcomes, start):
    zone = NEW_YORK if profile == "US" else "Asia/Shanghai"
    phone = US_DEBTOR_PHONE if profile == "US" else DEBTOR_PHONE
    case = us_case() if profile == "US" else cn_case()
    rule_engine = engine(profile, parameters={"attempt_interval": {"minutes": 90}})
    base = at("2026-10-30 00:00", zone)
    history = History(
        contact(base + timedelta(minutes=m), outcome=o, phone=phone) for m, o in zip(offsets, outcomes, strict=False)
    )
    proposal = propose(base + timedelta(minutes=start), phone=phone)
    result = rule_engine.check(proposal, case, history)
    if result.allowed or result.next_allowed_at is None:
        return
    assert not _blocked_by_timing(rule_engine, proposal, history, case, result.next_allowed_at)
    # Nothing earlier is clear: probe every 20 minutes and the second before.
    probe = proposal.at
    while probe < result.next_allowed_at:
        assert _blocked_by_timing(rule_engine, proposal, history, case, probe), probe
        probe += timedelta(minutes=20)
    assert _blocked_by_timing(rule_engine, proposal, history, case, result.next_allowed_at - timedelta(seconds=1))
