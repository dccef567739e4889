"""JSON Lines for the canonical adapter: one record object per line, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO

from portal.plugins import N_, ParseContext, ParsedRow, Record, RowIssue, build_row
from portal.plugins.records import CONTACT_FIELDS, FIELDS_BY_KIND, KINDS, REQUIRED_BY_KIND, SETTLEMENT_FIELDS
from portal.plugins.tabular import FileProblem, decode_lines, iter_lines, sample_text

_SCALARS = (str, int, Decimal, bool)
_KEYS = {name: name for name in CONTACT_FIELDS + SETTLEMENT_FIELDS}


def _load(line: str) -> object:
    # Decimal keeps amounts exact; a float would turn 0.1 into 0.1000000000000000055...
    return json.loads(line, parse_float=Decimal)


def sniff(sample: bytes) -> tuple[float, str] | None:
    """(confidence, reason) when the sample's first line is a JSON object, else None."""
    text = sample_text(sample, "utf-8")
    if not text:
        return None
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first.lstrip().startswith("{"):
        return None
    try:
        obj = _load(first)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    for kind in KINDS:
        if all(name in obj for name in REQUIRED_BY_KIND[kind]):
            return 0.95, f"JSON objects with canonical {kind} keys"
    return 0.3, "JSON objects without the canonical keys"


def parse(stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue]:
    """Records of a JSON Lines stream; the first object's keys act as the header."""
    kind = context.kind
    known = set(FIELDS_BY_KIND[kind])
    lines = decode_lines(iter_lines(stream, max_line_bytes=context.limits.max_line_bytes), "utf-8")
    number = 0
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        number += 1
        try:
            obj = _load(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python recurses
            if number == 1:
                raise FileProblem(
                    N_("the first line is not JSON, so this is not a JSON Lines file (%(reason)s)"), reason=str(exc)
                ) from None
            yield RowIssue.of(
                number,
                "",
                "invalid_value",
                N_("line is not valid JSON (%(reason)s)"),
                line=line_number,
                reason=str(exc),
            )
            continue
        if not isinstance(obj, dict):
            if number == 1:
                raise FileProblem(N_("the first line is not a JSON object, so this is not a JSON Lines file"))
            yield RowIssue.of(number, "", "invalid_value", N_("line is not a JSON object"), line=line_number)
            continue
        if len(obj) > context.limits.max_columns:
            raise FileProblem(
                N_("line %(line)s has %(count)s keys; the limit is %(limit)s"),
                line=line_number,
                count=len(obj),
                limit=context.limits.max_columns,
            )
        if number == 1:
            missing = [name for name in REQUIRED_BY_KIND[kind] if name not in obj]
            if missing:
                raise FileProblem(
                    N_("missing required field(s) for %(kind)s: %(fields)s"),
                    "missing_field",
                    "header",
                    kind=kind,
                    fields=", ".join(missing),
                )
        bad = [
            key for key, value in obj.items() if key in known and value is not None and not isinstance(value, _SCALARS)
        ]
        if bad:
            for key in bad:
                yield RowIssue.of(
                    number,
                    key,
                    "invalid_value",
                    N_("%(column)s must be a string, number or boolean"),
                    column=key,
                    line=line_number,
                )
            continue
        # A JSON object's keys are its column headers: the canonical names themselves.
        yield from build_row(kind, {key: obj.get(key) for key in known}, number, line=line_number, columns=_KEYS)
    if number == 0:
        raise FileProblem(N_("the file is empty"))


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def render(records: Iterable[Record], out: BinaryIO) -> None:
    """One compact object per record; money as two-decimal strings, never floats."""
    for record in records:
        obj = {spec.name: _json_value(getattr(record, spec.name)) for spec in fields(record)}
        out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
