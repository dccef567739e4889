"""The mapping adapter: the shipped worked example, host mapping directories, mapping-file checks."""

# Naive datetimes are the records' own "agency local time" (contract 5.1), so DTZ001 does not apply.
# ruff: noqa: DTZ001

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.mapping import PARTNERS_DIR, load_mapping
from portal.plugins import (
    AdapterConfigError,
    ContactRecord,
    ParseContext,
    ParsedRow,
    RowIssue,
    SettlementRecord,
    build_plugin_manager,
    choose_format,
    list_formats,
    parse,
)
from portal.testing import AdapterConformance, BadSample, Sample
from tests.adapters.adapter_golden import DATA, xlsx_bytes

MAPPINGS = DATA / "mappings"
HX_HEADER = [
    "Account No", "Contact Time", "Contact Type", "Spoke With", "Dialled Number", "Result Code", "Connected",
    "Talk Time (s)", "PTP Amount", "PTP Date", "Agent ID", "Recording", "Remarks",
]  # fmt: skip
HX_TITLES = [["HX Collections - daily contact report"], ["Generated 2026-11-20 06:00 by Dialler 7.2"]]


def hx_report(rows: list[list[object]]) -> bytes:
    """HX's Excel report: two title rows, the header, then rows with serial-number times."""
    return xlsx_bytes([*HX_TITLES, HX_HEADER, *rows])


# 46336.6041666667 is 2026-11-10 14:30 and 46350 is 2026-11-24, as Excel serial numbers.
HX_ROWS = [
    ["ZY202600002", 46336.6041666667, "Outbound Call", "Self", 13800138000, "PTP", "Y", 95, 1500, 46350, "HX01",
     "R-1", "will pay after salary"],
    ["ZY202600004", 46337.25, "Text Message", "Spouse", "+86 139 0013 9000", "OTH", None, None, None, None, "HX02",
     None, None],
    ["ZY202600006", "11/11/2026 20:15", "Field Visit", "Self", None, "RTP", "N", None, None, None, "HX02", "R-2",
     "said: call back at 8"],
]  # fmt: skip
HX_RECORDS = [
    ContactRecord("ZY202600002", datetime(2026, 11, 10, 14, 30), "call", "debtor", "promise_to_pay", "HX01",
                  "13800138000", True, 95, Decimal("1500.00"), date(2026, 11, 24), "R-1", "will pay after salary"),
    ContactRecord("ZY202600004", datetime(2026, 11, 11, 6, 0), "sms", "spouse", "other", "HX02", "13900139000"),
    ContactRecord("ZY202600006", datetime(2026, 11, 11, 20, 15), "visit", "debtor", "refused", "HX02", None, False,
                  recording_ref="R-2", notes="said: call back at 8"),
]  # fmt: skip


class TestMappingHxExcel(AdapterConformance):
    adapter_name = "mapping"
    format_key = "mapping_hx_contacts"
    samples = [Sample("contacts", hx_report(HX_ROWS), HX_RECORDS, "HX_contacts_20261120.xlsx")]
    bad_samples = [
        BadSample(
            "contacts",
            hx_report([HX_ROWS[0], ["ZY9", "yesterday", "Pigeon", "Self", 13800138000, "PTP", "maybe", -3]]),
            [
                (2, "contacted_at", "invalid_date"),
                (2, "channel", "invalid_value"),
                (2, "connected", "invalid_value"),
                (2, "duration_s", "invalid_value"),
                (2, "collector_id", "missing_field"),
                (2, "promise_amount", "missing_field"),
            ],
        )
    ]
    foreign_samples = [xlsx_bytes([["case_ref", "contacted_at", "channel", "party", "outcome", "collector_id"]])]


YD_TEXT = """YD 还款明细 2026-11
合同号;入账时间;金额;渠道;流水;说明
ZY202600001;15.11.2026 10:00;1.234,50;网银;YD-1;第一笔
ZY202600003;16.11.2026 09:30;200;支付宝;YD-2;
"""
YD_RECORDS = [
    SettlementRecord("ZY202600001", datetime(2026, 11, 15, 10), Decimal("1234.50"), "bank_transfer", "YD-1",
                     "partial", None, "第一笔"),
    SettlementRecord("ZY202600003", datetime(2026, 11, 16, 9, 30), Decimal("200.00"), "alipay", "YD-2", "partial"),
]  # fmt: skip


class TestMappingHostDirectoryCsv(AdapterConformance):
    adapter_name = "mapping"
    format_key = "mapping_yd_settlements"
    mapping_dirs = [str(MAPPINGS)]
    samples = [Sample("settlements", YD_TEXT.encode("gb18030"), YD_RECORDS, "yd.csv")]
    bad_samples = [
        BadSample(
            "settlements",
            YD_TEXT.replace("1.234,50", "12,345").replace("支付宝", "现金").encode("gb18030"),
            [(1, "amount", "invalid_amount"), (2, "method", "invalid_value")],
        )
    ]


def test_the_worked_example_ships_with_the_package() -> None:
    mapping = load_mapping(PARTNERS_DIR / "hx_contacts_xlsx.toml")
    assert (mapping.file_type, mapping.title_rows, mapping.datetime_formats[0]) == ("xlsx", 2, "excel_serial")
    keys = [item.key for item in list_formats(build_plugin_manager()) if item.adapter == "mapping"]
    assert keys == ["mapping_hx_contacts"]


