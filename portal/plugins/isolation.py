"""Running adapters on an uploaded file in a child process with a memory limit and a timeout.

A file that makes a reader crash (calamine aborts when an allocation fails), allocate without
bound or loop then rejects that file, with a row-0 ``unreadable_file`` issue the agency can
read, instead of taking down the web worker, the RQ work-horse or the command that read it.

The child is a fresh interpreter (``subprocess``, never a fork of a process that holds
database connections and threads). It gets the parent's ``sys.path`` and the parent's
plugins (modules by name, other plugin objects pickled), so it runs exactly the adapters the
parent would. The parent streams the file into the child's stdin and reads records back in
pickled batches through a pipe, so memory stays flat whatever the file's size; a child blocked
on a full pipe waits for the parent and uses no CPU. See docs/uploads.md, "Hostile files".
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import operator
import os
import pickle
import resource
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, BinaryIO

import pluggy

from portal.plugins.diagnosis import describe_sample
from portal.plugins.manager import (
    SNIFF_ZIP_BYTES,
    RankedSniff,
    UnknownFormatError,
    build_plugin_manager,
    get_format,
    parse,
    sniff,
)
from portal.plugins.plan import _new_contact
from portal.plugins.problems import FileProblem
from portal.plugins.records import (
    N_,
    NO_COLUMNS,
    ContactRecord,
    ParseContext,
    ParsedRow,
    RowIssue,
    SettlementRecord,
)
from portal.plugins.tabular import sample_text

log = logging.getLogger(__name__)

MODES = ("always", "binary", "never")
BATCH = 1000  # items a frame: large enough to amortise pickling, small enough to stream
_HEAD = 4096
_FRAME = struct.Struct("!I")
_BOOT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from portal.plugins.isolation import serve; serve()"
)
Item = ParsedRow | RowIssue


@dataclass(frozen=True, slots=True)
class Isolation:
    """How adapters run on uploaded files (``PORTAL_PARSE_*``, docs/uploads.md).

    ``mode``: ``always`` (every file in a child), ``binary`` (files whose first bytes are not
    text: workbooks, archives, anything a native reader opens; text goes to the line readers in
    process, which hold one bounded line at a time) or ``never``. ``memory_mb``: the child's
    address-space limit. ``timeout_seconds``: the longest the child may work without handing
    back its next batch of records (or, when detecting the format, its answer).
    """

    mode: str = "always"
    memory_mb: int = 2048
    timeout_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"parse isolation must be one of {', '.join(MODES)}, not {self.mode!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Isolation:
        """The app's ``PORTAL_PARSE_ISOLATION``, ``PORTAL_PARSE_MEMORY_MB`` and ``PORTAL_PARSE_TIMEOUT_SECONDS``."""
        defaults = cls()
        return cls(
            mode=config.get("PORTAL_PARSE_ISOLATION", defaults.mode),
            memory_mb=int(config.get("PORTAL_PARSE_MEMORY_MB", defaults.memory_mb)),
            timeout_seconds=float(config.get("PORTAL_PARSE_TIMEOUT_SECONDS", defaults.timeout_seconds)),
        )

    def isolates(self, head: bytes) -> bool:
        """Whether a file that starts with ``head`` is read in a child."""
        if self.mode == "binary":
            return bool(head) and sample_text(head) is None
        return self.mode == "always"


@dataclass(frozen=True, slots=True)
class Detection:
    """Every adapter's answer for a sample, best first, and what the readers saw in it.

    ``seen`` is the problem a reader would report for the sample (empty, UTF-16, a damaged or
    oversized workbook...), or None when nothing is wrong with it but no format may fit.
    """

    ranked: list[RankedSniff]
    seen: FileProblem | None


def detect(pm: pluggy.PluginManager, sample: bytes, filename: str | None, *, isolation: Isolation) -> Detection:
    """``sniff`` and ``describe_sample`` of a sample, in a child when ``isolation`` says so.

    A child that crashes, runs out of memory or time gives no answer and says so in ``seen``.
    """
    refs = _plugin_refs(pm) if isolation.isolates(sample[:_HEAD]) else None
    if refs is None:
        return Detection(sniff(pm, sample, filename), describe_sample(sample, cut_at=SNIFF_ZIP_BYTES))
    request = {"op": "detect", "plugins": refs, "settings": _settings(pm), "sample": sample, "filename": filename}
    with _Child(request, None, isolation) as child:
        try:
            kind, ranked, seen = child.frame()
        except _ChildFailed as failed:
            return Detection([], FileProblem(failed.issue.template, **failed.issue.params))
    assert kind == "detected"
    return Detection(list(ranked), _problem(seen))


