"""Whom and how (third parties, numbers, channels), and the flag rules (cease, dispute, deceased, vulnerable)."""

from __future__ import annotations

import pytest

from portal.compliance.rules import AgencyContract, FlagSpell
from tests.compliance.builders import (
    COLLEAGUE_PHONE,
    DEBTOR_PHONE,
    SPOUSE_PHONE,
    US_SPOUSE_PHONE,
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


def unanswered(n: int, **fields: object) -> list:
    return [contact(f"2026-11-25 1{i}:00", **fields) for i in range(n)]


def third(**fields: object):
    values = {"party": "colleague", "phone": COLLEAGUE_PHONE, "outcome": "refused"}
    values.update(fields)
    return contact("2026-11-25 18:00", **values)


@pytest.mark.parametrize(
    ("before", "contact_fields", "raised"),
    [
        (3, {}, False),  # after 3 unanswered calls to the debtor, by call to the colleague's listed number
        (3, {"channel": "sms", "outcome": "other"}, False),
        (2, {}, True),  # only two attempts
        (0, {}, True),
        (3, {"channel": "visit", "phone": None}, True),  # not by call or sms
        (3, {"phone": SPOUSE_PHONE}, True),  # the spouse's number, not the colleague's
        (3, {"phone": "13600136000"}, True),  # not listed at all
    ],
)
def test_cn_third_party_only_by_call_or_sms_to_their_listed_number_after_three_unanswered(
    before, contact_fields, raised
):
    contacts = [*unanswered(before), third(**contact_fields)]
    assert (flagged(CN, contacts, "third_party_contact") == [contacts[-1].key]) is raised


def test_cn_third_party_after_an_answered_attempt_among_the_last_three():
    attempts = unanswered(4)
    attempts[2] = contact("2026-11-25 12:00", outcome="promise_to_pay")
    found = verdict(CN, [*attempts, third()], "third_party_contact")
    assert found.message.render() == (
        "contact with a third party (colleague) although 1 of the last 3 call attempts to the debtor were answered"
    )


def test_cn_third_party_attempts_by_another_agency_count_but_are_not_told():
    contacts = [*unanswered(2, agency_id="HX"), third()]
    found = verdict(CN, contacts, "third_party_contact")
    assert "only 2" in found.message.render()
    assert found.agency_message.render() == (
        "contact with a third party (colleague) before the last 3 call attempts to the debtor had all gone unanswered"
    )
    assert flagged(CN, [*unanswered(3, agency_id="HX"), third()], "third_party_contact") == []


def test_us_the_spouse_counts_as_the_debtor_and_no_attempts_are_needed_first():
    spouse = contact("2026-11-25 10:00", party="spouse", phone=US_SPOUSE_PHONE, zone="America/New_York")
    assert flagged(US, [spouse], "third_party_contact", us_case()) == []
    colleague = contact("2026-11-25 10:00", party="colleague", phone="+14155550111", zone="America/New_York")
    case = us_case(phones={"+14155550111": "colleague"})
    assert flagged(US, [colleague], "third_party_contact", case) == []
    assert flagged(CN, [contact("2026-11-25 10:00", party="spouse", phone=SPOUSE_PHONE)], "third_party_contact")


@pytest.mark.parametrize(
    ("channel", "phone", "raised"),
    [
        ("call", "13600136000", True),
        ("sms", "13600136000", True),
        ("call", DEBTOR_PHONE, False),
        ("visit", None, False),
    ],
)
def test_unlisted_number(channel, phone, raised):
    found = flagged(CN, [contact("2026-11-25 10:00", channel=channel, phone=phone)], "unlisted_number")
    assert bool(found) is raised


def test_unlisted_number_message_masks_the_number():
    found = verdict(CN, [contact("2026-11-25 10:00", phone="13600136000")], "unlisted_number")
    assert found.message.render() == "call to 136****6000, a number not listed on the case"


def test_channel_not_allowed_by_the_agencys_contract():
    case = cn_case(contract=AgencyContract("ZC", allowed_channels=("call", "sms")))
    found = verdict(CN, [contact("2026-11-25 10:00", channel="visit", phone=None)], "channel_not_allowed", case)
    assert found.message.render() == "visit is not a channel the agency's contract allows (allowed: call, SMS)"
    assert flagged(CN, [contact("2026-11-25 10:00")], "channel_not_allowed", case) == []
    assert flagged(CN, [contact("2026-11-25 10:00", channel="visit")], "channel_not_allowed") == []


# --- flags count as they stood at the contact's time ---------------------------------------------------

FLAG_RULES = [
    # flag, rule, channel, party, raised
    ("cease", "cease_communication", "call", "debtor", True),
    ("cease", "cease_communication", "letter", "debtor", False),
    ("dispute", "dispute_open", "sms", "debtor", True),
    ("dispute", "dispute_open", "letter", "debtor", False),
    ("deceased", "deceased_or_bankrupt", "letter", "debtor", True),
    ("bankruptcy", "deceased_or_bankrupt", "call", "debtor", True),
    ("deceased", "deceased_or_bankrupt", "call", "spouse", False),
    ("vulnerable", "vulnerable_customer", "letter", "debtor", True),
    ("complaint", "vulnerable_customer", "call", "debtor", False),
]


@pytest.mark.parametrize(("flag", "rule", "channel", "party", "raised"), FLAG_RULES)
def test_flag_rules(flag, rule, channel, party, raised):
    case = cn_case(flags=(FlagSpell(flag),))
    phone = SPOUSE_PHONE if party == "spouse" else DEBTOR_PHONE
    found = flagged(CN, [contact("2026-11-25 10:00", channel=channel, party=party, phone=phone)], rule, case)
    assert bool(found) is raised


@pytest.mark.parametrize("flag", ["cease", "dispute", "deceased", "vulnerable"])
def test_a_flag_raised_after_a_contact_does_not_reach_back(flag):
    rule = {"cease": "cease_communication", "dispute": "dispute_open", "deceased": "deceased_or_bankrupt"}.get(
        flag, "vulnerable_customer"
    )
    case = cn_case(flags=(FlagSpell(flag, effective_from=at("2026-11-21 00:00"), effective_to=at("2026-11-28 00:00")),))
    before, during, after = (contact(day) for day in ("2026-11-20 23:59", "2026-11-21 00:00", "2026-11-28 00:00"))
    assert flagged(CN, [before, during, after], rule, case) == [during.key]


def test_cease_after_an_earlier_cease_request_by_any_agency():
    asked = contact("2026-11-20 10:00", outcome="cease_request", agency_id="HX")
    later = contact("2026-11-22 10:00", channel="sms", outcome="other")
    letter = contact("2026-11-23 10:00", channel="letter", outcome="other", phone=None)
    assert flagged(CN, [later, asked, letter], "cease_communication") == [later.key]
    found = verdict(CN, [asked, later], "cease_communication")
    assert (
        found.message.render()
        == "contact by SMS after the debtor asked to stop on 2026-11-20; only letters are allowed"
    )
    assert found.agency_message.render() == (
        "contact by SMS after the debtor asked to stop being contacted; only letters are allowed"
    )
    # A colleague asking not to be called does not stop contact with the debtor.
    colleague = contact("2026-11-20 10:00", outcome="cease_request", party="colleague", phone=COLLEAGUE_PHONE)
    assert flagged(CN, [colleague, later], "cease_communication") == []
