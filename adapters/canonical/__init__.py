"""The canonical adapter: contract section 5 records as UTF-8 CSV, .xlsx and JSON Lines.

Three format keys, because the three containers sniff and fail differently:

- ``canonical_csv``: UTF-8 CSV, with or without BOM; a header row of the contract's
  field names in any order; unknown columns are ignored. Written with a BOM so that
  Excel shows Chinese text correctly.
- ``canonical_xlsx``: the first sheet of an .xlsx workbook, first non-blank row the
  header. Real Excel dates and numbers are accepted as well as text. Written as text
  cells (exact amounts and offsets survive).
- ``canonical_jsonl``: one JSON object per line with the field names as keys; money
  as strings (``"1234.50"``) or numbers, ``connected`` as a boolean.

All three read and write both kinds. A header-only file (or a JSONL file with no
objects) gives zero records and no error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from portal.plugins import (
    AdapterFormat,
    ParseContext,
    ParsedRow,
    Record,
    RowIssue,
    Sniff,
    canonical_text,
    hookimpl,
    neutralise_formula,
)
from portal.plugins.records import CONTACT_FIELDS, FIELDS_BY_KIND, SETTLEMENT_FIELDS
from portal.plugins.tabular import (
    ZIP_MAGIC,
    guarded,
    iter_numbered_csv_rows,
    iter_numbered_xlsx_rows,
    iter_table,
    match_header,
    sample_rows,
    xlsx_sample_rows,
)

from adapters.canonical import jsonl

VERSION = "1.0"
CSV, XLSX, JSONL = "canonical_csv", "canonical_xlsx", "canonical_jsonl"
KINDS = ("contacts", "settlements")
# Every canonical name maps to itself; both kinds, so a wrong-kind file is recognised.
ALIASES = {name: name for name in CONTACT_FIELDS + SETTLEMENT_FIELDS}


@hookimpl
def adapter_formats() -> list[AdapterFormat]:
    return [
        AdapterFormat(
            CSV,
            "Canonical CSV (UTF-8)",
            KINDS,
            (".csv", ".txt"),
            VERSION,
            True,
            "contract 5 field names",
            labels=(("zh_CN", "标准 CSV（UTF-8）"),),
        ),
        AdapterFormat(
            XLSX,
            "Canonical Excel (.xlsx)",
            KINDS,
            (".xlsx",),
            VERSION,
            True,
            "first sheet, header row",
            labels=(("zh_CN", "标准 Excel（.xlsx）"),),
        ),
        AdapterFormat(
            JSONL,
            "Canonical JSON Lines",
            KINDS,
            (".jsonl", ".ndjson"),
            VERSION,
            True,
            "one object a line",
            labels=(("zh_CN", "标准 JSON Lines"),),
        ),
    ]


def _ext(filename: str | None, *extensions: str) -> bool:
    return bool(filename) and filename.lower().endswith(extensions)  # type: ignore[union-attr]


@hookimpl
def adapter_sniff(sample: bytes, filename: str | None) -> list[Sniff] | None:
    if sample.startswith(ZIP_MAGIC):
        rows = xlsx_sample_rows(sample)
        if not rows:
            # Too big to open from the sample, or not a workbook: only a weak guess.
            weak = 0.4 if _ext(filename, ".xlsx") else 0.2
            return [Sniff(XLSX, weak, "zip container; workbook not inspected")]
        confidence, kind = match_header(rows, ALIASES)
        return [Sniff(XLSX, confidence, f"first row is a canonical {kind} header")] if confidence else None
    answers = []
    json_kind = jsonl.sniff(sample)
    if json_kind is not None:
        answers.append(Sniff(JSONL, json_kind[0], json_kind[1]))
    else:
        confidence, kind = match_header(sample_rows(sample, encoding="utf-8"), ALIASES)
        if confidence:
            answers.append(Sniff(CSV, confidence, f"header has canonical {kind} columns"))
    return answers or None


@hookimpl
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    limits = context.limits
    if format_key == CSV:
        rows: Iterable[tuple[int, list]] = iter_numbered_csv_rows(stream, limits=limits, encoding="utf-8")
    elif format_key == XLSX:
        rows = iter_numbered_xlsx_rows(stream, limits=limits)
    elif format_key == JSONL:
        return guarded(jsonl.parse(stream, context))
    else:
        return None
    return guarded(iter_table(rows, kind=context.kind, aliases=ALIASES, numbered=True))


@hookimpl
def adapter_render(format_key: str, kind: str, records: Iterable[Record], out: BinaryIO) -> bool | None:
    if format_key not in (CSV, XLSX, JSONL):
        return None
    names = FIELDS_BY_KIND[kind]
    if format_key == JSONL:
        jsonl.render(records, out)
    elif format_key == CSV:
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
        writer = csv.writer(text)
        writer.writerow(names)
        for record in records:
            cells = canonical_text(record)
            writer.writerow([neutralise_formula(cells[name]) for name in names])
        text.flush()
        text.detach()  # leave ``out`` open for the host
    else:
        _render_xlsx(names, records, out)
    return True


def _render_xlsx(names: tuple[str, ...], records: Iterable[Record], out: BinaryIO) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title="records")
    sheet.append(list(names))
    for record in records:
        cells = canonical_text(record)
        # openpyxl stores any string starting with "=" as a formula: neutralise first.
        sheet.append([neutralise_formula(cells[name]) or None for name in names])
    book.save(out)