def isolated_parse(
    pm: pluggy.PluginManager, format_key: str, stream: BinaryIO, context: ParseContext, *, isolation: Isolation
) -> Iterator[Item]:
    """``parse`` (see portal.plugins.manager), with the adapter in a child when ``isolation`` says so.

    The same records and issues in the same order; a child that crashes, passes the memory
    limit or the timeout ends the stream with one row-0 ``unreadable_file`` issue saying so.
    """
    registered = get_format(pm, format_key)
    if context.kind not in registered.format.kinds:
        raise UnknownFormatError(f"format {format_key!r} does not read {context.kind} files")
    head = _read_head(stream)
    whole = io.BufferedReader(_Rejoined(head, stream))  # type: ignore[arg-type]
    refs = _plugin_refs(pm) if isolation.isolates(head) else None
    if refs is None:
        return parse(pm, format_key, whole, context)  # type: ignore[arg-type]
    request = {"op": "parse", "plugins": refs, "settings": _settings(pm), "format_key": format_key, "context": context}
    return _streamed(request, whole, isolation)  # type: ignore[arg-type]


def _streamed(request: dict[str, Any], stream: BinaryIO, isolation: Isolation) -> Iterator[Item]:
    with _Child(request, stream, isolation) as child:
        while True:
            try:
                frame = child.frame()
            except _ChildFailed as failed:
                yield failed.issue
                return
            if frame[0] == "done":
                return
            for encoded in frame[1]:
                yield _decode(encoded)


# --- the parent's side ------------------------------------------------------------------------


