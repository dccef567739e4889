"""The canonical adapter: conformance for its three formats, and CSV/JSONL/xlsx specifics."""

# Naive datetimes are the records' own "agency local time" (contract 5.1), so DTZ001 does not apply.
# ruff: noqa: DTZ001

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from portal.plugins import ParseContext, ParsedRow, RowIssue, build_plugin_manager, parse, render
from portal.testing import AdapterConformance, BadSample, Sample
from tests.adapters.adapter_golden import DATA, csv_bytes, expected_records, xlsx_bytes

CONTACTS = (DATA / "contacts_canonical.csv").read_bytes()
SETTLEMENTS = (DATA / "settlements_canonical.csv").read_bytes()
CONTACT_RECORDS = expected_records("contacts_canonical.csv")
SETTLEMENT_RECORDS = expected_records("settlements_canonical.csv")

BAD_CONTACTS = csv_bytes(
    [
        ["case_ref", "contacted_at", "channel", "party", "phone", "outcome", "collector_id", "promise_amount"],
        ["ZY1", "2026-11-10 15:25:00", "call", "debtor", "13177777868", "no_answer", "ZC001", ""],
        ["ZY1", "2026-11-31 15:25:00", "fax", "debtor", "12345", "no_answer", "ZC001", ""],
        ["", "", "", "", "", "", "", ""],
        ["ZY1", "2026-11-12 10:00", "call", "debtor", "", "promise_to_pay", "", "12.345"],
    ]
)
BAD_SETTLEMENTS = csv_bytes(
    [
        ["case_ref", "paid_at", "amount", "method", "payment_ref", "type", "waiver_amount"],
        ["ZY1", "2026-11-15 10:00:00", "-5", "bank_transfer", "T1", "partial", ""],
        ["ZY1", "2026-11-15", "200.00", "alipay", "T2", "settlement", ""],
    ]
)


def _rows(text: bytes) -> list[list[str]]:
    import csv

    return list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))


class TestCanonicalCsv(AdapterConformance):
    adapter_name = "canonical"
    format_key = "canonical_csv"
    samples = [
        Sample("contacts", CONTACTS, CONTACT_RECORDS, "contacts.csv"),
        Sample("settlements", SETTLEMENTS, SETTLEMENT_RECORDS, "settlements.csv"),
    ]
    bad_samples = [
        BadSample(
            "contacts",
            BAD_CONTACTS,
            [
                (2, "contacted_at", "invalid_date"),
                (2, "channel", "invalid_value"),
                (2, "phone", "invalid_phone"),
                (3, "phone", "missing_field"),
                (3, "collector_id", "missing_field"),
                (3, "promise_amount", "invalid_amount"),
                (3, "promise_date", "missing_field"),
            ],
        ),
        BadSample(
            "settlements",
            BAD_SETTLEMENTS,
            [(1, "amount", "invalid_amount"), (2, "paid_at", "invalid_date"), (2, "waiver_amount", "missing_field")],
        ),
    ]
    foreign_samples = [(DATA / "contacts_cn_gbk.csv").read_bytes()]


class TestCanonicalXlsx(AdapterConformance):
    adapter_name = "canonical"
    format_key = "canonical_xlsx"
    samples = [
        Sample("contacts", xlsx_bytes(_rows(CONTACTS)), CONTACT_RECORDS, "contacts.xlsx"),
        Sample("settlements", xlsx_bytes(_rows(SETTLEMENTS)), SETTLEMENT_RECORDS, "settlements.xlsx"),
    ]
    bad_samples = [BadSample("contacts", xlsx_bytes(_rows(BAD_CONTACTS)), [(2, "channel", "invalid_value")])]
    foreign_samples = [CONTACTS, SETTLEMENTS]


def _jsonl(records_csv: bytes) -> bytes:
    rows = _rows(records_csv)
    lines = [{key: value or None for key, value in zip(rows[0], row, strict=True)} for row in rows[1:]]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


class TestCanonicalJsonl(AdapterConformance):
    adapter_name = "canonical"
    format_key = "canonical_jsonl"
    samples = [
        Sample("contacts", _jsonl(CONTACTS), CONTACT_RECORDS, "contacts.jsonl"),
        Sample("settlements", _jsonl(SETTLEMENTS), SETTLEMENT_RECORDS, None),
    ]
    bad_samples = [
        BadSample(
            "settlements",
            _jsonl(SETTLEMENTS).replace(b'"200.00"', b'"2x"', 1) + b"{not json\n" + b'{"case_ref": ["x"]}\n',
            [(1, "amount", "invalid_amount"), (11, "", "invalid_value"), (12, "case_ref", "invalid_value")],
        )
    ]
    foreign_samples = [CONTACTS]


def _parse(key: str, data: bytes, kind: str = "contacts") -> list[ParsedRow | RowIssue]:
    pm = build_plugin_manager()
    return list(parse(pm, key, io.BytesIO(data), ParseContext(kind), strict=True))


def test_bom_and_any_column_order_and_extra_columns_are_accepted() -> None:
    rows = _rows(SETTLEMENTS)
    shuffled = [[*reversed(row), "ignored"] for row in rows]
    data = b"\xef\xbb\xbf" + csv_bytes(shuffled)
    assert [item.record for item in _parse("canonical_csv", data, "settlements")] == SETTLEMENT_RECORDS


def test_header_only_file_gives_no_records_and_no_error() -> None:
    assert _parse("canonical_csv", CONTACTS.split(b"\n", 1)[0] + b"\n") == []


def test_offsets_are_kept_and_naive_times_stay_naive() -> None:
    rows = _rows(SETTLEMENTS)[:2]
    rows[1][1] = "2026-11-15T10:00:00+08:00"
    [item] = _parse("canonical_csv", csv_bytes(rows), "settlements")
    assert item.record.paid_at == datetime(2026, 11, 15, 10, tzinfo=timezone(timedelta(hours=8)))


def test_rendered_csv_neutralises_formulas() -> None:
    pm = build_plugin_manager()
    record = replace(SETTLEMENT_RECORDS[0], notes="=cmd|' /C calc'!A0", payment_ref="@SUM(1)")
    out = io.BytesIO()
    render(pm, "canonical_csv", "settlements", [record], out)
    cells = _rows(out.getvalue())[1]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1)" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_rendered_xlsx_holds_no_formula_cells() -> None:
    from openpyxl import load_workbook

    pm = build_plugin_manager()
    out = io.BytesIO()
    render(pm, "canonical_xlsx", "contacts", [replace(CONTACT_RECORDS[0], notes="=1+2")], out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_jsonl_money_is_written_as_strings() -> None:
    pm = build_plugin_manager()
    out = io.BytesIO()
    render(pm, "canonical_jsonl", "settlements", SETTLEMENT_RECORDS[:1], out)
    assert json.loads(out.getvalue())["amount"] == "200.00"


def test_excel_typed_cells_are_accepted() -> None:
    header = ["case_ref", "paid_at", "amount", "method", "payment_ref", "type"]
    data = xlsx_bytes([header, [202600001, datetime(2026, 11, 15, 10, 0), 200.5, "card", "T-1", "partial"]])
    [item] = _parse("canonical_xlsx", data, "settlements")
    assert item.record.case_ref == "202600001" and item.record.amount == Decimal("200.50")
