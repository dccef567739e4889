"""Streaming readers for tables (CSV and .xlsx) with hostile-input limits, shared by adapters.

The .xlsx readers live in ``portal.plugins.workbook`` and FileProblem in ``portal.plugins.problems``;
both are re-exported here, where adapters have always imported them from.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

from portal.plugins.fields import CANONICAL_DIALECT, Dialect, RawValue, build_row, normalise_word
from portal.plugins.plan import TablePlan
from portal.plugins.problems import FileProblem, guarded
from portal.plugins.records import (
    FIELDS_BY_KIND,
    KINDS,
    N_,
    REQUIRED_BY_KIND,
    ParsedRow,
    ParseLimits,
    RowIssue,
)
from portal.plugins.workbook import (
    CHUNK,
    ZIP_MAGIC,
    iter_numbered_xlsx_rows,
    iter_xlsx_rows,
    xlsx_sample_problem,
    xlsx_sample_rows,
)

__all__ = [
    "CHUNK",
    "ZIP_MAGIC",
    "FileProblem",
    "decode_lines",
    "detect_bom",
    "format_cell",
    "guarded",
    "header_names",
    "is_blank",
    "iter_csv_rows",
    "iter_lines",
    "iter_numbered_csv_rows",
    "iter_numbered_xlsx_rows",
    "iter_table",
    "iter_xlsx_rows",
    "match_header",
    "resolve_header",
    "sample_rows",
    "sample_text",
    "xlsx_sample_problem",
    "xlsx_sample_rows",
]
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)

Cell = RawValue
Item = ParsedRow | RowIssue
Sniffed = tuple[float, str | None]
# A row of cells and the 1-based line (or sheet row) where it starts.
NumberedRow = tuple[int, list[Cell]]


def iter_lines(stream: BinaryIO, *, max_line_bytes: int, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """Physical lines of a binary stream (terminators kept), never holding more than one line.

    Splitting on ``\\n`` is safe for UTF-8, GBK and GB18030: none of them uses that byte
    inside a multi-byte character.
    """
    pending = b""
    number = 0
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        pending += chunk
        start = 0
        while True:
            end = pending.find(b"\n", start)
            if end < 0:
                break
            number += 1
            if end + 1 - start > max_line_bytes:
                raise FileProblem(
                    N_("line %(line)s is longer than the limit of %(limit)s bytes"), line=number, limit=max_line_bytes
                )
            yield pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
        if len(pending) > max_line_bytes:
            raise FileProblem(
                N_("line %(line)s is longer than the limit of %(limit)s bytes"), line=number + 1, limit=max_line_bytes
            )
    if pending:
        yield pending


def detect_bom(head: bytes) -> str | None:
    """'utf-8' for a UTF-8 BOM; raises FileProblem for UTF-16/32 BOMs; None without a BOM."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith(_UTF32_BOMS):
        raise FileProblem(N_("the file is UTF-32 text; save it as UTF-8 (or GBK) CSV"))
    if head.startswith(_UTF16_BOMS):
        raise FileProblem(N_("the file is UTF-16 text; save it as UTF-8 (or GBK) CSV"))
    return None


class _Decoder:
    """Strict decoding of successive lines, with ``encoding="auto"`` (see decode_lines)."""

    def __init__(self, encoding: str) -> None:
        self.chosen: str | None = None if encoding == "auto" else encoding

    def line(self, line: bytes, number: int) -> str:
        """Line ``number`` (1-based) as text, or a FileProblem."""
        if number == 1:
            bom = detect_bom(line)
            if bom:
                line = line[len(codecs.BOM_UTF8) :]
                self.chosen = self.chosen or bom
        if b"\x00" in line:
            raise FileProblem(
                N_("line %(line)s contains NUL bytes: this is not a text file (or it is UTF-16)"), line=number
            )
        if self.chosen is None:
            if line.isascii():
                return line.decode("ascii")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                self.chosen = "gb18030"
            else:
                self.chosen = "utf-8"
                return text
        try:
            return line.decode(self.chosen)
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"line {number} is not valid {self.chosen} text (byte {exc.start + 1} of the line)"
            ) from None
        except LookupError:
            raise FileProblem(N_("unknown text encoding %(encoding)s"), encoding=repr(self.chosen)) from None

    def block(self, block: bytes) -> str | None:
        """Whole lines after the first, decoded at once; None when one of them needs ``line``'s rules."""
        if b"\x00" in block:
            return None
        if self.chosen is None:
            return block.decode("ascii") if block.isascii() else None
        if not _decodes_by_block(self.chosen):
            return None
        try:
            return block.decode(self.chosen)
        except UnicodeDecodeError:
            return None


