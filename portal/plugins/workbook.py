"""Reading .xlsx sheets within ParseLimits: the zip and the sheet's extent are checked before calamine runs.

calamine holds a sheet's whole extent in memory (last row x last column, empty cells
included, about 32 bytes a cell) and allocates it in one piece: one cell at XFD1048576
asks for 550 GB and aborts the process. So the sheet's XML is read first, as a stream,
for its declared ``<dimension ref>`` and every ``<row r>`` and ``<c r>``, and a sheet
that reaches beyond ParseLimits (rows, columns, cells) is refused before calamine sees it.
"""

from __future__ import annotations

import functools
import io
import posixpath
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import BinaryIO
from xml.parsers import expat

from portal.plugins.fields import RawValue
from portal.plugins.problems import FileProblem
from portal.plugins.records import N_, ParseLimits

CHUNK = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"
_WORKBOOK = "xl/workbook.xml"
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_DIGITS = "0123456789"

Cell = RawValue


def _n(value: int) -> str:
    return f"{value:,}"


def _mb(size: int) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:,.0f}" if megabytes >= 10 else f"{megabytes:.1f}"


def column_letters(number: int) -> str:
    """Excel's letters for a 1-based column number (1 -> A, 16384 -> XFD)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def _hardened_parser() -> expat.XMLParserType:
    """An expat parser that refuses any DTD, so no entity can be declared, expanded or fetched.

    The same refusal as defusedxml's ``forbid_dtd``, on the bare parser: a start handler on
    the sheet's elements is 2.5 times faster than an ElementTree iterparse.
    """
    parser = expat.ParserCreate()

    def refuse(*_: object) -> None:
        raise FileProblem(N_("the workbook declares a document type (DTD), which no .xlsx file has; it is not read"))

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def _feed(parser: expat.XMLParserType, part: BinaryIO) -> None:
    try:
        while chunk := part.read(CHUNK):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise FileProblem(
            N_("the workbook is damaged: a part of it is not well-formed XML (%(reason)s)"), reason=str(exc)
        ) from None


def _attribute(attrs: list[str], name: str) -> str | None:
    """An attribute from expat's ordered list (name, value, name, value...); Excel writes ``r`` first."""
    if attrs and attrs[0] == name:
        return attrs[1]
    for index in range(2, len(attrs), 2):
        if attrs[index] == name:
            return attrs[index + 1]
    return None


