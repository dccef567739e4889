"""Parsing in a child process (portal.plugins.isolation) gives exactly what parsing in process gives."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from portal.config import ConfigError, load_config
from portal.plugins import ParseContext, ParsedRow, RowIssue, build_plugin_manager, parse
from portal.plugins.isolation import Isolation, detect, isolated_parse
from tests.adapters.adapter_golden import DATA, xlsx_bytes
from tests.adapters.test_hostile import FIRST_LINES, CountingStream

CONTACTS = (DATA / "contacts_canonical.csv").read_bytes()
# A bad row or two in each, so that issues travel too (with their line, column, template, params).
BAD_CONTACTS = CONTACTS.replace(b"13177777868,no_answer", b"123,no_answer", 1).replace(b",call,", b",fax,", 1)
SAMPLES = [
    ("canonical_csv", "contacts", BAD_CONTACTS),
    ("canonical_xlsx", "contacts", xlsx_bytes([line.split(",") for line in BAD_CONTACTS.decode().splitlines()])),
    ("canonical_jsonl", "contacts", FIRST_LINES["canonical_jsonl"] + b"\nnot json\n"),
    ("cn_gbk_csv", "contacts", (DATA / "contacts_cn_gbk.csv").read_bytes()),
    ("fixed_width", "contacts", (DATA / "contacts_fixed_width.dat").read_bytes()),
    ("canonical_csv", "settlements", (DATA / "settlements_canonical.csv").read_bytes()),
    ("canonical_csv", "settlements", CONTACTS),  # a file problem: the wrong kind
]
ALWAYS = Isolation(mode="always")


def _fields(item: ParsedRow | RowIssue) -> tuple:
    if isinstance(item, ParsedRow):
        return ("row", item.row, item.record, item.line, dict(item.columns))
    return ("issue", item.row, item.field, item.code, item.message, item.column, item.line, item.template,
            dict(item.params))  # fmt: skip


@pytest.mark.parametrize(("key", "kind", "data"), SAMPLES, ids=[f"{k}-{kind}" for k, kind, _ in SAMPLES])
def test_the_child_gives_the_same_records_and_issues_in_the_same_order(key: str, kind: str, data: bytes) -> None:
    pm = build_plugin_manager()
    here = [_fields(item) for item in parse(pm, key, io.BytesIO(data), ParseContext(kind))]
    there = [_fields(item) for item in isolated_parse(pm, key, io.BytesIO(data), ParseContext(kind), isolation=ALWAYS)]
    assert there == here and here


def test_the_child_streams_a_long_file_instead_of_reading_it_whole() -> None:
    head = CONTACTS.split(b"\n")[0] + b"\n"
    row = CONTACTS.split(b"\n")[1] + b"\n"
    stream = CountingStream(head, row, rows=1_000_000)
    items = isolated_parse(build_plugin_manager(), "canonical_csv", stream, ParseContext("contacts"), isolation=ALWAYS)  # type: ignore[arg-type]
    first = [next(items) for _ in range(100)]
    items.close()  # type: ignore[attr-defined]  # stops the child
    assert all(isinstance(item, ParsedRow) for item in first)
    # What the pipe and one batch hold, not the 90 MB file.
    assert stream.read_bytes < 2_000_000 < len(row) * 1_000_000


def test_detection_in_the_child_ranks_as_in_process() -> None:
    pm = build_plugin_manager()
    for sample in (CONTACTS, xlsx_bytes([line.split(",") for line in CONTACTS.decode().splitlines()])):
        in_child = detect(pm, sample, "report", isolation=ALWAYS)
        in_process = detect(pm, sample, "report", isolation=Isolation(mode="never"))
        assert in_child == in_process and in_child.ranked[0].confidence >= 0.9


def test_binary_mode_isolates_only_what_is_not_text() -> None:
    binary = Isolation(mode="binary")
    workbook = xlsx_bytes([["case_ref"]])
    assert binary.isolates(workbook[:4096]) and binary.isolates(b"\x00\x01\x02\xff" * 100)
    assert not binary.isolates(CONTACTS[:4096]) and not binary.isolates(b"")
    assert Isolation(mode="always").isolates(CONTACTS) and not Isolation(mode="never").isolates(workbook)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PORTAL_PARSE_ISOLATION", "binary")
    monkeypatch.setenv("PORTAL_PARSE_MEMORY_MB", "1024")
    monkeypatch.setenv("PORTAL_PARSE_TIMEOUT_SECONDS", "30")
    assert Isolation.from_config(load_config(tmp_path)) == Isolation("binary", 1024, 30.0)
    monkeypatch.setenv("PORTAL_PARSE_ISOLATION", "sometimes")
    with pytest.raises(ConfigError, match="PORTAL_PARSE_ISOLATION"):
        load_config(tmp_path)
