"""The shared validator: every adapter's values pass through these rules."""

# Naive datetimes are the records' own "agency local time" (contract 5.1), so DTZ001 does not apply.
# ruff: noqa: DTZ001

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portal.plugins import (
    ContactRecord,
    Dialect,
    RowIssue,
    SettlementRecord,
    build_contact,
    build_settlement,
    normalise_phone,
    parse_amount,
    parse_date,
    parse_datetime,
)

CONTACT = {
    "case_ref": "ZY1",
    "contacted_at": "2026-11-10 15:25:00",
    "channel": "call",
    "party": "debtor",
    "phone": "13800138000",
    "outcome": "no_answer",
    "collector_id": "ZC001",
}
SETTLEMENT = {
    "case_ref": "ZY1",
    "paid_at": "2026-11-15 10:00",
    "amount": "200.00",
    "method": "alipay",
    "payment_ref": "T1",
    "type": "partial",
}


def issues(result: object) -> set[tuple[str, str]]:
    assert isinstance(result, list), result
    return {(issue.field, issue.code) for issue in result if isinstance(issue, RowIssue)}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("(138) 0013 8000", "13800138000"),
        (13800138000, "13800138000"),
        (13800138000.0, "13800138000"),
        ("+14155550123", "+14155550123"),
        ("0014155550123", "+14155550123"),
        ("１３８００１３８０００", "13800138000"),
        ("12800138000", None),
        ("1380013800", None),
        ("+0123456789", None),
        ("4155550123", None),
        ("call me", None),
    ],
)
def test_phone_numbers(raw: object, expected: str | None) -> None:
    assert normalise_phone(raw) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        ("¥1,234.50", Decimal("1234.50")),
        ("￥１，２３４．５", Decimal("1234.5")),
        ("1234.5元", Decimal("1234.5")),
        ("RMB 99", Decimal("99")),
        (12.3, Decimal("12.3")),
        (7, Decimal("7")),
        ("12,34", None),
        ("1.2.3", None),
        ("", None),
        ("NaN", None),
        (float("nan"), None),
        (True, None),
    ],
)
def test_amounts(raw: object, expected: Decimal | None) -> None:
    assert parse_amount(raw) == expected  # type: ignore[arg-type]


def test_decimal_comma_amounts() -> None:
    dialect = Dialect(decimal_comma=True)
    assert parse_amount("1.234,50", dialect) == Decimal("1234.50")
    assert parse_amount("99,5", dialect) == Decimal("99.5")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-10 15:25:00", datetime(2026, 11, 10, 15, 25)),
        ("2026-11-10T15:25", datetime(2026, 11, 10, 15, 25)),
        ("2026-11-10T07:25:00Z", datetime(2026, 11, 10, 7, 25, tzinfo=UTC)),
        ("2026-11-10 15:25+08:00", datetime(2026, 11, 10, 15, 25, tzinfo=timezone(timedelta(hours=8)))),
        ("2026-11-10", None),
        ("2026-02-30 10:00", None),
        ("1899-12-31 10:00", None),
        ("10/11/2026 15:25", None),
        (46336.5, None),
    ],
)
def test_datetimes(raw: object, expected: datetime | None) -> None:
    assert parse_datetime(raw) == expected  # type: ignore[arg-type]


def test_excel_serials_only_when_the_dialect_says_so() -> None:
    dialect = Dialect(datetime_formats=("excel_serial",), date_formats=("excel_serial",))
    assert parse_datetime(46336.6041666667, dialect) == datetime(2026, 11, 10, 14, 30)
    assert parse_datetime("46336.25", dialect) == datetime(2026, 11, 10, 6, 0)
    assert parse_date(46350, dialect) == date(2026, 11, 24)
    assert parse_date(46350, Dialect()) is None
    assert parse_datetime(-1, dialect) is None


def test_a_valid_contact_is_typed() -> None:
    record = build_contact({**CONTACT, "duration_s": "35", "connected": "false", "notes": "  n  "}, 1)
    assert record == ContactRecord(
        "ZY1", datetime(2026, 11, 10, 15, 25), "call", "debtor", "no_answer", "ZC001", "13800138000", False, 35,
        notes="n",
    )  # fmt: skip
    assert isinstance(record, ContactRecord) and not record.is_conversation


