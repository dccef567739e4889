"""The cn_gbk_csv adapter: conformance, encodings, Chinese dates and amounts."""

# Naive datetimes are the records' own "agency local time" (contract 5.1), so DTZ001 does not apply.
# ruff: noqa: DTZ001

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from portal.plugins import (
    ParseContext,
    ParsedRow,
    RowIssue,
    SettlementRecord,
    build_plugin_manager,
    choose_format,
    parse,
)
from portal.plugins.tabular import decode_lines
from portal.testing import AdapterConformance, BadSample, Sample
from tests.adapters.adapter_golden import DATA, expected_cn_contacts

GBK_CONTACTS = (DATA / "contacts_cn_gbk.csv").read_bytes()


SETTLEMENTS_TEXT = """案件编号,还款时间,还款金额,还款方式,交易流水号,还款类型,减免金额,备注
ZY202600001,2026年11月15日 10:00,"¥1,200.50",银行转账,ZC-TXN-1,部分还款,,首笔
ZY202600005,2026/11/16 10:01:30,￥２００,支付宝,ZC-TXN-2,结清,0,

ZY202600009,2026-11-17 10:02,300.00元,微信支付,ZC-TXN-3,减免结清,"1,000.00",减免𠀀
"""
SETTLEMENTS = [
    SettlementRecord("ZY202600001", datetime(2026, 11, 15, 10), Decimal("1200.50"), "bank_transfer", "ZC-TXN-1",
                     "partial", None, "首笔"),
    SettlementRecord("ZY202600005", datetime(2026, 11, 16, 10, 1, 30), Decimal("200.00"), "alipay", "ZC-TXN-2",
                     "full", None, None),
    SettlementRecord("ZY202600009", datetime(2026, 11, 17, 10, 2), Decimal("300.00"), "wechat_pay", "ZC-TXN-3",
                     "settlement", Decimal("1000.00"), "减免𠀀"),
]  # fmt: skip

BAD_CONTACTS = """案件编号,催收时间,催收方式,联系对象,联系电话,催收结果,承诺金额,承诺还款日期,催收员,录音编号,备注
ZY1,2026年13月01日 10:00,传真,本人,13800138000,未接通,,,ZC001,,
ZY1,2026/11/20 10:00,电话,邻居,1380013800,承诺还款,５００,2026/11/19,ZC001,,
""".encode("gbk")


class TestCnGbkCsv(AdapterConformance):
    adapter_name = "cn_gbk_csv"
    format_key = "cn_gbk_csv"
    samples = [
        Sample("contacts", GBK_CONTACTS, expected_cn_contacts(), "催收记录.csv"),
        Sample("settlements", SETTLEMENTS_TEXT.encode("gb18030"), SETTLEMENTS, "还款.csv"),
    ]
    bad_samples = [
        BadSample(
            "contacts",
            BAD_CONTACTS,
            [
                (1, "contacted_at", "invalid_date"),
                (1, "channel", "invalid_value"),
                (2, "party", "invalid_value"),
                (2, "phone", "invalid_phone"),
                (2, "promise_date", "invalid_date"),
            ],
        )
    ]
    foreign_samples = [(DATA / "contacts_canonical.csv").read_bytes()]


def _parse(data: bytes, kind: str = "contacts") -> list[ParsedRow | RowIssue]:
    return list(parse(build_plugin_manager(), "cn_gbk_csv", io.BytesIO(data), ParseContext(kind), strict=True))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_each_accepted_encoding_gives_the_same_records(encoding: str) -> None:
    data = GBK_CONTACTS.decode("gbk").encode(encoding)
    assert [item.record for item in _parse(data)] == expected_cn_contacts()
    assert choose_format(build_plugin_manager(), data, "x.csv", "contacts") == "cn_gbk_csv"


def test_encoding_is_decided_at_the_first_non_ascii_line() -> None:
    # A mapping file with English headers may show its first Chinese text far down.
    lines = [b"case,notes\n"] + [b"A%d,x\n" % n for n in range(5000)] + ["B,备注\n".encode("gbk")]
    decoded = list(decode_lines(iter(lines), "auto"))
    assert decoded[-1] == "B,备注\n" and len(decoded) == len(lines)


def test_a_late_undecodable_line_rejects_the_file_at_row_zero() -> None:
    data = GBK_CONTACTS + "ZY1,2026/11/20 10:00,电话,本人,13800138000,未接通,,,ZC001,,".encode("gbk") + b"\x80\xff\n"
    items = _parse(data)
    assert isinstance(items[-1], RowIssue) and items[-1].row == 0 and items[-1].code == "unreadable_file"
    assert "gb18030" in items[-1].message


def test_utf16_is_refused_with_a_hint() -> None:
    [issue] = _parse(GBK_CONTACTS.decode("gbk").encode("utf-16"))
    assert (issue.row, issue.code) == (0, "unreadable_file") and "UTF-16" in issue.message


def test_promise_dates_and_amounts_in_chinese_forms() -> None:
    text = (
        "案件编号,催收时间,催收方式,联系对象,联系电话,催收结果,承诺金额,承诺还款日期,催收员\n"
        'ZY1,2026年11月20日 09:05,电话,本人,+86 138-0013-8000,承诺还款,"￥１,２００.５",2026年12月1日,ZC001\n'
    ).encode("gbk")
    [item] = _parse(text)
    record = item.record
    assert record.promise_amount == Decimal("1200.50") and record.promise_date == date(2026, 12, 1)
    assert record.phone == "13800138000" and record.contacted_at == datetime(2026, 11, 20, 9, 5)


def test_settlements_file_parsed_as_contacts_names_the_missing_columns() -> None:
    [issue] = _parse(SETTLEMENTS_TEXT.encode("gbk", "replace"), "contacts")
    assert (issue.row, issue.field, issue.code) == (0, "header", "missing_field")
    assert "催收时间" in issue.message and "settlements" in issue.message