@functools.lru_cache(maxsize=16)
def _decodes_by_block(encoding: str) -> bool:
    # Stateless codecs in which a b"\n" byte is always a whole character: decoding
    # lines together gives the same text as decoding them one by one.
    try:
        return codecs.lookup(encoding).name in {"utf-8", "gb18030", "gbk", "gb2312", "ascii"}
    except LookupError:
        return False


def decode_lines(lines: Iterable[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """Decode lines strictly; ``encoding="auto"`` means BOM, then UTF-8, then GB18030.

    Auto-detection decides at the first non-ASCII line and then holds to that choice,
    so a huge file is never buffered; a later line that does not decode ends the file
    with a FileProblem (a row-0 issue: the host rejects the whole file).
    """
    decoder = _Decoder(encoding)
    for number, line in enumerate(lines, start=1):
        yield decoder.line(line, number)


def _line_batches(stream: BinaryIO, *, max_line_bytes: int, encoding: str) -> Iterator[Iterable[str]]:
    """The lines of ``decode_lines(iter_lines(stream, ...), encoding)``, a chunk of them at a time.

    The whole lines of a chunk are decoded in one call when they are short and decode
    cleanly; otherwise they go one by one through the same checks as iter_lines and
    decode_lines, so a problem is reported at the same line, with the same message,
    after the same lines.
    """
    decoder = _Decoder(encoding)
    number = 0  # lines handed out so far
    pending = b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        if cut:
            block, pending = pending[:cut], pending[cut:]
            lines = io.BytesIO(block)
            if number == 0:
                # The first line has rules of its own (a BOM decides the encoding).
                first = lines.readline()
                number = 1
                if len(first) > max_line_bytes:
                    raise FileProblem(
                        N_("line %(line)s is longer than the limit of %(limit)s bytes"), line=1, limit=max_line_bytes
                    )
                yield (decoder.line(first, 1),)
                block = block[len(first) :]
            # Lines that fit within the limit together cannot break it one by one.
            text = decoder.block(block) if block and len(block) <= max_line_bytes else None
            if text is not None:
                number += block.count(b"\n")
                yield io.StringIO(text, newline="\n")
            else:
                for line in lines:
                    number += 1
                    if len(line) > max_line_bytes:
                        raise FileProblem(
                            N_("line %(line)s is longer than the limit of %(limit)s bytes"),
                            line=number,
                            limit=max_line_bytes,
                        )
                    yield (decoder.line(line, number),)
        if len(pending) > max_line_bytes:
            raise FileProblem(
                N_("line %(line)s is longer than the limit of %(limit)s bytes"), line=number + 1, limit=max_line_bytes
            )
    if pending:
        yield (decoder.line(pending, number + 1),)


def iter_csv_rows(
    stream: BinaryIO, *, limits: ParseLimits, encoding: str = "utf-8", delimiter: str = ","
) -> Iterator[list[str]]:
    """CSV rows of a byte stream, decoded as ``decode_lines`` does, within ``limits``."""
    for _, cells in iter_numbered_csv_rows(stream, limits=limits, encoding=encoding, delimiter=delimiter):
        yield cells


def iter_numbered_csv_rows(
    stream: BinaryIO, *, limits: ParseLimits, encoding: str = "utf-8", delimiter: str = ","
) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for each CSV row: the 1-based line the row starts on, as a text editor counts.

    A quoted cell may span lines; the next row starts after the last line the reader took.
    """
    batches = _line_batches(stream, max_line_bytes=limits.max_line_bytes, encoding=encoding)
    reader = csv.reader(itertools.chain.from_iterable(batches), delimiter=delimiter, strict=False)
    max_columns = limits.max_columns
    start = 1
    try:
        for cells in reader:
            if len(cells) > max_columns:
                raise FileProblem(
                    N_("row at line %(line)s has %(count)s columns; the limit is %(limit)s"),
                    line=reader.line_num,
                    count=len(cells),
                    limit=max_columns,
                )
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FileProblem(
            N_("not a readable CSV file near line %(line)s: %(reason)s"), line=reader.line_num, reason=str(exc)
        ) from None


def sample_text(sample: bytes, encoding: str = "auto") -> str | None:
    """The first bytes of a file as text for sniffing (last, possibly cut, line dropped), or None."""
    if b"\x00" in sample[:4096]:
        return None
    try:
        bom = detect_bom(sample)
    except FileProblem:
        return None
    body = sample[len(codecs.BOM_UTF8) :] if bom else sample
    cut = body.rfind(b"\n")
    # A sample usually ends inside a line, maybe inside a character: try without that line too.
    bodies = (body, body[: cut + 1]) if 0 <= cut < len(body) - 1 else (body,)
    for candidate in ("utf-8", "gb18030") if encoding == "auto" else (encoding,):
        for text in bodies:
            try:
                return text.decode(candidate)
            except (UnicodeDecodeError, LookupError):
                continue
    return None


def sample_rows(sample: bytes, *, encoding: str = "auto", delimiter: str = ",", rows: int = 5) -> list[list[str]]:
    """Up to ``rows`` CSV rows from a sniffing sample; [] when it is not text."""
    text = sample_text(sample, encoding)
    if text is None:
        return []
    out: list[list[str]] = []
    try:
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            out.append(cells)
            if len(out) >= rows:
                break
    except csv.Error:
        return out
    return out


def header_names(cells: Iterable[Cell]) -> list[str]:
    """Header cells as comparable words (see normalise_word)."""
    return [normalise_word(str(cell)).lstrip("\ufeff") if cell is not None else "" for cell in cells]


def is_blank(cells: Iterable[Cell]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def resolve_header(
    cells: list[Cell], aliases: Mapping[str, str], kind: str, satisfied: Iterable[str] = ()
) -> dict[str, int]:
    """{canonical field: column index}, or a FileProblem naming missing or doubled columns.

    ``satisfied``: fields that need no column (a mapping file gives them a default).
    """
    lookup = {normalise_word(alias): name for alias, name in aliases.items()}
    display: dict[str, str] = {}
    for alias, name in aliases.items():
        display.setdefault(name, alias)
    columns: dict[str, int] = {}
    for index, word in enumerate(header_names(cells)):
        name = lookup.get(word)
        if name is None:
            continue
        if name in columns:
            raise FileProblem(
                N_("column %(column)s appears twice in the header (columns %(first)s and %(second)s)"),
                column=repr(display[name]),
                first=columns[name] + 1,
                second=index + 1,
            )
        columns[name] = index
    missing = [name for name in REQUIRED_BY_KIND[kind] if name not in columns and name not in set(satisfied)]
    if missing:
        wanted = ", ".join(display.get(name, name) for name in missing)
        for other in KINDS:
            if other != kind and all(name in columns for name in REQUIRED_BY_KIND[other]):
                raise FileProblem(
                    N_("missing required column(s) for %(kind)s: %(columns)s; this looks like a %(other)s file"),
                    "missing_field",
                    "header",
                    kind=kind,
                    columns=wanted,
                    other=other,
                )
        raise FileProblem(
            N_("missing required column(s) for %(kind)s: %(columns)s"),
            "missing_field",
            "header",
            kind=kind,
            columns=wanted,
        )
    return columns


def iter_table(
    rows: Iterable[list[Cell]] | Iterable[NumberedRow],
    *,
    kind: str,
    aliases: Mapping[str, str],
    dialect: Dialect = CANONICAL_DIALECT,
    title_rows: int = 0,
    defaults: Mapping[str, str] | None = None,
    translate: Callable[[dict[str, Cell]], dict[str, Cell]] | None = None,
    numbered: bool = False,
) -> Iterator[Item]:
    """Header row, then one ParsedRow or the RowIssues of each non-blank data row.

    ``aliases`` maps header text to canonical field names; unknown columns are
    ignored. ``title_rows`` physical rows are skipped, then blank rows, before the
    header. A header-only file yields nothing (an empty upload is not an error); a
    file with no header at all is a FileProblem.

    ``numbered``: ``rows`` are (line, cells) pairs, as iter_numbered_csv_rows and
    iter_numbered_xlsx_rows give them; otherwise a row's line is its position in
    ``rows`` (exact unless a quoted CSV cell spans lines). Every ParsedRow and RowIssue
    carries that line and the file's own header text for each field.
    """
    iterator: Iterator[NumberedRow] = iter(rows) if numbered else enumerate(rows, start=1)  # type: ignore[arg-type]
    for _ in range(title_rows):
        if next(iterator, None) is None:
            raise FileProblem(
                N_("the file ends inside its %(count)s title row(s), before the header"), count=title_rows
            )
    found = next((pair for pair in iterator if not is_blank(pair[1])), None)
    if found is None:
        raise FileProblem(N_("the file is empty: expected a header row"))
    header = found[1]
    columns = resolve_header(header, aliases, kind, defaults or {})
    width = len(header)
    known = set(FIELDS_BY_KIND[kind])
    # The header as the user wrote it, for messages: "催收时间", not contacted_at.
    shown = {name: str(header[index]).strip().lstrip("\ufeff").strip() for name, index in columns.items()}
    # Most rows are built straight from their stripped cells by a plan made once per
    # file; a row the plan declines (an issue, an unusual value, the wrong width, a
    # non-text cell) goes through build_row as every row did before.
    plan = TablePlan(kind, columns, width, dialect, defaults)
    fast = plan.build if plan.usable and translate is None else None
    strip = str.strip
    texts = True  # every cell so far was text (always so in CSV; .xlsx rows have numbers and None)
    number = 0
    for line, cells in iterator:
        stripped: list[str] | None = None
        if texts:
            try:
                # Stripped once, for the blank test and the plan.
                stripped = list(map(strip, cells))  # type: ignore[arg-type]
            except TypeError:
                texts = False
        if stripped is None:
            if is_blank(cells):
                continue
        elif not any(stripped):
            continue
        number += 1
        if fast is not None and stripped is not None and len(cells) == width:
            record = fast(stripped)
            if record is not None:
                yield ParsedRow(number, record, line, shown)
                continue
        if len(cells) > width and not is_blank(cells[width:]):
            yield RowIssue.of(
                number,
                "",
                "invalid_value",
                N_("row has %(cells)s cells but the header has %(width)s columns"),
                line=line,
                cells=len(cells),
                width=width,
            )
            continue
        raw: dict[str, Cell] = {
            name: cells[index] if index < len(cells) else None for name, index in columns.items() if name in known
        }
        for name, value in (defaults or {}).items():
            if name in known and raw.get(name) is None:
                raw[name] = value
        if translate is not None:
            raw = translate(raw)
        yield from build_row(kind, raw, number, dialect, line=line, columns=shown)


def format_cell(value: object, *, datetime_format: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Canonical text for one value when writing a table (money with 2 decimals)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.isoformat(sep=" ")
        return value.strftime(datetime_format)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


def match_header(
    rows: Iterable[Iterable[Cell]], aliases: Mapping[str, str], *, title_rows: int = 0, satisfied: Iterable[str] = ()
) -> Sniffed:
    """How well the header (first non-blank row after ``title_rows``) fits ``aliases``.

    (0.95, kind) when every required column of a kind is there, (0.5, kind) when at
    least half are, (0.0, None) otherwise. Shared so that every table format sniffs
    the same way and the host's ranking compares like with like.
    """
    remaining = list(rows)[title_rows:]
    header = next((cells for cells in remaining if not is_blank(cells)), None)
    if header is None:
        return 0.0, None
    lookup = {normalise_word(alias): name for alias, name in aliases.items()}
    names = {lookup[word] for word in header_names(header) if word in lookup} | set(satisfied)
    best: Sniffed = (0.0, None)
    for kind in KINDS:
        required = REQUIRED_BY_KIND[kind]
        present = sum(1 for name in required if name in names)
        if present == len(required):
            return 0.95, kind
        if present * 2 >= len(required) and best[0] < 0.5:
            best = (0.5, kind)
    return best
