"""The adapter conformance kit: a pytest base class that every adapter's tests subclass.

Usage, in an adapter package's tests (pytest collects the subclass, not the base)::

    from portal.testing import AdapterConformance, BadSample, Sample

    class TestMyFormat(AdapterConformance):
        adapter_name = "my_adapter"          # the entry-point name
        format_key = "my_format"
        samples = [Sample("contacts", GOLDEN_BYTES, [ContactRecord(...), ...], "x.csv")]
        bad_samples = [BadSample("contacts", BAD_BYTES, [(2, "phone", "invalid_phone")])]

By default the adapter is loaded through the ``portal.adapters`` entry points of the
installed distributions (the real path); set ``plugin`` to register an object or
module directly instead.
"""

from __future__ import annotations

import io
import random
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest

from portal.plugins import (
    ISSUE_CODES,
    ContactRecord,
    ParseContext,
    ParsedRow,
    PortalPluginManager,
    Record,
    RegisteredFormat,
    RenderContext,
    RowIssue,
    SettlementRecord,
    build_plugin_manager,
    choose_format,
    list_formats,
    parse,
    render,
    sniff,
)
from portal.plugins.manager import MIN_CONFIDENCE

RECORD_TYPES = {"contacts": ContactRecord, "settlements": SettlementRecord}


@dataclass(frozen=True)
class Sample:
    """A golden file and the records it must parse to, in order."""

    kind: str
    data: bytes
    expected: Sequence[Record]
    filename: str | None = None


@dataclass(frozen=True)
class BadSample:
    """A file with bad rows; each (row, field, code) in ``issues`` must be reported."""

    kind: str
    data: bytes
    issues: Sequence[tuple[int, str, str]]
    filename: str | None = None


class NonSeekableStream(io.RawIOBase):
    """A read-only stream that cannot seek or tell and returns short reads, like a pipe."""

    def __init__(self, data: bytes, max_read: int = 7) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._max_read = max_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def seek(self, *args: Any) -> int:
        raise io.UnsupportedOperation("seek on a non-seekable stream")

    def tell(self) -> int:
        raise io.UnsupportedOperation("tell on a non-seekable stream")

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._max_read, len(self._data) - self._pos)
        buffer[:size] = self._data[self._pos : self._pos + size]
        self._pos += size
        return size


def _foreign_defaults() -> list[bytes]:
    noise = random.Random(20261128)
    return [
        b"",
        noise.randbytes(4096),
        bytes(noise.randrange(128, 256) for _ in range(4096)),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise.randbytes(200),
        b"Dear customer,\nplease find attached the report.\nRegards\n",
        "name,age\nalice,30\n".encode("utf-16"),
        b'[{"a": 1}, {"a": 2}]',
    ]


class NetworkCallError(AssertionError):
    """Raised when an adapter opens a network connection during a conformance test."""


