"""The plugin manager and host helpers: loading, validation, ranking, choosing, shielding."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.plugins import (
    FORMULA_PREFIXES,
    AdapterConfigError,
    AdapterFormat,
    AmbiguousFormatError,
    ParseContext,
    ParsedRow,
    RowIssue,
    Sniff,
    UnknownFormatError,
    build_plugin_manager,
    choose_format,
    hookimpl,
    list_formats,
    neutralise_formula,
    parse,
    read_sample,
    render,
    sniff,
    unneutralise_formula,
)
from portal.testing import NonSeekableStream
from tests.adapters.adapter_golden import DATA, fake_distribution

CONTACTS = (DATA / "contacts_canonical.csv").read_bytes()


class Copycat:
    """A plugin object (not a module) that claims canonical CSV files too."""

    def __init__(self, key: str = "copycat_csv", confidence: float = 0.9, kinds: tuple[str, ...] = ("contacts",)):
        self.key, self.confidence, self.kinds = key, confidence, kinds

    @hookimpl
    def adapter_formats(self) -> list[AdapterFormat]:
        return [AdapterFormat(self.key, "Copycat", self.kinds, (".csv",), "1", False)]

    @hookimpl
    def adapter_sniff(self, sample: bytes) -> list[Sniff]:
        return [Sniff(self.key, self.confidence), Sniff("canonical_csv", 1.0, "not mine to vouch for")]

    @hookimpl
    def adapter_parse(self, format_key: str) -> Iterator[ParsedRow | RowIssue] | None:
        if format_key != self.key:
            return None
        return self._rows()

    def _rows(self) -> Iterator[ParsedRow | RowIssue]:
        yield RowIssue(1, "case_ref", "missing_field", "case_ref is required")
        raise RuntimeError("bug in the adapter")


def test_builtin_adapters_load_from_entry_points() -> None:
    formats = {item.key: item for item in list_formats(build_plugin_manager())}
    assert {"canonical_csv", "canonical_xlsx", "canonical_jsonl", "cn_gbk_csv", "fixed_width"} <= set(formats)
    assert formats["cn_gbk_csv"].adapter == "cn_gbk_csv" and formats["canonical_xlsx"].adapter == "canonical"
    assert formats["fixed_width"].distribution and formats["fixed_width"].format.can_export


def test_blocked_adapters_are_left_out() -> None:
    adapters = {item.adapter for item in list_formats(build_plugin_manager(blocked=["cn_gbk_csv", "mapping"]))}
    assert adapters == {"canonical", "fixed_width"}


def test_duplicate_format_keys_fail_at_startup_naming_both_adapters() -> None:
    with pytest.raises(AdapterConfigError, match="'canonical_csv' is declared by both adapter"):
        build_plugin_manager(plugins=[("copycat", Copycat(key="canonical_csv"))])


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (Copycat(key="Bad-Key"), "must match"),
        (Copycat(kinds=("payments",)), "allowed: contacts, settlements"),
    ],
)
def test_bad_format_declarations_fail_at_startup(plugin: Copycat, message: str) -> None:
    with pytest.raises(AdapterConfigError, match=message):
        build_plugin_manager(load_entrypoints=False, plugins=[("copycat", plugin)])


def test_unknown_hooks_and_arguments_fail_at_startup() -> None:
    class Typo:
        @hookimpl
        def adapter_formatz(self) -> list[AdapterFormat]:
            return []

    class WrongArgument:
        @hookimpl
        def adapter_parse(self, key: str) -> None:
            return None

    with pytest.raises(AdapterConfigError, match=r"adapter 'typo'.*unknown hook 'adapter_formatz'"):
        build_plugin_manager(load_entrypoints=False, plugins=[("typo", Typo())])
    with pytest.raises(AdapterConfigError, match="adapter 'wrong'"):
        build_plugin_manager(load_entrypoints=False, plugins=[("wrong", WrongArgument())])


def test_an_entry_point_that_fails_to_import_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(fake_distribution(tmp_path, "broken-adapter", {"broken": "no_such_module_x"})))
    with pytest.raises(AdapterConfigError, match="adapter 'broken' \\(no_such_module_x\\) failed to load"):
        build_plugin_manager()
    assert list_formats(build_plugin_manager(blocked=["broken"]))


def test_sniff_ranks_and_ignores_claims_on_other_adapters_formats() -> None:
    pm = build_plugin_manager(plugins=[("copycat", Copycat())])
    ranked = sniff(pm, CONTACTS, "contacts.csv")
    assert [(r.format_key, r.adapter) for r in ranked] == [("canonical_csv", "canonical"), ("copycat_csv", "copycat")]
    assert ranked[0].confidence == 0.95


def test_a_sniffer_that_raises_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    class Crashy(Copycat):
        @hookimpl
        def adapter_sniff(self, sample: bytes) -> list[Sniff]:
            raise ZeroDivisionError

    pm = build_plugin_manager(plugins=[("crashy", Crashy())])
    with caplog.at_level(logging.ERROR):
        assert choose_format(pm, CONTACTS, None, "contacts") == "canonical_csv"
    assert "crashy" in caplog.text


def test_close_candidates_are_ambiguous() -> None:
    pm = build_plugin_manager(plugins=[("copycat", Copycat(confidence=0.9))])
    with pytest.raises(AmbiguousFormatError) as error:
        choose_format(pm, CONTACTS, "contacts.csv", "contacts")
    assert [c.format_key for c in error.value.candidates] == ["canonical_csv", "copycat_csv"]
    # The kind narrows the field, and naming a format or an adapter decides.
    assert choose_format(pm, CONTACTS, "contacts.csv", "settlements") == "canonical_csv"
    assert choose_format(pm, CONTACTS, "contacts.csv", "contacts", requested="copycat") == "copycat_csv"
    assert choose_format(pm, CONTACTS, "contacts.csv", "contacts", requested="canonical") == "canonical_csv"
    assert choose_format(pm, b"", None, "contacts", requested="canonical_jsonl") == "canonical_jsonl"


def test_requests_that_cannot_be_met() -> None:
    pm = build_plugin_manager(plugins=[("copycat", Copycat())])
    with pytest.raises(UnknownFormatError, match="does not read settlements"):
        choose_format(pm, CONTACTS, None, "settlements", requested="copycat_csv")
    with pytest.raises(UnknownFormatError, match="no installed adapter or format called 'nope'"):
        choose_format(pm, CONTACTS, None, "contacts", requested="nope")
    with pytest.raises(UnknownFormatError, match="no installed adapter recognises"):
        choose_format(build_plugin_manager(), b"hello world\n", "notes.txt", "contacts")
    with pytest.raises(UnknownFormatError, match="cannot write"):
        render(pm, "copycat_csv", "contacts", [], io.BytesIO())
    with pytest.raises(UnknownFormatError, match="no installed adapter provides"):
        parse(pm, "nope", io.BytesIO(), ParseContext("contacts"))


def test_an_adapter_that_raises_mid_file_ends_with_a_row_zero_issue(caplog: pytest.LogCaptureFixture) -> None:
    pm = build_plugin_manager(plugins=[("copycat", Copycat())])
    with caplog.at_level(logging.ERROR):
        items = list(parse(pm, "copycat_csv", io.BytesIO(b""), ParseContext("contacts")))
    assert items[-1] == RowIssue(
        0, "", "unreadable_file", "the copycat adapter could not read this file (RuntimeError)"
    )
    assert "bug in the adapter" in caplog.text
    with pytest.raises(RuntimeError):
        list(parse(pm, "copycat_csv", io.BytesIO(b""), ParseContext("contacts"), strict=True))


def test_read_sample_takes_more_of_a_zip() -> None:
    text = CONTACTS * 30
    assert len(read_sample(NonSeekableStream(text, 4096))) == 64 * 1024
    big_zip = b"PK\x03\x04" + bytes(10_000_000)
    assert len(read_sample(NonSeekableStream(big_zip, 65536))) == 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+86 138", "'+86 138"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
        # Excel splits on the list separator of the reader's locale: every cell start is guarded.
        ("a;=HYPERLINK(1)", "a;'=HYPERLINK(1)"),
        ("x, +1|@y", "x,' +1|'@y"),
        ("\t=1", "'\t'=1"),
        (" =1", "' =1"),
        ("\uff1d1", "'\uff1d1"),
        ("'=x", "''=x"),
        ("it's", "it's"),
    ],
)
def test_neutralise_formula(cell: str, expected: str) -> None:
    assert neutralise_formula(cell) == expected
    assert unneutralise_formula(expected) == cell


@given(st.text(alphabet=st.sampled_from("ab ';,|\t\r\n=+-@\uff1d\u3000"), max_size=12) | st.text(max_size=20))
def test_neutralised_text_reads_back_exactly_and_runs_nowhere(cell: str) -> None:
    safe = neutralise_formula(cell)
    assert unneutralise_formula(safe) == cell
    for delimiter in ",;\t|\r\n":
        for part in safe.split(delimiter):
            assert not part.lstrip(" \u3000").startswith(tuple(FORMULA_PREFIXES)) or part.startswith("'")


def test_records_refuse_unknown_codes_and_kinds() -> None:
    with pytest.raises(ValueError, match="unknown row issue code"):
        RowIssue(1, "x", "bad_code", "")
    with pytest.raises(ValueError, match="kind must be one of"):
        ParseContext("payments")


def test_an_adapter_that_raises_before_reading_ends_with_a_row_zero_issue(caplog: pytest.LogCaptureFixture) -> None:
    class Eager(Copycat):
        @hookimpl
        def adapter_parse(self, format_key: str) -> None:
            raise OSError("mapping directory vanished")

    pm = build_plugin_manager(plugins=[("eager", Eager())])
    with caplog.at_level(logging.ERROR):
        items = list(parse(pm, "copycat_csv", io.BytesIO(b""), ParseContext("contacts")))
    assert items == [RowIssue(0, "", "unreadable_file", "the eager adapter could not read this file (OSError)")]
