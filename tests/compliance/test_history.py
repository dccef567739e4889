"""The history view: one order whatever the input order, local days across DST, bisect queries."""

from __future__ import annotations

import random
from datetime import date, timedelta

from portal.compliance.rules import History, LocalDays
from tests.compliance.builders import NEW_YORK, SPOUSE_PHONE, at, contact


def test_the_order_is_time_then_key_whatever_the_input_order():
    same_time = [contact("2026-11-25 10:00", key=k) for k in (3, 1, 2)]
    earlier = contact("2026-11-25 09:00", key=9)
    mixed = [*same_time, earlier]
    for seed in range(5):
        random.Random(seed).shuffle(mixed)
        assert [c.key for c in History(mixed)] == [9, 1, 2, 3]


def test_local_days_are_23_and_25_hours_long_on_daylight_saving_days():
    days = LocalDays(NEW_YORK)
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)
    assert days.start(spring + timedelta(days=1)) - days.start(spring) == timedelta(hours=23)
    assert days.start(fall + timedelta(days=1)) - days.start(fall) == timedelta(hours=25)
    # 01:30 happens twice on the fall-back day: both are on 2026-11-01.
    first = at("2026-11-01 01:30", NEW_YORK)
    assert days.day_of(first) == days.day_of(first + timedelta(hours=1)) == fall


def test_the_queries_the_rules_use():
    calls = [
        contact("2026-11-24 23:59"),
        contact("2026-11-25 00:00", outcome="busy"),
        contact("2026-11-25 10:00", outcome="refused"),
        contact("2026-11-25 11:00", phone=SPOUSE_PHONE, party="spouse"),
        contact("2026-11-25 12:00", channel="sms", outcome="other"),
        contact("2026-11-26 00:00"),
    ]
    history = History(reversed(calls))
    days = LocalDays("Asia/Shanghai")
    day = date(2026, 11, 25)
    assert history.on_day(days.start(day), days.start(day + timedelta(days=1))) == tuple(calls[1:5])
    last = calls[-1]
    unanswered = history.unanswered_attempts_to(calls[0].phone)
    assert unanswered.since(days.start(day), last) == (calls[1],)
    assert history.previous_attempt_to(calls[0].phone, last) is calls[4]
    assert history.last_attempts_to_debtor(frozenset({"debtor"}), last, 2) == (calls[1], calls[2])
    assert history.last_telephone_conversation(1, frozenset({"debtor"}), last) is calls[2]
    assert history.calls_about(1).since(days.start(day), last) == (calls[2], calls[3])
    assert len(history.calls_about(1, counting_busy=True).since(days.start(day), last)) == 3
    assert history.unanswered_attempts_to("13600000000").since(days.start(day), last) == ()


def test_numbers_are_compared_in_their_canonical_form():
    from tests.compliance.builders import cn_case, engine, flagged

    call = contact("2026-11-25 10:00", phone="+86 138-0013-8007")
    case = cn_case(phones={"138 0013 8007": "debtor"})
    assert call.phone == "13800138007" and "13800138007" in case.phones
    assert flagged(engine("CN"), [call], "unlisted_number", case) == []


def test_a_flag_given_by_dates_starts_at_the_debtors_local_midnight():
    from portal.compliance.rules import FlagSpell

    spell = FlagSpell.on_days("dispute", date(2026, 11, 21), None, "Asia/Shanghai")
    assert not spell.holds_at(at("2026-11-20 23:59"))
    assert spell.holds_at(at("2026-11-21 00:00"))