def test_a_mapping_file_declares_its_labels_and_the_agency_it_belongs_to(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text('agency = "yd"\nlabel_zh_CN = "T 报表"\n' + GOOD + COLUMNS, encoding="utf-8")
    formats = {item.key: item.format for item in list_formats(build_plugin_manager(mapping_dirs=[tmp_path]))}
    assert (formats["mapping_t"].agency, formats["mapping_t"].label_for("zh_CN")) == ("YD", "T 报表")
    assert formats["mapping_t"].label_for("en") == "T"
    # The bundled HX report is HX's own, and says so in Chinese too.
    hx = formats["mapping_hx_contacts"]
    assert hx.agency == "HX" and hx.label_for("zh_CN") == "HX 每日催收报表（Excel）"


def test_host_mapping_directories_add_formats() -> None:
    pm = build_plugin_manager(mapping_dirs=[MAPPINGS])
    keys = {item.key for item in list_formats(pm) if item.adapter == "mapping"}
    assert keys == {"mapping_hx_contacts", "mapping_yd_settlements"}
    assert choose_format(pm, YD_TEXT.encode("gb18030"), "yd.csv", "settlements") == "mapping_yd_settlements"


def test_parsing_a_mapping_as_the_wrong_kind_says_so() -> None:
    pm = build_plugin_manager()
    items = list(parse(pm, "mapping_hx_contacts", io.BytesIO(hx_report(HX_ROWS)), ParseContext("contacts")))
    assert all(isinstance(item, ParsedRow) for item in items)
    from portal.plugins.manager import UnknownFormatError

    with pytest.raises(UnknownFormatError):
        parse(pm, "mapping_hx_contacts", io.BytesIO(b""), ParseContext("settlements"))


def test_missing_mapped_columns_are_named_in_the_partners_words() -> None:
    pm = build_plugin_manager()
    data = xlsx_bytes([*HX_TITLES, HX_HEADER[:3], HX_ROWS[0][:3]])
    [issue] = list(parse(pm, "mapping_hx_contacts", io.BytesIO(data), ParseContext("contacts")))
    assert (issue.row, issue.code) == (0, "missing_field")
    assert "Spoke With" in issue.message and "Agent ID" in issue.message


GOOD = 'key = "mapping_t"\nlabel = "T"\nkind = "settlements"\nfile_type = "csv"\n'
COLUMNS = '[columns]\n"A"="case_ref"\n"B"="paid_at"\n"C"="amount"\n"D"="method"\n"E"="payment_ref"\n"F"="type"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + 'colour = "red"\n' + COLUMNS, "unknown setting(s): colour"),
        (GOOD.replace("settlements", "payments") + COLUMNS, "kind must be one of"),
        (GOOD.replace("mapping_t", "Bad Key") + COLUMNS, "must match"),
        (GOOD + COLUMNS.replace('"F"="type"', '"F"="kind"'), "not a settlements field"),
        (GOOD + COLUMNS.replace('"F"="type"\n', ""), "no column or default for required field(s): type"),
        (GOOD + COLUMNS + '[values.method]\n"Bank"="wire"\n', "unknown value(s) wire"),
        (GOOD + 'encoding = "klingon"\n' + COLUMNS, "unknown encoding"),
        (GOOD + "title_rows = 99\n" + COLUMNS, "title_rows must be"),
        (GOOD + COLUMNS.replace('"F"', '"A2"').replace('"type"', '"case_ref"'), "same field"),
        ("key = [", "cannot be read"),
        (GOOD + 'agency = "H X"\n' + COLUMNS, "agency must be an agency code"),
        (GOOD + "label_zh_CN = 3\n" + COLUMNS, "label_zh_CN must be a non-empty string"),
    ],
)
def test_bad_mapping_files_stop_startup_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "partner.toml").write_text(text, encoding="utf-8")
    with pytest.raises(AdapterConfigError, match=r"partner\.toml") as error:
        build_plugin_manager(mapping_dirs=[tmp_path])
    assert message in str(error.value)


def test_json_mapping_files_and_duplicate_keys(tmp_path: Path) -> None:
    import json
    import tomllib

    spec = tomllib.loads(GOOD + COLUMNS)
    (tmp_path / "a.json").write_text(json.dumps(spec), encoding="utf-8")
    assert "mapping_t" in {item.key for item in list_formats(build_plugin_manager(mapping_dirs=[tmp_path]))}
    (tmp_path / "b.toml").write_text(GOOD + COLUMNS, encoding="utf-8")
    with pytest.raises(AdapterConfigError, match="both use the key 'mapping_t'"):
        build_plugin_manager(mapping_dirs=[tmp_path])
    with pytest.raises(AdapterConfigError, match="does not exist"):
        build_plugin_manager(mapping_dirs=[tmp_path / "nowhere"])


def test_rendered_report_keeps_the_title_rows_and_serial_dates() -> None:
    from openpyxl import load_workbook

    from portal.plugins import render

    out = io.BytesIO()
    render(build_plugin_manager(), "mapping_hx_contacts", "contacts", HX_RECORDS[:1], out)
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][0] == "HX daily contact report (Excel)" and list(rows[2]) == HX_HEADER
    assert rows[3][1] == pytest.approx(46336.6041666667) and rows[3][2] == "Outbound Call"


def test_the_row_issue_lists_the_partners_words() -> None:
    items = list(
        parse(
            build_plugin_manager(),
            "mapping_hx_contacts",
            io.BytesIO(hx_report([["ZY1", 46336.5, "Fax", "Self", 13800138000, "NOANS", None, None, None, None, "A"]])),
            ParseContext("contacts"),
        )
    )
    # The message names the partner's own column; line is the sheet row under the title rows.
    assert [(i.row, i.field, i.code, i.message, i.column, i.line) for i in items] == [
        (
            1,
            "channel",
            "invalid_value",
            "Contact Type 'Fax' is not one of: Outbound Call, Text Message, Field Visit, Email, Letter, WeChat",
            "Contact Type",
            4,
        )
    ]
    assert all(isinstance(i, RowIssue) for i in items)
