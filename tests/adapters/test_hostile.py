"""Hostile files: every format answers with row issues, never an exception or unbounded memory."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from portal.plugins import (
    ParseContext,
    ParsedRow,
    ParseLimits,
    RowIssue,
    UnknownFormatError,
    build_plugin_manager,
    choose_format,
    parse,
)
from portal.plugins.diagnosis import describe_sample
from portal.plugins.tabular import xlsx_sample_problem, xlsx_sample_rows
from portal.testing import NonSeekableStream
from tests.adapters.adapter_golden import DATA, csv_bytes, xlsx_bytes

KEYS = ["canonical_csv", "canonical_xlsx", "canonical_jsonl", "cn_gbk_csv", "fixed_width", "mapping_hx_contacts"]
LINE_KEYS = ["canonical_csv", "canonical_jsonl", "cn_gbk_csv", "fixed_width"]
CONTACTS_CSV = (DATA / "contacts_canonical.csv").read_bytes()
GARBAGE = random.Random(99).randbytes(50_000)


def _parse(key: str, data: bytes, kind: str = "contacts", limits: ParseLimits | None = None) -> list:
    context = ParseContext(kind, limits=limits or ParseLimits())
    return list(parse(build_plugin_manager(), key, NonSeekableStream(data, 65536), context, strict=True))


def _file_issue(items: list) -> RowIssue:
    issues = [item for item in items if isinstance(item, RowIssue) and item.row == 0]
    assert len(issues) == 1, items[:5]
    return issues[0]


@pytest.mark.parametrize("key", KEYS)
def test_empty_file(key: str) -> None:
    issue = _file_issue(_parse(key, b""))
    assert issue.code == "unreadable_file" and "empty" in issue.message


@pytest.mark.parametrize("key", KEYS)
def test_binary_garbage(key: str) -> None:
    issue = _file_issue(_parse(key, GARBAGE))
    assert issue.code in {"unreadable_file", "missing_field"}


def test_garbage_matches_no_format() -> None:
    with pytest.raises(UnknownFormatError):
        choose_format(build_plugin_manager(), GARBAGE, "upload.csv", "contacts")


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("canonical_csv", CONTACTS_CSV.split(b"\n")[0] + b"\n"),
        ("cn_gbk_csv", (DATA / "contacts_cn_gbk.csv").read_bytes().split(b"\n")[0]),
        ("canonical_xlsx", xlsx_bytes([CONTACTS_CSV.decode().split("\n")[0].split(",")])),
        ("fixed_width", b"H20261125ZC        C01\nT000000000000000000000000000\n"),
    ],
)
def test_header_only_is_zero_records_and_no_error(key: str, data: bytes) -> None:
    assert _parse(key, data) == []


def test_truncated_xlsx() -> None:
    whole = xlsx_bytes([["case_ref"], ["x"]])
    issue = _file_issue(_parse("canonical_xlsx", whole[: len(whole) - 100]))
    assert issue.code == "unreadable_file" and ".xlsx" in issue.message


def _bomb(size: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * size)
    return out.getvalue()


def test_xlsx_zip_bomb_is_refused_by_declared_size() -> None:
    data = _bomb(5_000_000)
    assert len(data) < 20_000
    issue = _file_issue(_parse("canonical_xlsx", data, limits=ParseLimits(max_xlsx_uncompressed_bytes=1_000_000)))
    assert "unpacks to" in issue.message


def test_xlsx_zip_bomb_that_lies_about_its_size_is_refused() -> None:
    data = bytearray(_bomb(5_000_000))
    # Declare 1,000 bytes for the big part in both the local and the central header.
    local = data.index(b"PK\x03\x04", data.index(b"xl/worksheets") - 60)
    central = data.rindex(b"PK\x01\x02")
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    issue = _file_issue(
        _parse("canonical_xlsx", bytes(data), limits=ParseLimits(max_xlsx_uncompressed_bytes=1_000_000))
    )
    assert issue.code == "unreadable_file"


FIRST_LINES = {
    "canonical_csv": CONTACTS_CSV.split(b"\n")[0],
    "canonical_jsonl": b'{"case_ref": "x", "contacted_at": "2026-11-10 10:00", "channel": "sms", "party": "debtor", '
    b'"phone": "13800138000", "outcome": "other", "collector_id": "c"}',
    "cn_gbk_csv": (DATA / "contacts_cn_gbk.csv").read_bytes().split(b"\n")[0],
    "fixed_width": b"H20261125ZC        C01",
}


@pytest.mark.parametrize("key", LINE_KEYS)
def test_a_ten_megabyte_line(key: str) -> None:
    data = FIRST_LINES[key] + b"\n" + b"x" * 10_000_000 + b"\n"
    items = _parse(key, data)
    assert "longer than the limit" in _file_issue(items).message
    assert len(items) <= 2


@pytest.mark.parametrize("key", ["canonical_csv", "cn_gbk_csv", "canonical_xlsx"])
def test_ten_thousand_columns(key: str) -> None:
    header = [f"c{n}" for n in range(10_000)]
    data = xlsx_bytes([header]) if key == "canonical_xlsx" else csv_bytes([header, header])
    issue = _file_issue(_parse(key, data))
    # The CSV readers count a row's cells; the sheet reader refuses the sheet's extent before reading it.
    assert "the limit is 256" in issue.message or "at most 256 columns are read" in issue.message


@pytest.mark.parametrize("key", ["canonical_csv", "canonical_xlsx"])
def test_duplicate_headers(key: str) -> None:
    rows = [[*row.split(","), row.split(",")[0]] for row in CONTACTS_CSV.decode().splitlines()[:3]]
    data = xlsx_bytes(rows) if key == "canonical_xlsx" else csv_bytes(rows)
    issue = _file_issue(_parse(key, data))
    assert "'case_ref' appears twice" in issue.message


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("canonical_csv", CONTACTS_CSV),
        ("canonical_xlsx", xlsx_bytes([row.split(",") for row in CONTACTS_CSV.decode().splitlines()])),
        ("canonical_jsonl", b'{"case_ref": "x", "contacted_at": "2026-11-10 10:00", "channel": "sms"}\n'),
    ],
)
def test_a_contacts_file_parsed_as_settlements_names_the_missing_columns(key: str, data: bytes) -> None:
    issue = _file_issue(_parse(key, data, "settlements"))
    assert (issue.field, issue.code) == ("header", "missing_field")
    assert "paid_at" in issue.message and "payment_ref" in issue.message


@pytest.mark.parametrize(
    "data",
    [
        "案件编号,催收时间\nZY1,2026/11/10 10:00\n".encode("utf-16-le"),
        "案件编号,催收时间\nZY1,2026/11/10 10:00\n".encode("utf-16-be"),
        b"\xff\xfe\xfd\xfc,\x80\x80\n",
    ],
)
def test_an_encoding_that_is_neither_utf8_nor_gb18030(data: bytes) -> None:
    assert _file_issue(_parse("cn_gbk_csv", data)).code == "unreadable_file"


def test_a_canonical_csv_in_gbk_is_refused_not_misread() -> None:
    data = CONTACTS_CSV.decode().replace("ZC001,,", "ZC001,,备注").encode("gbk")
    items = _parse("canonical_csv", data)
    assert "utf-8" in _file_issue(items).message and all(isinstance(i, ParsedRow | RowIssue) for i in items)


class CountingStream(io.RawIOBase):
    """An endless-looking file made on demand, counting what the adapter has read."""

    def __init__(self, head: bytes, row: bytes, rows: int) -> None:
        self.head, self.row, self.rows, self.read_bytes = head, row, rows, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.head:
            chunk, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        elif self.rows:
            count = min(self.rows, max(1, len(buffer) // len(self.row)))
            chunk, self.rows = self.row * count, self.rows - count
        else:
            return 0
        buffer[: len(chunk)] = chunk
        self.read_bytes += len(chunk)
        return len(chunk)


@pytest.mark.parametrize(
    ("key", "head", "row"),
    [
        ("canonical_csv", CONTACTS_CSV.split(b"\n")[0] + b"\n", CONTACTS_CSV.split(b"\n")[1] + b"\n"),
        ("canonical_jsonl", b"", FIRST_LINES["canonical_jsonl"] + b"\n"),
        ("cn_gbk_csv", (DATA / "contacts_cn_gbk.csv").read_bytes().split(b"\n", 2)[0] + b"\n",
         (DATA / "contacts_cn_gbk.csv").read_bytes().split(b"\n", 2)[1] + b"\n"),
        ("fixed_width", b"H20261125ZC        C01\r\n",
         (DATA / "contacts_fixed_width.dat").read_bytes().split(b"\n")[1] + b"\n"),
    ],
)  # fmt: skip
def test_line_formats_stream_instead_of_reading_the_whole_file(key: str, head: bytes, row: bytes) -> None:
    stream = CountingStream(head, row, rows=1_000_000)
    items = parse(build_plugin_manager(), key, stream, ParseContext("contacts"), strict=True)  # type: ignore[arg-type]
    first = [next(items) for _ in range(100)]
    assert all(isinstance(item, ParsedRow) for item in first), first[:3]
    assert stream.read_bytes < 1_000_000 < len(row) * 1_000_000


# --- a sheet's extent is read before calamine allocates by it (issue 9) ------------------------

SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONTACT_HEADER = CONTACTS_CSV.decode().split("\n")[0].split(",")


def far_cell_workbook(cell: str, sheets: int = 1) -> bytes:
    """The issue's reproduction: a header row and one cell far away, on the last of ``sheets`` sheets."""
    from openpyxl import Workbook

    book = Workbook()
    for _ in range(sheets - 1):
        book.create_sheet()
    for sheet in book.worksheets:
        sheet.append(CONTACT_HEADER)
    book.worksheets[-1][cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_sheet_xml(body: str, *, root: str = f'<worksheet xmlns="{SHEET_NS}">', end: str = "</worksheet>") -> bytes:
    """A real workbook whose first sheet's XML is replaced by ``body`` (hand-made hostile sheets)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["case_ref"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                data = (root + body + end).encode()
            archive.writestr(entry.filename, data)
    return out.getvalue()


@pytest.mark.parametrize("cell", ["XFD1048576", "ALL100000"])
@pytest.mark.parametrize("key", ["canonical_xlsx", "mapping_hx_contacts"])
def test_a_far_cell_is_refused_before_the_reader_allocates(key: str, cell: str) -> None:
    issue = _file_issue(_parse(key, far_cell_workbook(cell)))
    assert issue.code == "unreadable_file"
    assert issue.message == f"the sheet declares cells up to {cell}; at most 256 columns are read"


def test_only_the_sheet_that_is_read_is_bounded() -> None:
    # The far cell is on the second sheet; the canonical format reads the first, which is small.
    data = far_cell_workbook("XFD1048576", sheets=2)
    assert _parse("canonical_xlsx", data) == []  # header only
    assert xlsx_sample_problem(data) is None


@pytest.mark.parametrize("cell", ["XFD1048576", "ALL100000"])
def test_sniffing_a_far_cell_workbook_declines_and_keeps_the_reason(cell: str) -> None:
    data = far_cell_workbook(cell)
    assert xlsx_sample_rows(data) == []
    problem = xlsx_sample_problem(data)
    assert problem is not None and f"up to {cell}" in problem.message
    with pytest.raises(UnknownFormatError):
        choose_format(build_plugin_manager(), data, "report.xlsx", "contacts")


def _cells(count: int, row: int | None = None) -> str:
    attribute = f' r="{row}"' if row else ""
    return f"<row{attribute}>" + '<c t="inlineStr"><is><t>x</t></is></c>' * count + "</row>"


@pytest.mark.parametrize(
    ("body", "limits", "expected"),
    [
        # Cells and rows without references follow the one before, as calamine places them.
        (f"<sheetData>{_cells(300)}</sheetData>", ParseLimits(), "the sheet has a cell at IW1; at most 256 columns"),
        (f"<sheetData>{_cells(1) * 11}</sheetData>", ParseLimits(max_rows=10), "a cell at A11; at most 10 rows"),
        (
            f"<sheetData>{_cells(6) * 10}</sheetData>",
            ParseLimits(max_cells=50),
            "the sheet has cells up to F9, 54 cells counting the empty ones; at most 50 cells are read",
        ),
        (
            '<sheetData><row r="2000000"><c r="A2000000"><v>1</v></c></row></sheetData>',
            ParseLimits(),
            "a cell at A2000000; at most 1,048,576 rows are read",
        ),
        (
            '<dimension ref="A1:B3000000"/><sheetData/>',
            ParseLimits(),
            "the sheet declares cells up to B3000000; at most 1,048,576 rows are read",
        ),
        (
            '<dimension ref="A1:IV100000"/><sheetData/>',
            ParseLimits(),
            "the sheet declares cells up to IV100000, 25,600,000 cells counting the empty ones; "
            "at most 20,000,000 cells are read",
        ),
        ('<sheetData><row r="1"><c r="1A"><v>1</v></c></row></sheetData>', ParseLimits(), "names a cell 1A"),
        ('<sheetData><row r="x"/></sheetData>', ParseLimits(), "names a row x that is not a row number"),
        ("<sheetData><row>", ParseLimits(), "not well-formed XML"),
    ],
    ids=["cells-without-r", "rows-without-r", "cells", "far-row", "declared-rows", "declared-cells", "bad-ref",
         "bad-row", "cut-xml"],
)  # fmt: skip
def test_hand_made_sheets_are_bounded_by_rows_columns_and_cells(body: str, limits: ParseLimits, expected: str) -> None:
    issue = _file_issue(_parse("canonical_xlsx", with_sheet_xml(body), limits=limits))
    assert issue.code == "unreadable_file" and expected in issue.message, issue.message


def test_a_prefixed_sheet_is_read_by_its_local_names() -> None:
    data = with_sheet_xml(
        '<x:sheetData><x:row r="1"><x:c r="XFD1"><x:v>1</x:v></x:c></x:row></x:sheetData>',
        root=f'<x:worksheet xmlns:x="{SHEET_NS}">',
        end="</x:worksheet>",
    )
    assert "a cell at XFD1; at most 256 columns" in xlsx_sample_problem(data).message  # type: ignore[union-attr]


def test_a_sheet_with_a_dtd_is_refused_without_expanding_anything() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9))
        + "]>"
    )
    data = with_sheet_xml("<sheetData><row><c t='inlineStr'><is><t>&j;</t></is></c></row></sheetData>",
                          root=laughs + f'<worksheet xmlns="{SHEET_NS}">')  # fmt: skip
    issue = _file_issue(_parse("canonical_xlsx", data))
    assert "declares a document type (DTD)" in issue.message


def test_a_sheet_within_the_limits_still_reads() -> None:
    rows = [CONTACT_HEADER, *(line.split(",") for line in CONTACTS_CSV.decode().splitlines()[1:])]
    items = _parse("canonical_xlsx", xlsx_bytes(rows), limits=ParseLimits(max_columns=13, max_rows=len(rows)))
    assert items and all(isinstance(item, ParsedRow) for item in items)


def test_a_deeply_nested_json_line_is_a_row_problem_not_a_crash() -> None:
    data = FIRST_LINES["canonical_jsonl"] + b"\n" + b"[" * 500_000 + b"\n"
    items = _parse("canonical_jsonl", data)
    assert isinstance(items[0], ParsedRow)
    assert (items[1].row, items[1].code) == (2, "invalid_value") and "recursion" in items[1].message


def test_a_zip_too_big_for_the_detection_sample_is_told_apart_from_a_damaged_one() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", random.Random(3).randbytes(3 * 1024 * 1024))
    whole = out.getvalue()
    cut = describe_sample(whole[: 1024 * 1024], cut_at=1024 * 1024)
    assert cut is not None and "larger than the 1 MB that format detection reads" in cut.message
    damaged = describe_sample(whole[:1000], cut_at=1024 * 1024)
    assert damaged is not None and "damaged or cut short" in damaged.message
