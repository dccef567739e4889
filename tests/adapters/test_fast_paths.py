"""The parsing fast paths give exactly what line-by-line reading and the full validator give.

``iter_csv_rows`` decodes whole chunks of lines and ``iter_table`` builds most rows
through a per-file ``TablePlan``; both fall back to the original step-by-step code
for anything unusual. These tests compare the two on awkward input.
"""

# Naive datetimes are the records' own "agency local time" (contract 5.1), so DTZ001 does not apply.
# ruff: noqa: DTZ001

from __future__ import annotations

import codecs
import csv
import io
import random
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest

from adapters.cn_gbk_csv import ALIASES as CN_ALIASES
from adapters.cn_gbk_csv import DIALECT as CN_DIALECT
from portal.plugins import ContactRecord, Dialect, ParsedRow, ParseLimits, fields, plan, tabular
from portal.plugins.records import CONTACT_FIELDS, SETTLEMENT_FIELDS, RowIssue
from portal.plugins.tabular import (
    FileProblem,
    decode_lines,
    iter_csv_rows,
    iter_lines,
    iter_numbered_csv_rows,
    iter_table,
)

# --- reading -----------------------------------------------------------------------

PIECES = [
    b"a,b,c",
    b"x",
    b"",
    b",",
    b'"q,1"',
    b'"multi\nline"',
    b'"unterminated',
    b'a"b',
    b"\r",
    b"\t ",
    "中文".encode(),
    "备注".encode("gbk"),
    b"\x80\xff",
    b"\x00",
    b"\xc3",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    b"Z" * 30,
]


def _reference_rows(stream: io.BytesIO, *, limits: ParseLimits, encoding: str, chunk: int) -> Iterator[list[str]]:
    """What iter_csv_rows gave before: csv over decode_lines(iter_lines(...)), line by line."""
    lines = iter_lines(stream, max_line_bytes=limits.max_line_bytes, chunk_size=chunk)
    reader = csv.reader(decode_lines(lines, encoding), strict=False)
    try:
        for cells in reader:
            if len(cells) > limits.max_columns:
                raise FileProblem(
                    f"row at line {reader.line_num} has {len(cells)} columns; the limit is {limits.max_columns}"
                )
            yield cells
    except csv.Error as exc:
        raise FileProblem(f"not a readable CSV file near line {reader.line_num}: {exc}") from None


def _outcome(rows: Iterator[list[str]]) -> list[object]:
    out: list[object] = []
    try:
        out.extend(rows)
    except FileProblem as problem:
        out.append(("problem", problem.message))
    return out


def _messy_file(rng: random.Random, pieces: list[bytes]) -> bytes:
    lines = [
        b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) + rng.choice([b"\n", b"\r\n", b"\n", b""])
        for _ in range(rng.randint(0, 60))
    ]
    return b"".join(lines)