class _SheetExtent:
    """The extent a sheet's XML declares and reaches, refused as soon as it passes the limits."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.last_row = 0
        self.last_column = 0
        self.columns: dict[str, int] = {}  # letters -> number, checked once: the few columns a sheet has

    def handler(self) -> Callable[[str, list[str]], None]:
        """expat's start handler (``ordered_attributes``): a few hundred nanoseconds a cell, it runs for each."""
        kinds: dict[str, str] = {}
        columns = self.columns
        row = column = last_row = last_column = 0
        suffix, cut = "", 0  # the current row's digits: most references end with them
        max_rows, max_cells = self.limits.max_rows, self.limits.max_cells

        def start(name: str, attrs: list[str]) -> None:
            nonlocal row, column, last_row, last_column, suffix, cut
            kind = kinds.get(name)
            if kind is None:
                kind = kinds[name] = name.rpartition(":")[2]  # spreadsheetml may come with a prefix
            if kind == "c":
                ref = attrs[1] if attrs and attrs[0] == "r" else _attribute(attrs, "r")
                if ref:
                    here = columns.get(ref[:cut])
                    if here is not None and ref.endswith(suffix):
                        at = row
                    else:
                        letters = ref.rstrip(_DIGITS)
                        digits = ref[len(letters) :]
                        here = columns.get(letters)
                        if here is None or not digits:
                            here = self.column_of(ref, letters, digits)
                        # Beyond nine digits is beyond every limit (and int() refuses thousands of digits).
                        at = int(digits) if len(digits) <= 9 else self.limits.max_rows + 1
                else:
                    here, at = column + 1, row
                column = here
                if here > last_column or at > last_row:
                    self.reach(at, here)
                    last_row, last_column = self.last_row, self.last_column
            elif kind == "row":
                number = attrs[1] if attrs and attrs[0] == "r" else _attribute(attrs, "r")
                row = self.whole_number(number) if number else row + 1
                suffix = str(row)
                cut = -len(suffix)
                column = 0
                if row > last_row:
                    if row > max_rows or row * last_column > max_cells:
                        self.reach(row, max(last_column, 1))
                    self.last_row = last_row = row
            elif kind == "dimension":
                self.declared(_attribute(attrs, "ref") or "")

        return start

    def column_of(self, ref: str, letters: str, digits: str) -> int:
        if not (letters.isascii() and letters.isalpha() and digits.isascii() and digits.isdigit()):
            raise FileProblem(
                N_("the workbook is damaged: the sheet names a cell %(ref)s that is not a cell reference"),
                ref=ref[:20],
            )
        if len(letters) > 3:  # beyond XFD, Excel's last column
            raise self.too_wide(N_("the sheet has a cell at %(cell)s; at most %(limit)s columns are read"), ref)
        column = self.columns[letters] = _column_number(letters)
        return column

    def whole_number(self, text: str) -> int:
        if len(text) > 9 or not (text.isascii() and text.isdigit()):
            raise FileProblem(
                N_("the workbook is damaged: the sheet names a row %(row)s that is not a row number"), row=text[:20]
            )
        return int(text)

    def too_wide(self, template: str, cell: str) -> FileProblem:
        return FileProblem(template, cell=cell[:20], limit=_n(self.limits.max_columns))

    def reach(self, row: int, column: int) -> None:
        self.last_row = max(self.last_row, row)
        self.last_column = max(self.last_column, column)
        self.check(
            row,
            column,
            self.last_row,
            self.last_column,
            (
                N_("the sheet has a cell at %(cell)s; at most %(limit)s columns are read"),
                N_("the sheet has a cell at %(cell)s; at most %(limit)s rows are read"),
                N_("the sheet has cells up to %(cell)s, %(count)s cells counting the empty ones; "
                   "at most %(limit)s cells are read"),
            ),
        )  # fmt: skip

    def declared(self, ref: str) -> None:
        end = ref.rpartition(":")[2].replace("$", "")
        letters = end.rstrip(_DIGITS)
        digits = end[len(letters) :]
        if not end:
            return
        templates = (
            N_("the sheet declares cells up to %(cell)s; at most %(limit)s columns are read"),
            N_("the sheet declares cells up to %(cell)s; at most %(limit)s rows are read"),
            N_("the sheet declares cells up to %(cell)s, %(count)s cells counting the empty ones; "
               "at most %(limit)s cells are read"),
        )  # fmt: skip
        if not (letters.isascii() and letters.isalpha() and digits.isascii() and digits.isdigit()):
            raise FileProblem(
                N_("the workbook is damaged: the sheet declares an extent %(ref)s that is not a range of cells"),
                ref=ref[:40],
            )
        if len(letters) > 3:
            raise self.too_wide(templates[0], end)
        row = self.whole_number(digits) if len(digits) <= 9 else self.limits.max_rows + 1
        column = _column_number(letters)
        self.check(row, column, row, column, templates)

    def check(self, row: int, column: int, rows: int, columns: int, templates: tuple[str, str, str]) -> None:
        limits = self.limits
        if columns > limits.max_columns:
            raise self.too_wide(templates[0], f"{column_letters(column)}{row}")
        if rows > limits.max_rows:
            raise FileProblem(templates[1], cell=f"{column_letters(column)}{row}", limit=_n(limits.max_rows))
        if rows * columns > limits.max_cells:
            raise FileProblem(
                templates[2],
                cell=f"{column_letters(columns)}{rows}",
                count=_n(rows * columns),
                limit=_n(limits.max_cells),
            )


