"""JSON Lines for the canonical adapter: one record object per line, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO

from portal.plugins import ParseContext, ParsedRow, Record, RowIssue, build_row
from portal.plugins.records import FIELDS_BY_KIND, KINDS, REQUIRED_BY_KIND
from portal.plugins.tabular import FileProblem, decode_lines, iter_lines, sample_text

_SCALARS = (str, int, Decimal, bool)


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
    except ValueError:
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
    for line in lines:
        if not line.strip():
            continue
        number += 1
        try:
            obj = _load(line)
        except ValueError as exc:
            if number == 1:
                raise FileProblem(f"the first line is not JSON, so this is not a JSON Lines file ({exc})") from None
            yield RowIssue(number, "", "invalid_value", f"line is not valid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            if number == 1:
                raise FileProblem("the first line is not a JSON object, so this is not a JSON Lines file")
            yield RowIssue(number, "", "invalid_value", "line is not a JSON object")
            continue
        if len(obj) > context.limits.max_columns:
            raise FileProblem(f"line {number} has {len(obj)} keys; the limit is {context.limits.max_columns}")
        if number == 1:
            missing = [name for name in REQUIRED_BY_KIND[kind] if name not in obj]
            if missing:
                raise FileProblem(
                    f"missing required field(s) for {kind}: {', '.join(missing)}", "missing_field", "header"
                )
        bad = [
            key for key, value in obj.items() if key in known and value is not None and not isinstance(value, _SCALARS)
        ]
        if bad:
            for key in bad:
                yield RowIssue(number, key, "invalid_value", f"{key} must be a string, number or boolean")
            continue
        yield from build_row(kind, {key: obj.get(key) for key in known}, number)
    if number == 0:
        raise FileProblem("the file is empty")


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
