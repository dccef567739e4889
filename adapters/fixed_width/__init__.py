"""The fixed_width adapter: a legacy bank-style fixed-width text layout (see README.md here).

Format key ``fixed_width`` reads and writes both kinds. One record per line (LF or
CRLF), GB18030 text, positions and widths in **bytes**. A header record, detail
records, and a trailer whose record count and amount total must match the details:
if they do not, or the trailer is missing, the file is rejected with one row-0
``unreadable_file`` issue (rows already yielded are void: the host rejects a file
with any row-0 issue). The full layout, with code tables, is in ``LAYOUTS`` and in
README.md beside this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import BinaryIO

from portal.plugins import (
    N_,
    AdapterFormat,
    Dialect,
    ParseContext,
    ParsedRow,
    Record,
    RenderContext,
    RowIssue,
    Sniff,
    build_row,
    hookimpl,
)
from portal.plugins.tabular import FileProblem, guarded, iter_lines

VERSION = "1.0"
KEY = "fixed_width"
ENCODING = "gb18030"
LAYOUT_VERSION = b"01"
KIND_CODES = {"contacts": "C", "settlements": "S"}

# (field, width in bytes, type): X text left-aligned, 9 digits right-aligned, A amount
# in cents (implied 2 decimals), T YYYYMMDDHHMMSS, D YYYYMMDD, C a code from CODES.
Layout = tuple[tuple[str, int, str], ...]
LAYOUTS: dict[str, Layout] = {
    "contacts": (
        ("record_type", 1, "X"),
        ("case_ref", 20, "X"),
        ("contacted_at", 14, "T"),
        ("channel", 1, "C"),
        ("party", 2, "C"),
        ("phone", 20, "X"),
        ("outcome", 2, "C"),
        ("connected", 1, "C"),
        ("duration_s", 6, "9"),
        ("promise_amount", 15, "A"),
        ("promise_date", 8, "D"),
        ("collector_id", 10, "X"),
        ("recording_ref", 20, "X"),
        ("notes", 200, "X"),
    ),
    "settlements": (
        ("record_type", 1, "X"),
        ("case_ref", 20, "X"),
        ("paid_at", 14, "T"),
        ("amount", 15, "A"),
        ("method", 2, "C"),
        ("payment_ref", 32, "X"),
        ("type", 1, "C"),
        ("waiver_amount", 15, "A"),
        ("notes", 200, "X"),
    ),
}
RECORD_LENGTH = {kind: sum(width for _, width, _ in layout) for kind, layout in LAYOUTS.items()}


def _positions(layout: Layout) -> dict[str, str]:
    """{field: how README.md names it}: the field and its 1-based byte positions in a record."""
    out, start = {}, 0
    for name, width, _ in layout:
        out[name] = f"{name} (bytes {start + 1}-{start + width})"
        start += width
    return out


# What a row issue calls a field's "column": there is no header, so the layout's name and place.
COLUMNS = {kind: _positions(layout) for kind, layout in LAYOUTS.items()}
TOTAL_FIELD = {"contacts": "promise_amount", "settlements": "amount"}

CODES: dict[str, dict[str, str]] = {
    "channel": {"C": "call", "S": "sms", "V": "visit", "E": "email", "L": "letter", "I": "im"},
    "party": {
        "DB": "debtor",
        "SP": "spouse",
        "PA": "parent",
        "RE": "relative",
        "CO": "colleague",
        "FR": "friend",
        "EC": "emergency_contact",
        "TP": "third_party",
        "UN": "unknown",
    },
    "outcome": {
        "NA": "no_answer",
        "BS": "busy",
        "WN": "wrong_number",
        "RF": "refused",
        "PP": "promise_to_pay",
        "PD": "paid",
        "DS": "dispute",
        "CB": "callback",
        "LM": "left_message",
        "CR": "cease_request",
        "OT": "other",
    },
    "connected": {"Y": "true", "N": "false"},
    "method": {"BT": "bank_transfer", "AP": "alipay", "WX": "wechat_pay", "CD": "card", "CS": "cash", "OT": "other"},
    "type": {"P": "partial", "F": "full", "S": "settlement"},
}
DIALECT = Dialect(datetime_formats=("%Y%m%d%H%M%S",), date_formats=("%Y%m%d",), vocabularies=CODES)


@hookimpl
def adapter_formats() -> list[AdapterFormat]:
    return [
        AdapterFormat(
            KEY,
            "Bank-style fixed-width text",
            ("contacts", "settlements"),
            (".dat", ".txt"),
            VERSION,
            True,
            "header, detail and trailer records; GB18030; widths in bytes",
            labels=(("zh_CN", "银行定长文本"),),
        )
    ]


def _is_header(line: bytes) -> bool:
    return (
        len(line) >= 22
        and line[:1] == b"H"
        and line[1:9].isdigit()
        and line[19:20] in (b"C", b"S")
        and line[20:22] == LAYOUT_VERSION
    )


@hookimpl
def adapter_sniff(sample: bytes) -> list[Sniff] | None:
    if _is_header(sample.split(b"\n", 1)[0]):
        return [Sniff(KEY, 0.95, "fixed-width header record")]
    return None


@hookimpl
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    if format_key != KEY:
        return None
    return guarded(_parse(stream, context))


def _cents(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _check_header(line: bytes, context: ParseContext) -> None:
    if not _is_header(line):
        raise FileProblem(N_("the first record is not a fixed-width header record (H, date, agency, kind, 01)"))
    kind_code = line[19:20].decode("ascii")
    if kind_code != KIND_CODES[context.kind]:
        held = "contacts" if kind_code == "C" else "settlements"
        raise FileProblem(
            N_("the header says this file holds %(held)s, not %(kind)s"),
            "invalid_value",
            "kind",
            held=held,
            kind=context.kind,
        )
    agency = line[9:19].decode(ENCODING, "replace").strip()
    if context.agency_code and agency and agency != context.agency_code:
        raise FileProblem(
            N_("the header names agency %(agency)s, but the file was uploaded for %(uploader)s"),
            "invalid_value",
            "agency_code",
            agency=repr(agency),
            uploader=repr(context.agency_code),
        )


def _parse(stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue]:
    kind = context.kind
    layout, length = LAYOUTS[kind], RECORD_LENGTH[kind]
    count, total, trailer = 0, 0, None
    started = False
    for line_number, line in enumerate(iter_lines(stream, max_line_bytes=context.limits.max_line_bytes), start=1):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        if not started:
            _check_header(line, context)
            started = True
            continue
        if trailer is not None:
            raise FileProblem(N_("line %(line)s comes after the trailer record"), line=line_number)
        if line[:1] == b"T":
            trailer = line
            continue
        if line[:1] != b"D":
            raise FileProblem(
                N_("line %(line)s has record type %(type)s; expected D (detail) or T (trailer)"),
                line=line_number,
                type=repr(line[:1]),
            )
        count += 1
        if len(line) > length:
            yield RowIssue.of(
                count,
                "",
                "invalid_value",
                N_("record is %(length)s bytes long; the layout has %(limit)s"),
                line=line_number,
                length=len(line),
                limit=length,
            )
            continue
        yield from _detail(line.ljust(length), layout, count, line_number, kind)
        cents = _cents(_slice(line.ljust(length), layout, TOTAL_FIELD[kind]).decode("ascii", "replace").strip())
        total += cents or 0
    if not started:
        raise FileProblem(N_("the file is empty"))
    if trailer is None:
        raise FileProblem(N_("the file has no trailer record (T): it may have been cut short"))
    _check_trailer(trailer, count, total)


def _slice(line: bytes, layout: Layout, wanted: str) -> bytes:
    start = 0
    for name, width, _ in layout:
        if name == wanted:
            return line[start : start + width]
        start += width
    raise KeyError(wanted)


def _check_trailer(trailer: bytes, count: int, total: int) -> None:
    declared_count, declared_total = trailer[1:10], trailer[10:28]
    if not (declared_count.isdigit() and declared_total.isdigit()):
        raise FileProblem(N_("the trailer record must hold a 9-digit record count and an 18-digit amount total"))
    if int(declared_count) != count:
        raise FileProblem(
            N_("the trailer says %(declared)s detail records, but the file has %(count)s"),
            declared=int(declared_count),
            count=count,
        )
    if int(declared_total) != total:
        raise FileProblem(
            N_("the trailer's amount total is %(declared)s, but the detail records add up to %(total)s"),
            declared=f"{Decimal(int(declared_total)) / 100:.2f}",
            total=f"{Decimal(total) / 100:.2f}",
        )


def _detail(line: bytes, layout: Layout, row: int, line_number: int, kind: str) -> Iterator[ParsedRow | RowIssue]:
    raw: dict[str, str | None] = {}
    issues: list[RowIssue] = []
    start = 0
    for name, width, kind_code in layout:
        chunk = line[start : start + width]
        start += width
        if name == "record_type":
            continue
        try:
            text = chunk.decode(ENCODING).strip()
        except UnicodeDecodeError:
            issues.append(
                RowIssue.of(
                    row,
                    name,
                    "invalid_value",
                    N_("%(column)s is not valid %(encoding)s text"),
                    column=COLUMNS[kind][name],
                    line=line_number,
                    encoding=ENCODING,
                )
            )
            continue
        if kind_code == "A" and text:
            cents = _cents(text)
            text = f"{Decimal(cents) / 100:.2f}" if cents is not None else text
            if name == "waiver_amount" and cents == 0:
                text = ""
        raw[name] = text or None
    if issues:
        yield from issues
        return
    yield from build_row(kind, raw, row, DIALECT, line=line_number, columns=COLUMNS[kind])


def _fit(value: str, width: int, field: str, *, truncate: bool = False) -> bytes:
    data = value.encode(ENCODING)
    if len(data) > width:
        if not truncate:
            raise ValueError(f"{field} {value!r} does not fit the fixed-width layout ({width} bytes)")
        # Cut on a character boundary: a split multi-byte character would not decode.
        out = b""
        for char in value:
            encoded = char.encode(ENCODING)
            if len(out) + len(encoded) > width:
                break
            out += encoded
        data = out
    return data.ljust(width)


def _field(name: str, width: int, type_code: str, value: object) -> bytes:
    if value is None:
        return b" " * width
    if type_code == "T":
        return value.strftime("%Y%m%d%H%M%S").encode("ascii")  # type: ignore[attr-defined]
    if type_code == "D":
        return value.strftime("%Y%m%d").encode("ascii")  # type: ignore[attr-defined]
    if type_code == "A":
        return str(int(Decimal(value) * 100)).rjust(width, "0").encode("ascii")  # type: ignore[arg-type]
    if type_code == "9":
        return str(value).rjust(width, "0").encode("ascii")
    if type_code == "C":
        word = ("true" if value else "false") if isinstance(value, bool) else str(value)
        code = next(code for code, canonical in CODES[name].items() if canonical == word)
        return code.encode("ascii").ljust(width)
    return _fit(str(value), width, name, truncate=name == "notes")


@hookimpl
def adapter_render(
    format_key: str, kind: str, records: Iterable[Record], out: BinaryIO, context: RenderContext
) -> bool | None:
    if format_key != KEY:
        return None
    layout, length = LAYOUTS[kind], RECORD_LENGTH[kind]
    # The host passes the agency-local date; UTC today only stands in when it does not.
    file_date = context.file_date or datetime.now(UTC).date()
    header = b"H" + file_date.strftime("%Y%m%d").encode("ascii")
    header += _fit(context.agency_code or "", 10, "agency_code") + KIND_CODES[kind].encode("ascii") + LAYOUT_VERSION
    out.write(header.ljust(length) + b"\r\n")
    count, total = 0, 0
    for record in records:
        parts = [b"D"]
        for name, width, type_code in layout[1:]:
            parts.append(_field(name, width, type_code, getattr(record, name)))
        out.write(b"".join(parts) + b"\r\n")
        count += 1
        amount = getattr(record, TOTAL_FIELD[kind])
        total += int(amount * 100) if amount is not None else 0
    out.write((b"T" + str(count).rjust(9, "0").encode() + str(total).rjust(18, "0").encode()).ljust(length) + b"\r\n")
    return True


HEADER_LAYOUT: Layout = (
    ("record_type", 1, "X"),
    ("file_date", 8, "D"),
    ("agency_code", 10, "X"),
    ("kind", 1, "X"),
    ("layout_version", 2, "X"),
)
TRAILER_LAYOUT: Layout = (("record_type", 1, "X"), ("record_count", 9, "9"), ("amount_total", 18, "A"))
_NOTES = {
    "record_type": "`H` header, `D` detail, `T` trailer",
    "kind": "`C` contacts, `S` settlements",
    "layout_version": "`01`",
    "amount_total": "sum of the details' promise_amount (contacts) or amount (settlements), in cents",
    "record_count": "number of detail records",
}


def layout_markdown() -> str:
    """The layout as Markdown tables (the README and docs/adapters.md hold exactly this text)."""
    parts = []
    tables = [
        ("Header record", HEADER_LAYOUT),
        ("Contacts detail record", LAYOUTS["contacts"]),
        ("Settlements detail record", LAYOUTS["settlements"]),
        ("Trailer record", TRAILER_LAYOUT),
    ]
    for title, layout in tables:
        parts.append(f"**{title}**\n\n| from | bytes | type | field | values |\n|---:|---:|:-:|---|---|")
        position = 1
        for name, width, type_code in layout:
            codes = CODES.get(name)
            note = ", ".join(f"`{code}` {value}" for code, value in codes.items()) if codes else _NOTES.get(name, "")
            parts[-1] += f"\n| {position} | {width} | {type_code} | {name} | {note} |"
            position += width
    return "\n\n".join(parts) + "\n"
