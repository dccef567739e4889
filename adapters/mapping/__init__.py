"""The mapping adapter: one format per partner mapping file, so an ordinary table needs no code.

Each ``*.toml`` (or ``*.json``) file in this package's ``partners/`` directory, and in
the directories the host passes as ``build_plugin_manager(mapping_dirs=...)``, is one
format whose key is the file's ``key``. A mapping names the file type (csv or xlsx),
the encoding, the title rows above the header, which partner column holds which
canonical field, the partner's words for enumerated values, its date formats and its
decimal mark. The reference is docs/adapters.md ("Mapping files"); the worked
example is ``partners/hx_contacts_xlsx.toml``.

Every mapping format can also write its layout (placement lists, round trips): the
mapped columns only, partner words, the first date format listed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import BinaryIO

from portal.plugins import (
    N_,
    AdapterFormat,
    AdapterSettings,
    ParseContext,
    ParsedRow,
    Record,
    RenderContext,
    RowIssue,
    Sniff,
    hookimpl,
    neutralise_formula,
)
from portal.plugins.fields import datetime_to_excel_serial
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

from adapters.mapping.config import PARTNERS_DIR, PartnerMapping, load_mapping, load_mappings

__all__ = ["PARTNERS_DIR", "PartnerMapping", "load_mapping", "load_mappings"]


def _mappings(settings: AdapterSettings) -> dict[str, PartnerMapping]:
    return load_mappings(settings.mapping_dirs)


@hookimpl
def adapter_formats(settings: AdapterSettings) -> list[AdapterFormat]:
    return [
        AdapterFormat(
            key=mapping.key,
            label=mapping.label,
            kinds=(mapping.kind,),
            extensions=mapping.extensions,
            version=mapping.version,
            can_export=True,
            description=f"{mapping.description} (mapping file {mapping.source})".strip(),
            labels=mapping.labels,
            agency=mapping.agency,
        )
        for mapping in _mappings(settings).values()
    ]


def _has_extension(filename: str | None, mapping: PartnerMapping) -> bool:
    return bool(filename) and filename.lower().endswith(mapping.extensions)  # type: ignore[union-attr]


def _sniff_one(mapping: PartnerMapping, sample: bytes, filename: str | None) -> Sniff | None:
    satisfied = mapping.defaults.keys()
    if mapping.file_type == "xlsx":
        if not sample.startswith(ZIP_MAGIC):
            return None
        rows = xlsx_sample_rows(sample, mapping.sheet)
        if not rows:
            weak = 0.4 if _has_extension(filename, mapping) else 0.2
            return Sniff(mapping.key, weak, "zip container; workbook not inspected")
    else:
        rows = sample_rows(sample, encoding=mapping.encoding, delimiter=mapping.delimiter, rows=mapping.title_rows + 5)
    confidence, kind = match_header(rows, mapping.columns, title_rows=mapping.title_rows, satisfied=satisfied)
    if not confidence or kind != mapping.kind:
        return None
    if confidence < 0.95 and _has_extension(filename, mapping):
        confidence += 0.05
    return Sniff(mapping.key, confidence, f"header matches mapping file {mapping.source}")


@hookimpl
def adapter_sniff(sample: bytes, filename: str | None, settings: AdapterSettings) -> list[Sniff] | None:
    answers = [_sniff_one(mapping, sample, filename) for mapping in _mappings(settings).values()]
    return [answer for answer in answers if answer is not None] or None


@hookimpl
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    mapping = _mappings(context.settings).get(format_key)
    if mapping is None:
        return None
    return guarded(_parse(mapping, stream, context))


def _parse(mapping: PartnerMapping, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue]:
    if context.kind != mapping.kind:
        # Said up front: the header check below would only list "missing" columns.
        yield RowIssue.of(
            0,
            "kind",
            "invalid_value",
            N_("format %(format)s reads %(kind)s, not %(wanted)s"),
            format=mapping.key,
            kind=mapping.kind,
            wanted=context.kind,
        )
        return
    if mapping.file_type == "xlsx":
        rows: Iterable[tuple[int, list]] = iter_numbered_xlsx_rows(stream, limits=context.limits, sheet=mapping.sheet)
    else:
        rows = iter_numbered_csv_rows(
            stream, limits=context.limits, encoding=mapping.encoding, delimiter=mapping.delimiter
        )
    yield from iter_table(
        rows,
        kind=mapping.kind,
        aliases=mapping.columns,
        dialect=mapping.dialect,
        title_rows=mapping.title_rows,
        defaults=mapping.defaults,
        numbered=True,
    )


def _partner_value(mapping: PartnerMapping, name: str, value: object) -> object:
    """A record value the way this partner writes it (the inverse of parsing)."""
    if value is None:
        return None
    if isinstance(value, bool):
        word = "true" if value else "false"
        return next((partner for partner, v in mapping.values.get(name, {}).items() if v == word), word)
    if isinstance(value, datetime | date):
        formats = mapping.datetime_formats if isinstance(value, datetime) else mapping.date_formats
        pattern = formats[0] if formats else None
        if pattern == "excel_serial":
            moment = value if isinstance(value, datetime) else datetime.combine(value, time())
            serial = round(datetime_to_excel_serial(moment), 8)
            return serial if mapping.file_type == "xlsx" else repr(serial)
        if pattern:
            return value.strftime(pattern)
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        text = f"{value:.2f}"
        return text.replace(".", ",") if mapping.decimal == "," else text
    if isinstance(value, int):
        return value
    text = str(value)
    for partner, canonical in mapping.values.get(name, {}).items():
        if canonical == text:
            return partner
    return neutralise_formula(text)


@hookimpl
def adapter_render(
    format_key: str, kind: str, records: Iterable[Record], out: BinaryIO, context: RenderContext
) -> bool | None:
    mapping = _mappings(context.settings).get(format_key)
    if mapping is None or mapping.kind != kind:
        return None
    headers = list(mapping.columns)
    fields = [mapping.columns[header] for header in headers]
    rows = ([_partner_value(mapping, name, getattr(record, name)) for name in fields] for record in records)
    if mapping.file_type == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(title=mapping.sheet if isinstance(mapping.sheet, str) else "Sheet1")
        for index in range(mapping.title_rows):
            sheet.append([mapping.label] if index == 0 else [])
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        book.save(out)
        return True
    encoding = "utf-8-sig" if mapping.encoding == "auto" else mapping.encoding
    text = io.TextIOWrapper(out, encoding=encoding, newline="")
    writer = csv.writer(text, delimiter=mapping.delimiter)
    for index in range(mapping.title_rows):
        writer.writerow([mapping.label] if index == 0 else [])
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if cell is None else str(cell) for cell in row])
    text.flush()
    text.detach()  # leave ``out`` open for the host
    return True