class AdapterConformance:
    """Checks that an adapter keeps the contract in portal.plugins.hookspecs."""

    adapter_name: ClassVar[str]
    format_key: ClassVar[str]
    samples: ClassVar[Sequence[Sample]] = ()
    bad_samples: ClassVar[Sequence[BadSample]] = ()
    foreign_samples: ClassVar[Sequence[bytes]] = ()
    plugin: ClassVar[object | None] = None
    mapping_dirs: ClassVar[Sequence[str]] = ()

    # -- fixtures -----------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _no_network(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        calls: list[str] = []

        def refuse(*args: Any, **kwargs: Any) -> Any:
            calls.append(repr(args[:2]))
            raise NetworkCallError(f"adapter attempted a network call: {args[:2]!r}")

        for name in ("connect", "connect_ex", "sendto"):
            monkeypatch.setattr(socket.socket, name, refuse)
        monkeypatch.setattr(socket, "create_connection", refuse)
        monkeypatch.setattr(socket, "getaddrinfo", refuse)
        yield
        assert not calls, f"adapter attempted network calls: {calls}"

    @pytest.fixture
    def plugin_manager(self) -> PortalPluginManager:
        return self.make_plugin_manager()

    def make_plugin_manager(self) -> PortalPluginManager:
        if self.plugin is not None:
            return build_plugin_manager(
                load_entrypoints=False, plugins=[(self.adapter_name, self.plugin)], mapping_dirs=self.mapping_dirs
            )
        return build_plugin_manager(mapping_dirs=self.mapping_dirs)

    def registered(self, pm: PortalPluginManager) -> RegisteredFormat:
        for item in list_formats(pm):
            if item.key == self.format_key:
                return item
        pytest.fail(f"format {self.format_key!r} is not declared by any installed adapter")

    def context(self, pm: PortalPluginManager, kind: str, filename: str | None = None) -> ParseContext:
        return ParseContext(kind=kind, settings=pm.settings, filename=filename)

    def parse_all(self, pm: PortalPluginManager, data: bytes | io.RawIOBase, kind: str) -> list[ParsedRow | RowIssue]:
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        items = list(parse(pm, self.format_key, stream, self.context(pm, kind), strict=True))  # type: ignore[arg-type]
        for item in items:
            assert isinstance(item, ParsedRow | RowIssue), f"adapter yielded {item!r}"
            if isinstance(item, RowIssue):
                assert item.code in ISSUE_CODES and item.row >= 0
            else:
                assert isinstance(item.record, RECORD_TYPES[kind]), f"{kind} parsed to {item.record!r}"
        return items

    def _impl(self, pm: PortalPluginManager, hook: str) -> Any:
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.plugin_name == self.adapter_name:
                return impl
        return None

    # -- the contract ---------------------------------------------------------------

    def test_registers_cleanly(self, plugin_manager: PortalPluginManager) -> None:
        assert plugin_manager.get_plugin(self.adapter_name) is not None, (
            f"adapter {self.adapter_name!r} is not registered; is its distribution installed "
            "with a 'portal.adapters' entry point of that name?"
        )
        plugin_manager.check_pending()
        assert self._impl(plugin_manager, "adapter_formats"), "adapter_formats is not implemented"
        assert self._impl(plugin_manager, "adapter_parse"), "adapter_parse is not implemented"

    def test_declares_format(self, plugin_manager: PortalPluginManager) -> None:
        item = self.registered(plugin_manager)
        assert item.adapter == self.adapter_name
        assert item.format.label and item.format.version
        assert all(ext.startswith(".") and ext == ext.lower() for ext in item.format.extensions)
        assert {sample.kind for sample in self.samples} <= set(item.format.kinds)
        assert self.samples, "define at least one golden Sample"
        if item.format.labels:
            # Agency users read the portal in Simplified Chinese: translated labels start there.
            assert any(locale.startswith("zh") for locale, _ in item.format.labels), "labels lack a zh_CN label"

    def test_sniffs_own_samples(self, plugin_manager: PortalPluginManager) -> None:
        for sample in self.samples:
            answers = {a.format_key: a.confidence for a in sniff(plugin_manager, sample.data, sample.filename)}
            assert answers.get(self.format_key, 0) >= 0.8, f"own sample sniffed as {answers}"
            chosen = choose_format(plugin_manager, sample.data, sample.filename, sample.kind)
            assert chosen == self.format_key

    def test_declines_foreign_samples(self, plugin_manager: PortalPluginManager) -> None:
        for data in [*_foreign_defaults(), *self.foreign_samples]:
            for filename in (None, "upload.csv", "upload.xlsx"):
                answers = {a.format_key: a.confidence for a in sniff(plugin_manager, data, filename)}
                assert answers.get(self.format_key, 0) < MIN_CONFIDENCE, f"claimed {data[:40]!r}: {answers}"

    def test_parses_golden_samples(self, plugin_manager: PortalPluginManager) -> None:
        for sample in self.samples:
            items = self.parse_all(plugin_manager, sample.data, sample.kind)
            issues = [item for item in items if isinstance(item, RowIssue)]
            assert not issues, issues[:5]
            assert [item.record for item in items] == list(sample.expected)  # type: ignore[union-attr]
            assert [item.row for item in items] == list(range(1, len(items) + 1))

    def test_streams_from_non_seekable_input(self, plugin_manager: PortalPluginManager) -> None:
        for sample in self.samples:
            items = self.parse_all(plugin_manager, NonSeekableStream(sample.data), sample.kind)
            assert [getattr(item, "record", item) for item in items] == list(sample.expected)

    def test_reports_bad_rows_as_values(self, plugin_manager: PortalPluginManager) -> None:
        assert self.bad_samples, "define at least one BadSample with row-level problems"
        for bad in self.bad_samples:
            items = self.parse_all(plugin_manager, bad.data, bad.kind)
            found = {(item.row, item.field, item.code) for item in items if isinstance(item, RowIssue)}
            missing = [issue for issue in bad.issues if tuple(issue) not in found]
            assert not missing, f"expected issues {missing} not reported; got {sorted(found)}"
            rows = [item.row for item in items]
            assert rows == sorted(rows), "rows must be yielded in file order"
            for issue in (item for item in items if isinstance(item, RowIssue)):
                # Optional, but when given: a line counts the header and blank lines the data row does not.
                assert issue.line is None or issue.line >= issue.row, f"line {issue.line} before data row {issue.row}"
                if issue.template:
                    assert issue.message == (issue.template % issue.params if issue.params else issue.template), (
                        f"message {issue.message!r} is not its template filled with its params"
                    )

    def test_hostile_variants_do_not_raise(self, plugin_manager: PortalPluginManager) -> None:
        noise = random.Random(7).randbytes(8192)
        for kind in {sample.kind for sample in self.samples}:
            empty = self.parse_all(plugin_manager, b"", kind)
            assert len(empty) == 1 and isinstance(empty[0], RowIssue) and empty[0].row == 0, empty
            assert any(getattr(item, "row", None) == 0 for item in self.parse_all(plugin_manager, noise, kind))
        for sample in self.samples:
            half = sample.data[: len(sample.data) // 2]
            for variant in (half, sample.data + noise, half + b"\x00" + half, b"\xff\xfe" + sample.data):
                self.parse_all(plugin_manager, variant, sample.kind)

    def test_declines_keys_that_are_not_its_own(self, plugin_manager: PortalPluginManager) -> None:
        parse_impl = self._impl(plugin_manager, "adapter_parse")
        context = self.context(plugin_manager, "contacts")
        result = _call(parse_impl, format_key="no_such_format", stream=io.BytesIO(b"x"), context=context)
        assert result is None, "adapter_parse must return None (not a generator) for keys that are not its own"
        render_impl = self._impl(plugin_manager, "adapter_render")
        if render_impl is not None:
            out = io.BytesIO()
            result = _call(
                render_impl,
                format_key="no_such_format",
                kind="contacts",
                records=[],
                out=out,
                context=RenderContext(settings=plugin_manager.settings),
            )
            assert result is None and not out.getvalue(), "adapter_render must return None for keys not its own"

    def test_round_trips_render_then_parse(self, plugin_manager: PortalPluginManager) -> None:
        if not self.registered(plugin_manager).format.can_export:
            pytest.skip(f"{self.format_key} cannot export")
        for sample in self.samples:
            records = list(sample.expected)
            if records and hasattr(records[0], "notes"):
                # Text that a spreadsheet would run must survive, neutralised and restored.
                records[0] = replace(records[0], notes='=HYPERLINK("http://x.invalid","click")')
            out = io.BytesIO()
            render(plugin_manager, self.format_key, sample.kind, records, out)
            items = self.parse_all(plugin_manager, out.getvalue(), sample.kind)
            assert [getattr(item, "record", item) for item in items] == records


def _call(impl: Any, **available: Any) -> Any:
    # Implementations may omit arguments they do not use (pluggy's rule).
    return impl.function(*[available[name] for name in impl.argnames])