class _ChildFailed(Exception):
    def __init__(self, issue: RowIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _Rejoined(io.RawIOBase):
    """The bytes read ahead to look at a file, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size], self.head = self.head[:size], self.head[size:]
            return size
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_head(stream: BinaryIO) -> bytes:
    head = b""
    while len(head) < _HEAD:  # short reads are legal (pipes)
        more = stream.read(_HEAD - len(head))
        if not more:
            break
        head += more
    return head


def _settings(pm: pluggy.PluginManager) -> object:
    return getattr(pm, "settings", None)


def _plugin_refs(pm: pluggy.PluginManager) -> list[tuple[str, tuple[str, str] | bytes]] | None:
    """The parent's plugins as the child can load them; None (read in process) when one cannot travel."""
    refs: list[tuple[str, tuple[str, str] | bytes]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        if isinstance(plugin, types.ModuleType):
            refs.append((name, ("module", plugin.__name__)))
            continue
        try:
            refs.append((name, pickle.dumps(plugin)))
        except Exception:
            log.warning("adapter %r cannot be sent to a child process; files are read in process", name)
            return None
    return refs


class _Child:
    """One child process: the request (and the file) in through stdin, frames out through stdout."""

    def __init__(self, request: dict[str, Any], stream: BinaryIO | None, isolation: Isolation) -> None:
        self.isolation = isolation
        # What the child says on stderr (calamine's "memory allocation of N bytes failed"), read when it ends.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        request["memory_mb"] = isolation.memory_mb
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and bootstrap, no user input
            [sys.executable, "-I", "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            close_fds=True,
            bufsize=0,
        )
        self.selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self.out = self.process.stdout.fileno()
        self.selector.register(self.out, selectors.EVENT_READ)
        self.buffer = bytearray()
        self.feeder = threading.Thread(target=self._feed, args=(request, stream), daemon=True, name="parse-feeder")
        self.feeder.start()

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _feed(self, request: dict[str, Any], stream: BinaryIO | None) -> None:
        pipe = self.process.stdin
        assert pipe is not None
        try:
            pipe.write(pickle.dumps(sys.path))
            pipe.write(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            if stream is not None:
                while chunk := stream.read(64 * 1024):
                    pipe.write(chunk)
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child stopped reading: it ended, failed or was stopped
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _fill(self, size: int) -> None:
        timeout = self.isolation.timeout_seconds
        while len(self.buffer) < size:
            if not self.selector.select(timeout):
                self._fail_timeout()
            chunk = os.read(self.out, 256 * 1024)
            if not chunk:
                self._fail_ended()
            self.buffer += chunk

    def frame(self) -> tuple[Any, ...]:
        """The child's next message; _ChildFailed when it crashed, ran out of memory or time."""
        self._fill(_FRAME.size)
        (size,) = _FRAME.unpack_from(self.buffer)
        self._fill(_FRAME.size + size)
        payload = bytes(self.buffer[_FRAME.size : _FRAME.size + size])
        del self.buffer[: _FRAME.size + size]
        message = pickle.loads(payload)  # noqa: S301 - from our own child, over a private pipe
        if message[0] == "failed":
            raise _ChildFailed(_issue(message[1], message[2]))
        return message  # type: ignore[no-any-return]

    def _fail_timeout(self) -> None:
        self.process.kill()
        self.process.wait()
        seconds = self.isolation.timeout_seconds
        log.warning("parser child %s stopped after %s s without progress", self.process.pid, seconds)
        raise _ChildFailed(
            _issue(
                N_("reading the file took longer than %(seconds)s seconds without progress; it is not read"),
                {"seconds": f"{seconds:g}"},
            )
        )

    def _fail_ended(self) -> None:
        code = self.process.wait()
        self.errors.seek(0)
        said = self.errors.read(1024 * 1024).decode("utf-8", "replace")  # a Rust backtrace can be long
        log.warning("parser child %s ended with status %s: %s", self.process.pid, code, said.strip()[:2000])
        # calamine (Rust) says this and aborts when an allocation fails, as under the memory limit.
        if "memory allocation of" in said or "MemoryError" in said or code == -signal.SIGKILL:
            raise _ChildFailed(_memory_issue(self.isolation.memory_mb))
        reason = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        raise _ChildFailed(
            _issue(N_("the reader stopped while reading the file (%(reason)s); it is not read"), {"reason": reason})
        )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.selector.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.feeder.join(timeout=5)
        self.errors.close()


def _issue(template: str, params: Mapping[str, str | int]) -> RowIssue:
    return RowIssue.of(0, "", "unreadable_file", template, **params)


def _memory_issue(memory_mb: int) -> RowIssue:
    return _issue(
        N_("reading the file needed more than %(limit)s MB of memory; it is not read"), {"limit": f"{memory_mb:,}"}
    )


_RECORD_TYPES: tuple[type, ...] = (ContactRecord, SettlementRecord)
_VALUES = tuple(operator.attrgetter(*(spec.name for spec in fields(cls))) for cls in _RECORD_TYPES)
# Built the way the table plan builds them (slots set directly): the parent's side of the pipe is the
# bottleneck, and a frozen dataclass's own __init__ costs twice as much.
_BUILDERS: tuple[Any, ...] = (_new_contact, SettlementRecord)


def _encode(item: Item) -> tuple[Any, ...]:
    # Plain tuples: a dataclass pickles through a Python-level __setstate__ (six times slower to
    # load), and RowIssue's and ParsedRow's empty defaults are mappingproxies, which do not pickle.
    if isinstance(item, ParsedRow):
        index = 0 if isinstance(item.record, ContactRecord) else 1
        columns = item.columns
        if type(columns) is not dict:  # the same dict on every row of a table pickles once a frame
            columns = dict(columns) or None  # type: ignore[assignment]
        return (index, item.row, item.line, columns, _VALUES[index](item.record))
    return (2, item.row, item.field, item.code, item.message, item.column, item.line, item.template, dict(item.params))


def _decode(encoded: tuple[Any, ...]) -> Item:
    index = encoded[0]
    if index < 2:
        _, row, line, columns, values = encoded
        return ParsedRow(row, _BUILDERS[index](*values), line, columns or NO_COLUMNS)
    _, row, field_name, code, message, column, line, template, params = encoded
    return RowIssue(row, field_name, code, message, column, line, template, params)


def _problem(encoded: tuple[str, str, str, dict[str, Any]] | None) -> FileProblem | None:
    if encoded is None:
        return None
    template, code, field_name, params = encoded
    return FileProblem(template, code, field_name, **params)


# --- the child's side -------------------------------------------------------------------------


def serve() -> None:
    """The child's main: read the request from stdin, answer in frames on the original stdout."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what an adapter prints goes to stderr, never into the frames
    sys.stdout = sys.stderr

    def send(message: tuple[Any, ...]) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        channel.write(_FRAME.pack(len(payload)) + payload)
        channel.flush()

    stdin = sys.stdin.buffer
    request = pickle.load(stdin)  # noqa: S301 - from our own parent, over a private pipe
    _limit_memory(request["memory_mb"])
    adapter = ""
    try:
        pm = _rebuild(request)
        if request["op"] == "detect":
            sample = request["sample"]
            ranked = sniff(pm, sample, request["filename"])
            seen = describe_sample(sample, cut_at=SNIFF_ZIP_BYTES)
            said = None if seen is None else (seen.template, seen.code, seen.field, dict(seen.params))
            send(("detected", ranked, said))
            return
        adapter = get_format(pm, request["format_key"]).adapter
        batch: list[tuple[Any, ...]] = []
        for item in parse(pm, request["format_key"], stdin, request["context"], strict=True):
            batch.append(_encode(item))
            if len(batch) >= BATCH:
                send(("items", batch))
                batch = []
        send(("items", batch))
        send(("done",))
    except MemoryError:
        batch = []
        issue = _memory_issue(request["memory_mb"])
        send(("failed", issue.template, dict(issue.params)))
    except Exception as exc:
        traceback.print_exc()
        issue = RowIssue.of(
            0,
            "",
            "unreadable_file",
            N_("the %(adapter)s adapter could not read this file (%(error)s)"),
            adapter=adapter or "?",
            error=type(exc).__name__,
        )
        send(("failed", issue.template, dict(issue.params)))
    finally:
        channel.close()


def _limit_memory(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError) as exc:  # a hard limit already lower, or a platform without it
        print(f"portal: could not limit the parser's memory to {memory_mb} MB: {exc}", file=sys.stderr)


def _rebuild(request: dict[str, Any]) -> pluggy.PluginManager:
    plugins = []
    for name, ref in request["plugins"]:
        plugin = importlib.import_module(ref[1]) if isinstance(ref, tuple) else pickle.loads(ref)  # noqa: S301
        plugins.append((name, plugin))
    settings = request["settings"]
    pm = build_plugin_manager(
        load_entrypoints=False, plugins=plugins, mapping_dirs=getattr(settings, "mapping_dirs", ())
    )
    if settings is not None:
        pm.settings = settings
    return pm
