"""The counting rules: daily and unanswered caps (CN), 7-in-7 and after a conversation (US)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compliance.builders import (
    DEBTOR_PHONE,
    NEW_YORK,
    SPOUSE_PHONE,
    US_DEBTOR_PHONE,
    US_SPOUSE_PHONE,
    at,
    contact,
    engine,
    flagged,
    us_case,
    verdict,
)

CN = engine("CN")
US = engine("US")


# --- daily_conversation_cap and unanswered_attempt_cap: the last allowed and the first refused ---------

CAPS = [
    # rule, outcome, cap
    ("daily_conversation_cap", "promise_to_pay", 3),
    ("unanswered_attempt_cap", "no_answer", 6),
    ("unanswered_attempt_cap", "busy", 6),
]


@pytest.mark.parametrize(("rule", "outcome", "cap"), CAPS)
def test_a_finding_on_each_contact_beyond_the_daily_cap_and_none_before(rule, outcome, cap):
    day = [contact(at("2026-11-25 09:00") + timedelta(minutes=10 * i), outcome=outcome) for i in range(cap + 2)]
    assert flagged(CN, day, rule) == [c.key for c in day[cap:]]


@pytest.mark.parametrize(("rule", "outcome", "cap"), CAPS)
def test_the_day_is_the_debtors_local_day(rule, outcome, cap):
    # Asia/Shanghai: 23:30 on the 25th and 00:30 on the 26th are two days, though one UTC date.
    before = [contact(at("2026-11-25 21:00") + timedelta(minutes=i), outcome=outcome) for i in range(cap)]
    after_midnight = contact("2026-11-26 08:30", outcome=outcome)
    assert flagged(CN, [*before, after_midnight], rule) == []
    same_day = contact("2026-11-25 21:59", outcome=outcome)
    assert flagged(CN, [*before, same_day], rule) == [same_day.key]


def test_an_offset_timestamp_counts_on_the_debtors_day_not_the_agencys():
    # 2026-11-25T17:30-05:00 is 06:30 on the 26th in Shanghai: not the 25th's fourth conversation.
    talks = [contact(f"2026-11-25 1{i}:00", outcome="refused") for i in range(3)]
    offset = contact(at("2026-11-25 17:30", NEW_YORK), outcome="refused")
    assert flagged(CN, [*talks, offset], "daily_conversation_cap") == []


def test_conversations_with_others_than_the_debtor_do_not_count():
    talks = [contact(f"2026-11-25 1{i}:00", outcome="refused") for i in range(3)]
    spouse = contact("2026-11-25 15:00", outcome="refused", party="spouse", phone=SPOUSE_PHONE)
    assert flagged(CN, [*talks, spouse], "daily_conversation_cap") == []


def test_unanswered_attempts_count_per_number():
    debtor = [contact(f"2026-11-25 1{i}:00") for i in range(6)]
    other = contact("2026-11-25 17:00", phone=SPOUSE_PHONE, party="spouse")
    assert flagged(CN, [*debtor, other], "unanswered_attempt_cap") == []


def test_the_message_gives_the_numbers_that_decided_it():
    calls = [contact(f"2026-11-25 1{i}:00") for i in range(7)]
    found = verdict(CN, calls, "unanswered_attempt_cap")
    assert found is not None
    assert found.message.render() == "unanswered attempt no. 7 to 138****8007 on 2026-11-25; the limit is 6 a day"
    assert found.parameters == {"cap": 6} and found.version == "1" and found.severity == "medium"
    assert set(found.evidence) == {c.key for c in calls[:6]}
    # Every fact is the agency's own: it reads the same text.
    assert found.agency_message == found.message


@settings(max_examples=60, deadline=None)
@given(
    outcomes=st.lists(st.sampled_from(["no_answer", "busy", "refused", "promise_to_pay", "left_message"]), max_size=14),
    minutes=st.lists(st.integers(0, 13 * 60), min_size=14, max_size=14, unique=True),
    agencies=st.lists(st.sampled_from(["ZC", "HX"]), min_size=14, max_size=14),
    order=st.randoms(use_true_random=False),
)
def test_cap_findings_fall_on_each_contact_beyond_the_cap_whatever_the_order(outcomes, minutes, agencies, order):
    day = at("2026-11-25 08:00")
    contacts = [
        contact(day + timedelta(minutes=m), outcome=o, agency_id=a)
        for o, m, a in zip(outcomes, minutes, agencies, strict=False)
    ]
    shuffled = list(contacts)
    order.shuffle(shuffled)
    in_time = sorted(contacts, key=lambda c: c.contacted_at)
    conversations = [c.key for c in in_time if c.is_conversation]
    unanswered = [c.key for c in in_time if c.is_unanswered_attempt]
    assert sorted(flagged(CN, shuffled, "daily_conversation_cap")) == sorted(conversations[3:])
    assert sorted(flagged(CN, shuffled, "unanswered_attempt_cap")) == sorted(unanswered[6:])


@settings(max_examples=40, deadline=None)
@given(split=st.integers(0, 8), seed=st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_how_the_rows_are_split_between_uploads(split, seed):
    calls = [
        contact(at("2026-11-25 09:00") + timedelta(minutes=5 * i), upload_id=1 if i < split else 2) for i in range(8)
    ]
    seed.shuffle(calls)
    assert len(flagged(CN, calls, "unanswered_attempt_cap")) == 2


# --- another agency's activity never reaches the agency's text -----------------------------------------


def test_the_agency_text_does_not_count_or_date_another_agencys_contacts():
    other = [contact(f"2026-11-25 {8 + i:02d}:1{i}", outcome="refused", agency_id="HX") for i in range(3)]
    mine = contact("2026-11-25 15:00", outcome="refused", agency_id="ZC")
    found = verdict(CN, [*other, mine], "daily_conversation_cap")
    assert found is not None
    assert found.message.render() == "conversation no. 4 with the debtor on 2026-11-25; the limit is 3 a day"
    text = found.agency_message.render()
    assert text == "the debtor's conversation limit for 2026-11-25 was already reached (3 a day)"
    assert "4" not in text and "HX" not in text and "08:10" not in text


@settings(max_examples=40, deadline=None)
@given(
    rule_outcome=st.sampled_from(
        [("daily_conversation_cap", "refused", 3), ("unanswered_attempt_cap", "no_answer", 6)]
    ),
    extra=st.integers(0, 5),
    minutes=st.lists(st.integers(0, 6 * 60), min_size=12, max_size=12),
)
def test_the_agency_text_is_the_same_however_many_contacts_other_agencies_made(rule_outcome, extra, minutes):
    rule, outcome, cap = rule_outcome
    others = [
        contact(at("2026-11-25 08:00") + timedelta(minutes=m), outcome=outcome, agency_id="HX")
        for m in minutes[: cap + extra]
    ]
    mine = contact("2026-11-25 20:00", outcome=outcome, agency_id="ZC")
    found = verdict(CN, [*others, mine], rule)
    assert found is not None
    baseline = verdict(CN, [*others[:cap], contact("2026-11-25 20:00", outcome=outcome)], rule)
    assert found.agency_message == baseline.agency_message
    assert set(found.agency_message.params) <= {"day", "limit", "phone"}
    assert found.message.params["count"] == cap + extra + 1


# --- call_frequency_7in7 (US) -------------------------------------------------------------------------


def us_call(when: str, **fields: object):
    values = {"phone": US_DEBTOR_PHONE, "zone": NEW_YORK, "outcome": "no_answer"}
    values.update(fields)
    return contact(when, **values)


def test_7in7_a_finding_on_each_call_beyond_seven_in_seven_days():
    calls = [us_call(f"2026-11-{10 + i} 10:00") for i in range(7)] + [
        us_call("2026-11-16 12:00"),
        us_call("2026-11-16 13:00"),
    ]
    assert flagged(US, calls, "call_frequency_7in7", us_case()) == [calls[7].key, calls[8].key]
    found = verdict(US, calls[:8], "call_frequency_7in7", us_case())
    assert found.message.render() == "call no. 8 about the case in the 7 days 2026-11-10 to 2026-11-16; the limit is 7"


def test_7in7_the_window_is_seven_local_days_so_the_eighth_day_is_clear():
    calls = [us_call(f"2026-11-{10 + i} 10:00") for i in range(7)] + [us_call("2026-11-17 09:00")]
    assert flagged(US, calls, "call_frequency_7in7", us_case()) == []


def test_7in7_busy_calls_do_not_count():
    calls = [us_call(f"2026-11-{10 + i} 10:00", outcome="busy" if i == 3 else "no_answer") for i in range(7)]
    calls.append(us_call("2026-11-16 12:00"))
    assert flagged(US, calls, "call_frequency_7in7", us_case()) == []


def test_7in7_counts_per_case_across_agencies_without_telling_the_agency():
    calls = [us_call(f"2026-11-{10 + i} 10:00", agency_id="HX") for i in range(7)] + [us_call("2026-11-16 12:00")]
    found = verdict(US, calls, "call_frequency_7in7", us_case())
    assert (
        found.agency_message.render()
        == "the limit of 7 calls about the case in 7 days was already reached on 2026-11-16"
    )
    other_case = [*calls[:7], us_call("2026-11-16 12:00", case_id=2)]
    assert flagged(US, other_case, "call_frequency_7in7", us_case()) == []


def test_7in7_across_the_us_daylight_saving_change():
    # 2026-11-01: New York falls back. 00:30 local on the 8th is still outside a window starting the 1st.
    calls = [us_call(f"2026-11-0{1 + i} 23:30") for i in range(7)] + [us_call("2026-11-08 00:30")]
    assert flagged(US, calls, "call_frequency_7in7", us_case()) == []
    calls[-1] = us_call("2026-11-07 23:59")
    assert flagged(US, calls, "call_frequency_7in7", us_case()) == [calls[-1].key]


# --- call_after_conversation (US) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "raised"),
    [
        ("2026-11-20 18:00", True),  # same day: day 1
        ("2026-11-26 20:59", True),  # day 7
        ("2026-11-27 08:00", False),  # day 8
    ],
)
def test_call_after_conversation_the_conversations_day_is_day_one(when, raised):
    talk = us_call("2026-11-20 10:00", outcome="promise_to_pay")
    call = us_call(when)
    assert (flagged(US, [talk, call], "call_after_conversation", us_case()) == [call.key]) is raised


def test_call_after_conversation_the_spouse_counts_as_the_debtor_and_other_cases_do_not():
    talk = us_call("2026-11-20 10:00", outcome="refused", party="spouse", phone=US_SPOUSE_PHONE)
    call = us_call("2026-11-22 10:00")
    found = verdict(US, [talk, call], "call_after_conversation", us_case())
    assert found.message.render() == (
        "call on 2026-11-22, day 3 after a telephone conversation with the debtor on 2026-11-20; "
        "no calls for 7 days (the conversation's day is day 1)"
    )
    assert flagged(US, [talk, us_call("2026-11-22 10:00", case_id=2)], "call_after_conversation", us_case()) == []


def test_call_after_conversation_an_sms_conversation_is_no_telephone_conversation():
    text = us_call("2026-11-20 10:00", channel="sms", outcome="refused")
    assert flagged(US, [text, us_call("2026-11-21 10:00")], "call_after_conversation", us_case()) == []


def test_call_after_another_agencys_conversation_hides_its_date():
    talk = us_call("2026-11-20 10:00", outcome="callback", agency_id="HX")
    found = verdict(US, [talk, us_call("2026-11-23 10:00")], "call_after_conversation", us_case())
    assert "2026-11-20" in found.message.render()
    assert "2026-11-20" not in found.agency_message.render() and "day 4" not in found.agency_message.render()


def test_cn_rules_do_not_run_under_us_and_us_rules_not_under_cn():
    calls = [contact(f"2026-11-25 1{i}:00", phone=DEBTOR_PHONE) for i in range(8)]
    assert flagged(US, calls, "unanswered_attempt_cap") == []
    assert flagged(CN, calls, "call_frequency_7in7") == []