def test_connected_defaults_from_the_outcome() -> None:
    refused = build_contact({**CONTACT, "outcome": "refused"}, 1)
    assert isinstance(refused, ContactRecord) and refused.connected is None and refused.is_conversation


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"case_ref": " "}, {("case_ref", "missing_field")}),
        ({"channel": "Fax"}, {("channel", "invalid_value")}),
        ({"party": None}, {("party", "missing_field")}),
        ({"phone": ""}, {("phone", "missing_field")}),
        ({"phone": "12345"}, {("phone", "invalid_phone")}),
        ({"duration_s": "-1"}, {("duration_s", "invalid_value")}),
        ({"duration_s": "1.5"}, {("duration_s", "invalid_value")}),
        ({"connected": "maybe"}, {("connected", "invalid_value")}),
        ({"notes": "x" * 2001}, {("notes", "invalid_value")}),
        ({"case_ref": "x" * 65}, {("case_ref", "invalid_value")}),
        ({"contacted_at": "yesterday"}, {("contacted_at", "invalid_date")}),
        (
            {"outcome": "promise_to_pay"},
            {("promise_amount", "missing_field"), ("promise_date", "missing_field")},
        ),
        (
            {"outcome": "promise_to_pay", "promise_amount": "0", "promise_date": "2026-11-09"},
            {("promise_amount", "invalid_amount"), ("promise_date", "invalid_date")},
        ),
        ({"promise_amount": "10.001"}, {("promise_amount", "invalid_amount")}),
    ],
)
def test_contact_rules(change: dict, expected: set) -> None:
    result = build_contact({**CONTACT, **change}, 4)
    assert issues(result) == expected
    assert all(issue.row == 4 and change_value_named(issue.message) for issue in result)  # type: ignore[union-attr]


def change_value_named(message: str) -> bool:
    return bool(message) and message.split()[0].isidentifier()


def test_contact_rules_that_do_not_apply() -> None:
    assert isinstance(build_contact({**CONTACT, "channel": "visit", "phone": ""}, 1), ContactRecord)
    assert isinstance(build_contact({**CONTACT, "notes": "x" * 2000}, 1), ContactRecord)
    same_day = build_contact(
        {**CONTACT, "outcome": "promise_to_pay", "promise_amount": "1", "promise_date": "2026-11-10"}, 1
    )
    assert isinstance(same_day, ContactRecord) and same_day.promise_amount == Decimal("1.00")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": "0"}, {("amount", "invalid_amount")}),
        ({"amount": "-5"}, {("amount", "invalid_amount")}),
        ({"amount": "1.005"}, {("amount", "invalid_amount")}),
        ({"amount": "1e30"}, {("amount", "invalid_amount")}),
        ({"method": "paypal"}, {("method", "invalid_value")}),
        ({"type": "settlement"}, {("waiver_amount", "missing_field")}),
        ({"waiver_amount": "10"}, {("waiver_amount", "invalid_value")}),
        ({"type": "settlement", "waiver_amount": "-1"}, {("waiver_amount", "invalid_amount")}),
        (
            {"payment_ref": None, "paid_at": "2026-11-15"},
            {("payment_ref", "missing_field"), ("paid_at", "invalid_date")},
        ),
    ],
)
def test_settlement_rules(change: dict, expected: set) -> None:
    assert issues(build_settlement({**SETTLEMENT, **change}, 2)) == expected


def test_settlement_waivers() -> None:
    waived = build_settlement({**SETTLEMENT, "type": "settlement", "waiver_amount": "1,000"}, 1)
    assert isinstance(waived, SettlementRecord) and waived.waiver_amount == Decimal("1000.00")
    zero = build_settlement({**SETTLEMENT, "waiver_amount": "0.00"}, 1)
    assert isinstance(zero, SettlementRecord) and zero.waiver_amount is None


def test_neutralised_cells_read_back_as_written() -> None:
    record = build_settlement({**SETTLEMENT, "payment_ref": "'+T1", "notes": "'=x"}, 1)
    assert isinstance(record, SettlementRecord) and (record.payment_ref, record.notes) == ("+T1", "=x")
