"""The fixed_width adapter: conformance, the trailer checks and the byte-width layout."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest

from adapters.fixed_width import LAYOUTS, RECORD_LENGTH
from portal.plugins import ParseContext, ParsedRow, RenderContext, RowIssue, build_plugin_manager, parse, render
from portal.testing import AdapterConformance, BadSample, Sample
from tests.adapters.adapter_golden import DATA, expected_cn_contacts, expected_records

CONTACTS = (DATA / "contacts_fixed_width.dat").read_bytes()
SETTLEMENTS = (DATA / "settlements_fixed_width.dat").read_bytes()


def _with_detail(data: bytes, line: int, start: int, value: bytes) -> bytes:
    lines = data.split(b"\r\n")
    lines[line] = lines[line][:start] + value + lines[line][start + len(value) :]
    return b"\r\n".join(lines)


class TestFixedWidth(AdapterConformance):
    adapter_name = "fixed_width"
    format_key = "fixed_width"
    samples = [
        Sample("contacts", CONTACTS, expected_cn_contacts(), "ZC20261125.dat"),
        Sample("settlements", SETTLEMENTS, expected_records("settlements_canonical.csv"), None),
    ]
    bad_samples = [
        BadSample(
            "settlements",
            # detail 2: month 13 in paid_at; detail 3: method code XX
            _with_detail(_with_detail(SETTLEMENTS, 2, 25, b"13"), 3, 50, b"XX"),
            [(2, "paid_at", "invalid_date"), (3, "method", "invalid_value")],
        )
    ]
    foreign_samples = [(DATA / "settlements_canonical.csv").read_bytes()]


def _parse(data: bytes, kind: str = "settlements", agency: str | None = None) -> list[ParsedRow | RowIssue]:
    context = ParseContext(kind, agency_code=agency)
    return list(parse(build_plugin_manager(), "fixed_width", io.BytesIO(data), context, strict=True))


def test_layout_widths_add_up() -> None:
    assert RECORD_LENGTH == {"contacts": 320, "settlements": 300}
    assert all(len(line) == 300 for line in SETTLEMENTS.split(b"\r\n")[:-1])
    assert [name for name, _, _ in LAYOUTS["settlements"]][1] == "case_ref"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.replace(b"T000000010", b"T000000011"), "trailer says 11 detail records"),
        (lambda d: d.replace(b"000000000000200000", b"000000000000200001"), "amount total"),
        (lambda d: d[: d.rindex(b"T0")], "no trailer record"),
        (lambda d: d + b"D" + b" " * 299 + b"\r\n", "after the trailer"),
        (lambda d: d.replace(b"\r\nD", b"\r\nX", 1), "record type"),
        (lambda d: d[1:], "not a fixed-width header"),
    ],
)
def test_a_file_that_does_not_add_up_is_rejected_at_row_zero(mutate, message: str) -> None:
    items = _parse(mutate(SETTLEMENTS))
    last = items[-1]
    assert isinstance(last, RowIssue) and last.row == 0 and last.code == "unreadable_file"
    assert message in last.message


def test_the_header_kind_and_agency_are_checked() -> None:
    [issue] = _parse(SETTLEMENTS, "contacts")
    assert (issue.row, issue.field, issue.code) == (0, "kind", "invalid_value")
    [issue] = _parse(SETTLEMENTS, agency="HX")
    assert (issue.field, issue.code) == ("agency_code", "invalid_value")
    assert len(_parse(SETTLEMENTS, agency="ZC")) == 10


def test_trimmed_trailing_spaces_are_accepted_and_overlong_records_rejected() -> None:
    trimmed = b"\n".join(line.rstrip() for line in SETTLEMENTS.split(b"\r\n"))
    assert [item.record for item in _parse(trimmed)] == expected_records("settlements_canonical.csv")
    long = _with_detail(SETTLEMENTS, 1, 300, b"XY")
    issue = _parse(long)[0]
    assert isinstance(issue, RowIssue)
    # Line 2: the header record is line 1.
    assert (issue.row, issue.line, issue.field, issue.code, issue.message) == (
        1,
        2,
        "",
        "invalid_value",
        "record is 302 bytes long; the layout has 300",
    )


def test_long_notes_are_cut_on_a_character_boundary_and_ids_must_fit() -> None:
    pm = build_plugin_manager()
    record = replace(expected_records("settlements_canonical.csv")[0], notes="还款" * 150)
    out = io.BytesIO()
    render(pm, "fixed_width", "settlements", [record], out, RenderContext(file_date=date(2026, 11, 25)))
    [item] = _parse(out.getvalue())
    assert item.record.notes == "还款" * 50
    with pytest.raises(ValueError, match="does not fit"):
        render(pm, "fixed_width", "settlements", [replace(record, case_ref="Z" * 21)], io.BytesIO())


def test_the_documented_layout_is_the_code_layout() -> None:
    from adapters.fixed_width import layout_markdown
    from tests.adapters.adapter_golden import REPO

    table = layout_markdown()
    assert table in (REPO / "adapters" / "fixed_width" / "README.md").read_text(encoding="utf-8")
    assert table in (REPO / "docs" / "adapters.md").read_text(encoding="utf-8")
