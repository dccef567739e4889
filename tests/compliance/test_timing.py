"""When a contact may be made: contact_hours, restricted_period, attempt_interval."""

from __future__ import annotations

from datetime import date

import pytest

from portal.compliance.rules import AgencyContract, RestrictedPeriod
from tests.compliance.builders import (
    NEW_YORK,
    US_DEBTOR_PHONE,
    at,
    cn_case,
    contact,
    engine,
    flagged,
    us_case,
    verdict,
)

CN = engine("CN")
US = engine("US")


@pytest.mark.parametrize(
    ("profile", "local", "raised"),
    [
        ("CN", "2026-11-25 07:59:59", True),
        ("CN", "2026-11-25 08:00:00", False),
        ("CN", "2026-11-25 21:59:59", False),
        ("CN", "2026-11-25 22:00:00", True),
        ("US", "2026-11-25 07:59:59", True),
        ("US", "2026-11-25 08:00:00", False),
        ("US", "2026-11-25 20:59:59", False),
        ("US", "2026-11-25 21:00:00", True),
    ],
)
def test_contact_hours_just_inside_and_just_outside_the_window(profile, local, raised):
    if profile == "CN":
        call, case = contact(local), cn_case()
    else:
        call, case = contact(local, zone=NEW_YORK, phone=US_DEBTOR_PHONE), us_case()
    assert bool(flagged(engine(profile), [call], "contact_hours", case)) is raised


@pytest.mark.parametrize(
    ("channel", "raised"),
    [("call", True), ("sms", True), ("visit", True), ("im", True), ("letter", False), ("email", False)],
)
def test_contact_hours_apply_to_call_sms_visit_and_im(channel, raised):
    assert bool(flagged(CN, [contact("2026-11-25 23:00", channel=channel)], "contact_hours")) is raised


def test_contact_hours_use_the_debtors_timezone_else_the_lenders():
    # 21:30 in Shanghai is 08:30 in New York: fine for a New York debtor; for a debtor whose zone
    # is unknown, the lender's (Asia/Shanghai) decides, and 21:30 is after the US window.
    call = contact(at("2026-11-25 21:30"), phone=US_DEBTOR_PHONE)
    assert flagged(US, [call], "contact_hours", us_case()) == []
    assert flagged(US, [call], "contact_hours", us_case(timezone=None)) == [call.key]
    assert flagged(engine("US", lender_timezone=NEW_YORK), [call], "contact_hours", us_case(timezone=None)) == []


def test_contact_hours_message_and_a_stricter_window_for_one_agency():
    late = contact("2026-11-25 21:15")
    assert flagged(CN, [late], "contact_hours") == []
    stricter = cn_case(contract=AgencyContract("ZC", overrides={"contact_hours": {"window": "09:00-21:00"}}))
    found = verdict(CN, [late], "contact_hours", stricter)
    assert found.message.render() == (
        "contact at 21:15 on 2026-11-25 (Asia/Shanghai, the debtor's local time), outside the allowed hours 09:00-21:00"
    )
    assert found.parameters == {"window": "09:00-21:00"}


def test_contact_hours_on_the_us_daylight_saving_days():
    # 2026-03-08 New York springs forward, 2026-11-01 falls back: local wall time decides.
    for day in ("2026-03-08", "2026-11-01"):
        assert (
            flagged(US, [contact(f"{day} 08:00", zone=NEW_YORK, phone=US_DEBTOR_PHONE)], "contact_hours", us_case())
            == []
        )
        early = contact(f"{day} 07:30", zone=NEW_YORK, phone=US_DEBTOR_PHONE)
        assert flagged(US, [early], "contact_hours", us_case()) == [early.key]


CALENDAR = (
    RestrictedPeriod("Typhoon relief", date(2026, 11, 20), date(2026, 11, 22), regions=("Zhejiang",)),
    RestrictedPeriod("Spring Festival", date(2027, 2, 5), date(2027, 2, 11)),
)


@pytest.mark.parametrize(
    ("when", "region", "channel", "raised"),
    [
        ("2026-11-19 21:00", "Zhejiang", "call", False),
        ("2026-11-20 00:00", "Zhejiang", "call", True),
        ("2026-11-22 21:59", "Zhejiang", "visit", True),
        ("2026-11-23 08:00", "Zhejiang", "call", False),
        ("2026-11-21 10:00", "zhejiang", "sms", True),
        ("2026-11-21 10:00", "Jiangsu", "call", False),
        ("2026-11-21 10:00", "Zhejiang", "letter", False),
        ("2027-02-08 10:00", "Jiangsu", "call", True),
        ("2027-02-08 10:00", None, "call", True),
    ],
)
def test_restricted_period_by_local_date_nationwide_or_by_province(when, region, channel, raised):
    rule_engine = engine("CN", calendar=CALENDAR)
    call = contact(when, channel=channel)
    assert bool(flagged(rule_engine, [call], "restricted_period", cn_case(region=region))) is raised


def test_restricted_period_message_names_the_period():
    found = verdict(engine("CN", calendar=CALENDAR), [contact("2026-11-21 10:00")], "restricted_period")
    assert found.message.render() == (
        "contact on 2026-11-21 during the restricted period Typhoon relief (2026-11-20 to 2026-11-22); "
        "only letters are allowed"
    )


def test_attempt_interval_is_off_unless_configured():
    calls = [contact("2026-11-25 10:00"), contact("2026-11-25 10:01")]
    assert flagged(CN, calls, "attempt_interval") == []


@pytest.mark.parametrize(("minutes", "raised"), [(29, True), (30, False), (31, False)])
def test_attempt_interval_the_previous_attempt_to_the_number(minutes, raised):
    rule_engine = engine("CN", parameters={"attempt_interval": {"minutes": 30}})
    first = contact("2026-11-25 10:00", channel="sms", outcome="other")
    second = contact(at("2026-11-25 10:00").replace(minute=minutes))
    assert (flagged(rule_engine, [second, first], "attempt_interval") == [second.key]) is raised


def test_attempt_interval_after_another_agencys_attempt_hides_its_time():
    rule_engine = engine("CN", parameters={"attempt_interval": {"minutes": 30}})
    calls = [contact("2026-11-25 10:05", agency_id="HX"), contact("2026-11-25 10:17")]
    found = verdict(rule_engine, calls, "attempt_interval")
    assert found.message.render() == (
        "attempt to 138****8007 12 minutes after the previous one (at 2026-11-25 10:05); "
        "the minimum interval is 30 minutes"
    )
    assert (
        found.agency_message.render()
        == "the minimum interval of 30 minutes between attempts to 138****8007 was not kept"
    )
