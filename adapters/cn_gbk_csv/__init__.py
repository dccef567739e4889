"""The cn_gbk_csv adapter: Chinese agencies' CSV exports (GBK/GB18030 or UTF-8), contract section 6.

Format key ``cn_gbk_csv`` reads both kinds and writes them (GB18030, a superset of
GBK that can encode every character).

- Encoding: a UTF-8 BOM wins; otherwise the first non-ASCII line decides, UTF-8 if it
  decodes strictly, else GB18030. A later line that does not decode rejects the file
  (row 0, ``unreadable_file``). UTF-16/32 is rejected with a hint to re-save.
- Headers (any order; unknown columns ignored). Contacts: 案件编号, 催收时间, 催收方式,
  联系对象, 联系电话, 催收结果, 承诺金额, 承诺还款日期, 催收员, 录音编号, 备注 (optional
  extras read when present: 是否接通, 通话时长(秒)). Settlements: 案件编号, 还款时间,
  还款金额, 还款方式, 交易流水号, 还款类型, 减免金额, 备注.
- Values: see VOCABULARIES below; canonical English values are accepted too.
- Dates: ``2026-11-28 14:05[:00]``, ``2026/11/28 14:05[:00]``, ``2026年11月28日 14:05``;
  promise dates ``2026-11-28``, ``2026/11/28``, ``2026年11月28日``.
- Amounts: with or without ``¥``/``￥``/``元``, thousands separators, full-width digits.

Export writes the contract's columns only, so ``connected`` and ``duration_s`` are
not carried by this layout.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

from portal.plugins import (
    AdapterFormat,
    Dialect,
    ParseContext,
    ParsedRow,
    Record,
    RowIssue,
    Sniff,
    canonical_text,
    hookimpl,
    neutralise_formula,
)
from portal.plugins.tabular import guarded, iter_numbered_csv_rows, iter_table, match_header, sample_rows

VERSION = "1.0"
KEY = "cn_gbk_csv"

CONTACT_COLUMNS = {
    "案件编号": "case_ref",
    "催收时间": "contacted_at",
    "催收方式": "channel",
    "联系对象": "party",
    "联系电话": "phone",
    "催收结果": "outcome",
    "承诺金额": "promise_amount",
    "承诺还款日期": "promise_date",
    "催收员": "collector_id",
    "录音编号": "recording_ref",
    "备注": "notes",
}
SETTLEMENT_COLUMNS = {
    "案件编号": "case_ref",
    "还款时间": "paid_at",
    "还款金额": "amount",
    "还款方式": "method",
    "交易流水号": "payment_ref",
    "还款类型": "type",
    "减免金额": "waiver_amount",
    "备注": "notes",
}
EXTRA_COLUMNS = {"是否接通": "connected", "通话时长(秒)": "duration_s", "通话时长": "duration_s"}
ALIASES = {**CONTACT_COLUMNS, **SETTLEMENT_COLUMNS, **EXTRA_COLUMNS}

VOCABULARIES: dict[str, dict[str, str]] = {
    "channel": {"电话": "call", "短信": "sms", "上门": "visit", "邮件": "email", "信函": "letter", "微信": "im"},
    "party": {
        "本人": "debtor",
        "配偶": "spouse",
        "父母": "parent",
        "亲属": "relative",
        "同事": "colleague",
        "朋友": "friend",
        "紧急联系人": "emergency_contact",
        "第三方": "third_party",
        "未知": "unknown",
    },
    "outcome": {
        "未接通": "no_answer",
        "占线": "busy",
        "空号错号": "wrong_number",
        "拒绝还款": "refused",
        "承诺还款": "promise_to_pay",
        "已还款": "paid",
        "有异议": "dispute",
        "约定回电": "callback",
        "留言": "left_message",
        "要求停催": "cease_request",
        "其他": "other",
    },
    "method": {
        "银行转账": "bank_transfer",
        "支付宝": "alipay",
        "微信支付": "wechat_pay",
        "银行卡": "card",
        "现金": "cash",
        "其他": "other",
    },
    "type": {"部分还款": "partial", "结清": "full", "减免结清": "settlement"},
}

DIALECT = Dialect(
    datetime_formats=(
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y年%m月%d日 %H:%M",
        "%Y年%m月%d日 %H:%M:%S",
        "%Y年%m月%d日%H:%M",
        "%Y年%m月%d日%H:%M:%S",
    ),
    date_formats=("%Y/%m/%d", "%Y年%m月%d日"),
    vocabularies=VOCABULARIES,
    true_words=frozenset({"是", "接通"}),
    false_words=frozenset({"否", "未接通"}),
)


@hookimpl
def adapter_formats() -> list[AdapterFormat]:
    return [
        AdapterFormat(
            KEY,
            "Chinese agency CSV (GBK/GB18030 or UTF-8)",
            ("contacts", "settlements"),
            (".csv", ".txt"),
            VERSION,
            True,
            "Chinese headers and values, contract section 6",
            labels=(("zh_CN", "中文机构 CSV（GBK/GB18030 或 UTF-8）"),),
        )
    ]


@hookimpl
def adapter_sniff(sample: bytes) -> list[Sniff] | None:
    confidence, kind = match_header(sample_rows(sample, encoding="auto"), ALIASES)
    if not confidence:
        return None
    return [Sniff(KEY, confidence, f"Chinese {kind} header")]


@hookimpl
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    if format_key != KEY:
        return None
    rows = iter_numbered_csv_rows(stream, limits=context.limits, encoding="auto")
    return guarded(iter_table(rows, kind=context.kind, aliases=ALIASES, dialect=DIALECT, numbered=True))


def _to_partner(name: str, value: object, text: str) -> str:
    if isinstance(value, datetime):
        # Wall-clock time: the layout has no offset (the host converts beforehand).
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    for word, canonical in VOCABULARIES.get(name, {}).items():
        if canonical == text:
            return word
    return neutralise_formula(text)


@hookimpl
def adapter_render(format_key: str, kind: str, records: Iterable[Record], out: BinaryIO) -> bool | None:
    if format_key != KEY:
        return None
    columns = CONTACT_COLUMNS if kind == "contacts" else SETTLEMENT_COLUMNS
    text = io.TextIOWrapper(out, encoding="gb18030", newline="")
    writer = csv.writer(text)
    writer.writerow(list(columns))
    for record in records:
        cells = canonical_text(record)
        writer.writerow([_to_partner(name, getattr(record, name), cells[name]) for name in columns.values()])
    text.flush()
    text.detach()  # leave ``out`` open for the host
    return True