def scan_sheet(part: BinaryIO, limits: ParseLimits) -> tuple[int, int]:
    """(last row, last column) of a sheet's XML, read as a stream; a FileProblem past ``limits``."""
    extent = _SheetExtent(limits)
    parser = _hardened_parser()
    parser.ordered_attributes = True
    parser.StartElementHandler = extent.handler()
    _feed(parser, part)
    return extent.last_row, extent.last_column


def _elements(archive: zipfile.ZipFile, name: str, local: str) -> list[dict[str, str]]:
    """The attributes of every ``local`` element of one small part, with namespace prefixes dropped."""
    found: list[dict[str, str]] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag.rpartition(":")[2] == local:
            found.append({key.rpartition(":")[2]: value for key, value in attrs.items()})

    parser = _hardened_parser()
    parser.StartElementHandler = start
    with archive.open(name) as part:
        _feed(parser, part)  # type: ignore[arg-type]
    return found


def _sheet_parts(archive: zipfile.ZipFile, sheet: int | str) -> list[str]:
    """The part(s) holding the sheet calamine will read: by workbook.xml and its relationships.

    When they do not say (an unusual producer), every worksheet part is checked.
    """
    names = set(archive.namelist())
    everything = sorted(name for name in names if name.startswith("xl/worksheets/") and name.endswith(".xml"))
    if _WORKBOOK_RELS not in names:
        return everything
    sheets = _elements(archive, _WORKBOOK, "sheet")
    targets = {item.get("Id"): item.get("Target", "") for item in _elements(archive, _WORKBOOK_RELS, "Relationship")}
    if isinstance(sheet, int):
        chosen = sheets[sheet] if 0 <= sheet < len(sheets) else None
    else:
        chosen = next((item for item in sheets if item.get("name") == sheet), None)
    if chosen is None:
        return []  # calamine reports the missing sheet itself, before reading any cell
    target = targets.get(chosen.get("id"))
    if not target:
        return everything
    path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return [path] if path in names else everything


def check_workbook(archive: zipfile.ZipFile, limits: ParseLimits, sheet: int | str = 0) -> None:
    """Refuse a workbook that is not one, unpacks beyond the limits, or whose sheet reaches beyond them."""
    entries = archive.infolist()
    if len(entries) > limits.max_xlsx_entries:
        raise FileProblem(
            N_("the .xlsx file has %(count)s parts; the limit is %(limit)s"),
            count=len(entries),
            limit=limits.max_xlsx_entries,
        )
    declared = sum(entry.file_size for entry in entries)
    if declared > limits.max_xlsx_uncompressed_bytes:
        packed = sum(entry.compress_size for entry in entries)
        raise FileProblem(
            N_("the .xlsx file unpacks to %(size)s MB from %(packed)s MB; at most %(limit)s MB are read"),
            size=_mb(declared),
            packed=_mb(packed),
            limit=_mb(limits.max_xlsx_uncompressed_bytes),
        )
    if _WORKBOOK not in archive.namelist():
        raise FileProblem(N_("the file is a zip archive but not an Excel .xlsx workbook"))
    scanned = set(_sheet_parts(archive, sheet))
    # Declared sizes can lie; zipfile stops at the declared size and checks the CRC,
    # so inflating every part once proves the bound before calamine sees the bytes.
    for entry in entries:
        with archive.open(entry) as part:
            if entry.filename in scanned:
                scan_sheet(part, limits)  # type: ignore[arg-type]
            else:
                while part.read(CHUNK):
                    pass


def _cell(value: object) -> Cell:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value  # type: ignore[return-value]


def iter_numbered_xlsx_rows(
    stream: BinaryIO, *, limits: ParseLimits, sheet: int | str = 0
) -> Iterator[tuple[int, list[Cell]]]:
    """(sheet row, cells) for each row of one sheet, numbered as Excel shows them (from 1)."""
    # calamine's iter_rows starts at the sheet's row 1, empty leading rows included.
    return enumerate(iter_xlsx_rows(stream, limits=limits, sheet=sheet), start=1)


