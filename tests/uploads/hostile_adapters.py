"""A test-only adapter whose reader crashes, allocates without bound or hangs, as a hostile file can make one.

Registered as a module plugin, so the parse child loads it by name (portal.plugins.isolation).
Each format yields two valid contact rows first, so that a test sees nothing of a file stored
when its reader dies half-way.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from typing import BinaryIO

from portal.plugins import AdapterFormat, ParseContext, ParsedRow, ParseLimits, RowIssue, Sniff, hookimpl
from portal.plugins.tabular import iter_numbered_xlsx_rows, iter_table

ABORT, MEMORY, HANG, UNBOUNDED_XLSX = "crash_abort", "crash_memory", "crash_hang", "crash_unbounded_xlsx"
KEYS = (ABORT, MEMORY, HANG, UNBOUNDED_XLSX)
SNIFF_ABORT = b"#abort-the-sniffer\n"
ROWS = (
    "case_ref,contacted_at,channel,party,phone,outcome,collector_id\n"
    "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,ZC01\n"
    "ZY202600003,2026-11-10 16:25:00,call,debtor,13177777868,no_answer,ZC01\n"
)


@hookimpl
def adapter_formats() -> list[AdapterFormat]:
    return [AdapterFormat(key, key.replace("_", " "), ("contacts",), (".dat",)) for key in KEYS]


@hookimpl
def adapter_sniff(sample: bytes, filename: str | None) -> list[Sniff] | None:
    if sample.startswith(SNIFF_ABORT):
        os.abort()  # as calamine does when an allocation fails
    return None


def _good_rows(context: ParseContext) -> Iterator[ParsedRow | RowIssue]:
    from portal.plugins.tabular import iter_csv_rows

    rows = iter_csv_rows(io.BytesIO(ROWS.encode()), limits=context.limits)
    aliases = {name: name for name in ROWS.split("\n", 1)[0].split(",")}
    yield from iter_table(rows, kind="contacts", aliases=aliases)


def _parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue]:
    yield from _good_rows(context)
    if format_key == ABORT:
        os.abort()
    elif format_key == MEMORY:
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    elif format_key == HANG:
        time.sleep(3600)
    else:
        # calamine with the sheet bounds switched off: it asks for the whole extent at once.
        limits = ParseLimits(max_columns=100_000, max_rows=10**9, max_cells=10**15)
        for _ in iter_numbered_xlsx_rows(stream, limits=limits):
            pass


@hookimpl
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    if format_key not in KEYS:
        return None
    return _parse(format_key, stream, context)
