"""Acme Recoveries' contact export: pipe-separated UTF-8 text with their own headers and codes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from portal.plugins import (
    AdapterFormat,
    Dialect,
    ParseContext,
    ParsedRow,
    Record,
    RowIssue,
    Sniff,
    hookimpl,
    neutralise_formula,
)
from portal.plugins.tabular import guarded, iter_csv_rows, iter_table, match_header, sample_rows

KEY = "acme_psv"
VERSION = "0.1.0"
COLUMNS = {
    "CASE": "case_ref",
    "WHEN": "contacted_at",
    "HOW": "channel",
    "WHO": "party",
    "NUMBER": "phone",
    "RESULT": "outcome",
    "AGENT": "collector_id",
    "NOTE": "notes",
}
CODES = {
    "channel": {"TEL": "call", "TXT": "sms", "DOOR": "visit"},
    "party": {"SELF": "debtor", "SPOUSE": "spouse", "OTHER": "third_party"},
    "outcome": {"NA": "no_answer", "BSY": "busy", "PTP": "promise_to_pay", "REF": "refused", "CB": "callback"},
}
# Acme writes times as 20261128T1405 (no seconds, no separators).
DIALECT = Dialect(datetime_formats=("%Y%m%dT%H%M",), vocabularies=CODES)


@hookimpl
def adapter_formats() -> list[AdapterFormat]:
    return [
        AdapterFormat(KEY, "Acme Recoveries pipe-separated contacts", ("contacts",), (".psv", ".txt"), VERSION, True)
    ]


@hookimpl
def adapter_sniff(sample: bytes) -> list[Sniff] | None:
    confidence, _ = match_header(sample_rows(sample, encoding="utf-8", delimiter="|"), COLUMNS)
    return [Sniff(KEY, confidence, "Acme header")] if confidence else None


@hookimpl
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    if format_key != KEY:
        return None  # not a generator function: firstresult needs a real None
    rows = iter_csv_rows(stream, limits=context.limits, encoding="utf-8", delimiter="|")
    return guarded(iter_table(rows, kind=context.kind, aliases=COLUMNS, dialect=DIALECT))


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name == "contacted_at":
        return value.strftime("%Y%m%dT%H%M")  # type: ignore[attr-defined]
    text = str(value)
    for code, canonical in CODES.get(name, {}).items():
        if canonical == text:
            return code
    return neutralise_formula(text)


@hookimpl
def adapter_render(format_key: str, kind: str, records: Iterable[Record], out: BinaryIO) -> bool | None:
    if format_key != KEY or kind != "contacts":
        return None
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, delimiter="|")
    writer.writerow(list(COLUMNS))
    for record in records:
        writer.writerow([_cell(name, getattr(record, name)) for name in COLUMNS.values()])
    text.flush()
    text.detach()
    return True