def iter_xlsx_rows(stream: BinaryIO, *, limits: ParseLimits, sheet: int | str = 0) -> Iterator[list[Cell]]:
    """Rows of one sheet of an .xlsx stream (spooled to a temp file: zip needs seeking)."""
    import python_calamine  # imported here: only .xlsx readers pay for it

    with tempfile.TemporaryFile() as spool:
        total = 0
        while chunk := stream.read(CHUNK):
            total += len(chunk)
            if total > limits.max_xlsx_uncompressed_bytes:
                raise FileProblem(
                    N_("the .xlsx file is larger than %(limit)s bytes"), limit=limits.max_xlsx_uncompressed_bytes
                )
            spool.write(chunk)
        if total == 0:
            raise FileProblem(N_("the file is empty"))
        spool.seek(0)
        try:
            with zipfile.ZipFile(spool) as archive:
                check_workbook(archive, limits, sheet)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise FileProblem(
                N_("the .xlsx workbook is damaged or cut short (%(reason)s)"), reason=str(exc)[:200]
            ) from None
        spool.seek(0)
        try:
            book = python_calamine.CalamineWorkbook.from_filelike(spool)
            found = book.get_sheet_by_index(sheet) if isinstance(sheet, int) else book.get_sheet_by_name(sheet)
            if found.width > limits.max_columns:
                raise FileProblem(
                    N_("the sheet has %(count)s columns; the limit is %(limit)s"),
                    count=found.width,
                    limit=limits.max_columns,
                )
            rows = found.iter_rows()
        except python_calamine.CalamineError as exc:
            raise FileProblem(
                N_("the .xlsx workbook is damaged or cut short (%(reason)s)"), reason=str(exc)[:200]
            ) from None
        except (IndexError, KeyError, ValueError) as exc:
            raise FileProblem(
                N_("sheet %(sheet)s not found in the workbook (%(reason)s)"), sheet=repr(sheet), reason=str(exc)
            ) from None
        for cells in rows:
            yield [_cell(value) for value in cells]


def xlsx_sample_rows(sample: bytes, sheet: int | str = 0) -> list[list[Cell]]:
    """The first 30 rows of an .xlsx sniffing sample that holds the whole file; [] otherwise."""
    if not sample.startswith(ZIP_MAGIC):
        return []
    head = _xlsx_head(sample, sheet, 30)
    return [] if isinstance(head, FileProblem) else [list(cells) for cells in head]


def xlsx_sample_problem(sample: bytes, sheet: int | str = 0) -> FileProblem | None:
    """Why an .xlsx sample cannot be read (as parsing it would say), or None when it can."""
    if not sample.startswith(ZIP_MAGIC):
        return None
    head = _xlsx_head(sample, sheet, 30)
    return head if isinstance(head, FileProblem) else None


def is_whole_zip(sample: bytes) -> bool:
    """True when the bytes end with a zip's end record (a sample cut short by the sniffer does not)."""
    return _ZIP_END in sample[-(64 * 1024 + 22) :]


@functools.lru_cache(maxsize=4)
def _xlsx_head(sample: bytes, sheet: int | str, rows: int) -> tuple[tuple[Cell, ...], ...] | FileProblem:
    # Several formats sniff the same sample, and the host asks why when none fits: open it once.
    out: list[tuple[Cell, ...]] = []
    try:
        for cells in iter_xlsx_rows(io.BytesIO(sample), limits=ParseLimits(), sheet=sheet):
            out.append(tuple(cells))
            if len(out) >= rows:
                break
    except FileProblem as problem:
        # Kept in the cache: without its traceback, which holds the reader's frames and spool file.
        problem.__traceback__ = problem.__context__ = None
        return problem
    return tuple(out)