@pytest.mark.parametrize("mess", ["any", "none", "nul"])
@pytest.mark.parametrize("seed", range(3))
def test_csv_rows_match_line_by_line_reading(seed: int, mess: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    # Cleaner files take the whole-chunk path more often; messy ones test every fallback.
    pieces = PIECES
    if mess != "any":
        pieces = [p for p in PIECES if p not in (b"\x80\xff", b"\x00", b"\xc3", codecs.BOM_UTF16_LE)]
        pieces += [b"\x00"] if mess == "nul" else []
    for _ in range(300):
        data = _messy_file(rng, pieces)
        chunk = rng.choice([1, 3, 16, 64, 65536])
        monkeypatch.setattr(tabular, "CHUNK", chunk)
        limits = ParseLimits(max_columns=rng.choice([3, 1000]), max_line_bytes=rng.choice([12, 40, 10**6]))
        encoding = rng.choice(["utf-8", "auto", "gb18030", "utf-8-sig", "latin-1", "no-such-codec"])
        expected = _outcome(_reference_rows(io.BytesIO(data), limits=limits, encoding=encoding, chunk=chunk))
        assert _outcome(iter_csv_rows(io.BytesIO(data), limits=limits, encoding=encoding)) == expected, data


def _start_lines(rows: list[list[str]], blank_before: list[int]) -> tuple[bytes, list[int]]:
    """A CSV file of ``rows`` (cells may hold newlines), with blank lines before some, and each row's first line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    starts, line = [], 1
    for cells, blanks in zip(rows, blank_before, strict=True):
        buffer.write("\n" * blanks)
        line += blanks
        starts.append(line)
        before = buffer.tell()
        writer.writerow(cells)
        line += buffer.getvalue()[before:].count("\n")
    return buffer.getvalue().encode(), starts


@pytest.mark.parametrize("seed", range(3))
def test_numbered_csv_rows_start_on_the_line_an_editor_shows(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        monkeypatch.setattr(tabular, "CHUNK", rng.choice([1, 7, 64, 65536]))
        rows = [
            [rng.choice(["a", "多行\n备注", "x\r\ny", "", "q,1"]) for _ in range(rng.randint(1, 4))]
            for _ in range(rng.randint(1, 20))
        ]
        data, starts = _start_lines(rows, [rng.choice([0, 0, 0, 1, 2]) for _ in rows])
        numbered = list(iter_numbered_csv_rows(io.BytesIO(data), limits=ParseLimits(), encoding="utf-8"))
        # csv gives a blank line as an empty row: drop those, as iter_table does.
        assert [line for line, cells in numbered if cells] == starts
        assert [cells for _, cells in numbered] == list(iter_csv_rows(io.BytesIO(data), limits=ParseLimits()))


# --- validating ----------------------------------------------------------------------

TEXT = [
    "BX1",
    "ＢＸ３",
    "'=cmd",
    "'+x",
    "''=x",
    "'",
    "'a",
    "x" * 64,
    "x" * 65,
    "e\u0301",
    "ﬁ",
    "A B",
    "x" * 256,
    "  ",
    "",
]
MOMENTS = [
    "2026-02-01 08:00:20",
    "2026-02-01 08:00",
    "2026-02-01T08:00:20",
    "2026-02-01  08:00:20",
    "2026-02-01\t08:00",
    "2026-02-01 08:00:20Z",
    "2026-02-01 08:00:20+08:00",
    "2026-02-01",
    "2026-02-30 08:00:00",
    "1900-01-01 00:00",
    "2200-01-01 00:00",
    "2026/02/01 08:00",
    "2026/02/01 12:30",
    "2026/2/1 8:05",
    "2026/02/01 08:00:60",
    "2026/02/01 24:00",
    "2026年02月01日 08:00",
    "2026年2月1日 8:00",
    "２０２６-０２-０１ ０８:００",
    "2026年02月01⽇ 08:00",
    "01.02.2026 08:00",
    "03/02/2026 08:00",
    "2026-02-01T08",
    "2026／02／01 12:30",
    "31.02.2026 08:00",
    "45000.5",
    "'2026-02-01 08:00",
    "",
]
DAYS = ["2026-12-31", "2026-01-31", "2026/12/31", "2026/1/5", "2026年12月31日", "2026-02-30", "2200-01-01", "20261231"]
DAYS += ["2026／12／31", "2026-W05-1", "45000", "31.12.2026", "２０２６-１２-３１", "'2026-12-31", "2026/13/01", ""]
AMOUNTS = ["500.00", "500", "0", "0.001", "1,500.00", "￥1,500.00", "500元", "-5", "1.500", "1.500,50", "1,50"]
AMOUNTS += ["9999999999999999.99", "99999999999999999", "１２３", "'500", "abc", "0" * 80 + "1", ""]
POOLS = {
    "case_ref": TEXT,
    "collector_id": TEXT,
    "recording_ref": TEXT,
    "payment_ref": TEXT,
    "contacted_at": MOMENTS,
    "paid_at": MOMENTS,
    "channel": ["call", "sms", "visit", "CALL", "电话", "短信", "fax", "ｃａｌｌ", "'call", ""],
    "party": ["debtor", "Debtor", "本人", "配偶", "x", ""],
    "outcome": ["no_answer", "promise_to_pay", "PROMISE_TO_PAY", "未接通", "承诺还款", "bogus", ""],
    "phone": [
        "13000000001",
        "12000000001",
        "+8613000000001",
        "130-0000-0001",
        "+14155550123",
        "１３０００００００01",
        "",
    ],
    "connected": ["true", "false", "1", "No", "是", "否", "maybe", "Ｔrue", ""],
    "duration_s": ["123", "0", "+5", "-5", "1.5", "１２", "1000000000", "'5", "²", ""],
    "promise_amount": AMOUNTS,
    "amount": AMOUNTS,
    "waiver_amount": AMOUNTS,
    "promise_date": DAYS,
    "method": ["bank_transfer", "alipay", "银行转账", "网银", "Cash", "bogus", ""],
    "type": ["partial", "full", "settlement", "结清", "减免结清", "x", ""],
    "notes": ["", "hello", "客户称下周还款", "'=x", "a" * 2001, "it's", "'"],
}
GOOD = {
    "contacts": {
        "case_ref": "BX1",
        "contacted_at": "2026-02-01 08:00:20",
        "channel": "call",
        "party": "debtor",
        "phone": "13000000001",
        "outcome": "no_answer",
        "duration_s": "12",
        "collector_id": "C1",
        "recording_ref": "R1",
    },
    "settlements": {
        "case_ref": "BX1",
        "paid_at": "2026-02-01 08:00:20",
        "amount": "500.00",
        "method": "alipay",
        "payment_ref": "P1",
        "type": "partial",
    },
}
PARTNER = Dialect(
    # %I reads 12:30 as 00:30, so %H must not win for the texts %I takes; fromisoformat
    # reads 2026-02-01T08 before any pattern; NFKC turns ／ into / before strptime sees it.
    datetime_formats=(
        "%d.%m.%Y %H:%M",
        "%Y/%m/%d %I:%M",
        "%Y/%m/%d %H:%M",
        "%d/%m/%Y %H:%M",
        "%m/%d/%Y %H:%M",
        "%Y-%d-%mT%H",
        "%Y／%m／%d %H:%M",
    ),
    date_formats=("%d.%m.%Y", "excel_serial", "%Y/%m/%d", "%Y／%m／%d"),
    vocabularies={"method": {"网银": "bank_transfer", "其它": "other"}},
    decimal_comma=True,
    true_words=frozenset({"ja"}),
)
CN_HEADERS = {name: header for header, name in CN_ALIASES.items()}


def _rows(rng: random.Random, kind: str, names: list[str]) -> Iterator[list[str]]:
    for _ in range(1500):
        row = {name: "" for name in names} | GOOD[kind]
        if kind == "contacts" and rng.random() < 0.3:
            row |= {"outcome": "promise_to_pay", "promise_amount": "500.00", "promise_date": "2026-12-31"}
        for name in rng.sample(names, rng.choice([0, 0, 1, 1, 2, 3])):
            row[name] = rng.choice(POOLS[name])
        cells = [rng.choice(["", " ", "\u3000"]) + row[name] if rng.random() < 0.05 else row[name] for name in names]
        shape = rng.random()
        if shape < 0.03:
            cells = cells[:-1]
        elif shape < 0.06:
            cells += rng.choice([[""], ["junk"]])
        elif shape < 0.08:
            cells = [" "] * len(cells)
        yield cells


def _everything(item: ParsedRow | RowIssue) -> tuple[object, ...]:
    """Every field of an item, the ones equality leaves out (line, column, template...) included."""
    if isinstance(item, ParsedRow):
        return ("row", item.row, item.record, item.line, dict(item.columns))
    return (
        "issue",
        item.row,
        item.field,
        item.code,
        item.message,
        item.column,
        item.line,
        item.template,
        dict(item.params),
    )


def _items(rows: Iterable[list[str]], **options: object) -> list[object]:
    try:
        return [_everything(item) for item in iter_table(rows, **options)]  # type: ignore[arg-type]
    except FileProblem as problem:
        return [("problem", problem.message)]


@pytest.mark.parametrize("kind", ["contacts", "settlements"])
@pytest.mark.parametrize("layout", ["canonical", "cn_gbk", "partner"])
def test_table_plan_gives_what_the_full_validator_gives(kind: str, layout: str) -> None:
    rng = random.Random(f"{kind}-{layout}")
    names = list(CONTACT_FIELDS if kind == "contacts" else SETTLEMENT_FIELDS)
    defaults: dict[str, str] = {}
    if layout == "partner":
        defaults = {"type": "partial"} if kind == "settlements" else {"connected": "ja"}
        names.remove("type" if kind == "settlements" else "connected")
    rng.shuffle(names)
    dialect, aliases = {
        "canonical": (fields.CANONICAL_DIALECT, {name: name for name in POOLS}),
        "cn_gbk": (CN_DIALECT, CN_ALIASES),
        "partner": (PARTNER, {name: name for name in POOLS}),
    }[layout]
    header = [CN_HEADERS.get(name, name) if layout == "cn_gbk" else name for name in names]
    rows = [header, *_rows(rng, kind, names)]
    options = {"kind": kind, "aliases": aliases, "dialect": dialect, "defaults": defaults}
    fast = _items(rows, **options)
    # Any ``translate`` turns the plan off: every row goes through build_row.
    full = _items(rows, **options, translate=lambda raw: raw)
    assert fast == full
    assert sum(item[0] == "row" for item in fast) > 500  # type: ignore[index]
    # Both paths say where each row is and what its columns are called.
    assert all(item[3] is not None for item in fast if item[0] == "row")  # type: ignore[index]
    shown = {name: text for text, name in zip(header, names, strict=True)}
    assert all(item[4] == shown for item in fast if item[0] == "row")  # type: ignore[index]


def test_the_plan_builds_ordinary_rows_itself() -> None:
    # If the plan stopped serving (say the records changed shape), parsing would be 4x slower.
    canonical = plan.TablePlan("contacts", {name: index for index, name in enumerate(CONTACT_FIELDS)}, 13)
    row = [
        "BX1",
        "2026-02-01 08:00:20",
        "call",
        "debtor",
        "13000000001",
        "no_answer",
        "",
        "123",
        "",
        "",
        "C001",
        "R1",
        "",
    ]
    assert canonical.usable and canonical.build(row) is not None
    cn_columns = {CN_ALIASES[header]: index for index, header in enumerate(CN_HEADERS.values())}
    cn = plan.TablePlan("contacts", cn_columns, len(cn_columns), CN_DIALECT)
    cells = {"case_ref": "ZY1", "contacted_at": "2026/11/10 15:25", "channel": "电话", "party": "本人"}
    cells |= {"phone": "13177777868", "outcome": "承诺还款", "promise_amount": "￥1,500.00"}
    cells |= {"promise_date": "2026年12月31日", "collector_id": "ZC001", "connected": "是"}
    assert cn.build([cells.get(name, "") for name in cn_columns]) == ContactRecord(
        case_ref="ZY1",
        contacted_at=datetime(2026, 11, 10, 15, 25),
        channel="call",
        party="debtor",
        outcome="promise_to_pay",
        collector_id="ZC001",
        phone="13177777868",
        connected=True,
        promise_amount=Decimal("1500.00"),
        promise_date=date(2026, 12, 31),
    )


def test_records_built_by_the_plan_equal_the_dataclass() -> None:
    values = ("A", datetime(2026, 1, 1), "call", "debtor", "paid", "C", "1", True, 5, Decimal("1.00"), None, "R", "n")
    built = plan._new_contact(*values)
    assert type(built) is ContactRecord
    assert built == ContactRecord(*values) and repr(built) == repr(ContactRecord(*values))
    assert hash(built) == hash(ContactRecord(*values))
