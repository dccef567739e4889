"""Building the plugin manager and the host-side helpers: list, sniff, choose, parse, render."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO

import pluggy

from portal.plugins import hookspecs
from portal.plugins.loading import call_impl, register_plugins
from portal.plugins.records import (
    KINDS,
    N_,
    AdapterFormat,
    AdapterSettings,
    ParseContext,
    ParsedRow,
    Record,
    RenderContext,
    RowIssue,
    Sniff,
)

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
SNIFF_ZIP_BYTES = 8 * 1024 * 1024
MIN_CONFIDENCE = 0.5
AMBIGUITY_MARGIN = 0.1
_KEY = re.compile(r"[a-z][a-z0-9_]{1,63}")


class AdapterConfigError(Exception):
    """The installed adapters cannot work together (bad plugin, duplicate format key...)."""


class UnknownFormatError(Exception):
    """No installed format fits the file (or the requested format does not exist)."""

    def __init__(self, message: str, candidates: list[RankedSniff] | None = None, code: str = "unknown_format") -> None:
        super().__init__(message)
        self.candidates = candidates or []
        # unknown_format: no adapter claims the file; unreadable_file: what was seen rules every adapter out.
        self.code = code


class AmbiguousFormatError(Exception):
    """Two formats fit the file about equally well; the user must pick one."""

    def __init__(self, candidates: list[RankedSniff]) -> None:
        names = ", ".join(f"{c.format_key} ({c.confidence:.2f})" for c in candidates)
        super().__init__(f"the file could be in more than one format: {names}; choose one")
        self.candidates = candidates


@dataclass(frozen=True, slots=True)
class RegisteredFormat:
    """A format with the adapter (entry-point name) and distribution that provide it."""

    adapter: str
    format: AdapterFormat
    distribution: str | None = None

    @property
    def key(self) -> str:
        return self.format.key


@dataclass(frozen=True, slots=True)
class RankedSniff:
    """A sniff answer with the adapter that gave it, as ranked by ``sniff``."""

    format_key: str
    adapter: str
    confidence: float
    reason: str = ""


class PortalPluginManager(pluggy.PluginManager):
    """A pluggy manager that also carries the host's adapter settings (one per app)."""

    def __init__(self, settings: AdapterSettings | None = None) -> None:
        super().__init__(hookspecs.PROJECT)
        self.settings = settings or AdapterSettings()


def _settings(pm: pluggy.PluginManager) -> AdapterSettings:
    return getattr(pm, "settings", None) or AdapterSettings()


def build_plugin_manager(
    *,
    blocked: Iterable[str] = (),
    load_entrypoints: bool = True,
    plugins: Iterable[tuple[str, object]] = (),
    mapping_dirs: Iterable[str | PathLike[str]] = (),
) -> PortalPluginManager:
    """A validated plugin manager with every installed adapter registered.

    ``blocked``: adapter (entry-point) names to leave out, as an admin switch.
    ``load_entrypoints``: load the ``portal.adapters`` entry-point group; tests turn
    it off and pass ``plugins`` ((name, module or object) pairs) instead.
    ``mapping_dirs``: extra directories of partner mapping files (``mapping`` adapter).
    Raises AdapterConfigError when an adapter fails to load, implements an unknown
    hook, or declares a bad or duplicate format key.
    """
    pm = PortalPluginManager(AdapterSettings(mapping_dirs=tuple(str(path) for path in mapping_dirs)))
    pm.add_hookspecs(hookspecs)
    register_plugins(
        pm,
        group=hookspecs.ENTRY_POINT_GROUP,
        plugins=plugins,
        blocked=blocked,
        load_entrypoints=load_entrypoints,
        error=AdapterConfigError,
        what="adapter",
        contract="adapter contract",
    )
    list_formats(pm)
    return pm


def _distributions(pm: pluggy.PluginManager) -> dict[int, str]:
    return {id(plugin): f"{dist.project_name} {dist.version}" for plugin, dist in pm.list_plugin_distinfo()}


def list_formats(pm: pluggy.PluginManager) -> list[RegisteredFormat]:
    """Every installed format, sorted by adapter then key; validates keys and kinds."""
    settings = _settings(pm)
    dists = _distributions(pm)
    found: dict[str, RegisteredFormat] = {}
    for impl in pm.hook.adapter_formats.get_hookimpls():
        adapter = impl.plugin_name
        try:
            declared = call_impl(impl, settings=settings) or []
        except AdapterConfigError:
            raise
        except Exception as exc:
            raise AdapterConfigError(f"adapter {adapter!r} failed to declare its formats: {exc!r}") from exc
        for fmt in declared:
            if not isinstance(fmt, AdapterFormat):
                raise AdapterConfigError(f"adapter {adapter!r} declared {fmt!r}, not an AdapterFormat")
            if not _KEY.fullmatch(fmt.key):
                raise AdapterConfigError(f"adapter {adapter!r}: format key {fmt.key!r} must match {_KEY.pattern}")
            if not fmt.kinds or not set(fmt.kinds) <= set(KINDS):
                raise AdapterConfigError(
                    f"adapter {adapter!r}: format {fmt.key!r} has kinds {fmt.kinds!r}; allowed: {', '.join(KINDS)}"
                )
            if fmt.key in found:
                other = found[fmt.key].adapter
                raise AdapterConfigError(
                    f"format key {fmt.key!r} is declared by both adapter {other!r} and adapter {adapter!r}; "
                    "block one of them"
                )
            found[fmt.key] = RegisteredFormat(adapter, fmt, dists.get(id(impl.plugin)))
    return sorted(found.values(), key=lambda item: (item.adapter, item.key))


def get_format(pm: pluggy.PluginManager, key: str) -> RegisteredFormat:
    """The registered format with this key, or UnknownFormatError."""
    for item in list_formats(pm):
        if item.key == key:
            return item
    raise UnknownFormatError(f"no installed adapter provides the format {key!r}")


def read_sample(stream: BinaryIO) -> bytes:
    """The sniffing sample of a stream: 64 KiB, or up to 8 MiB for a zip (so a small .xlsx is whole)."""
    sample = b""
    limit = SNIFF_BYTES
    # Short reads are legal (pipes, sockets): keep reading until the limit or the end.
    while len(sample) < limit:
        more = stream.read(limit - len(sample))
        if not more:
            break
        sample += more
        if sample.startswith(b"PK\x03\x04"):
            limit = SNIFF_ZIP_BYTES
    return sample


def sniff(pm: pluggy.PluginManager, sample: bytes, filename: str | None = None) -> list[RankedSniff]:
    """Every adapter's answer for this sample, best first; an adapter that raises is skipped."""
    settings = _settings(pm)
    owners = {item.key: item.adapter for item in list_formats(pm)}
    ranked: list[RankedSniff] = []
    for impl in pm.hook.adapter_sniff.get_hookimpls():
        try:
            answers = call_impl(impl, sample=sample, filename=filename, settings=settings) or []
        except Exception:
            log.exception("adapter %r raised in adapter_sniff; ignoring its answer", impl.plugin_name)
            continue
        for answer in answers:
            # An adapter may only vouch for its own formats.
            if isinstance(answer, Sniff) and owners.get(answer.format_key) == impl.plugin_name:
                confidence = min(max(float(answer.confidence), 0.0), 1.0)
                ranked.append(RankedSniff(answer.format_key, impl.plugin_name, confidence, answer.reason))
    ranked.sort(key=lambda item: (-item.confidence, item.format_key))
    return ranked


def choose_format(
    pm: pluggy.PluginManager,
    sample: bytes,
    filename: str | None,
    kind: str,
    requested: str | None = None,
) -> str:
    """The format key to parse a file with.

    ``requested`` may be a format key (used as is, if it reads ``kind``) or an adapter
    name (its formats for ``kind`` are sniffed; a single one is used as is). Without
    it every format for ``kind`` is sniffed. Raises UnknownFormatError when nothing
    reaches MIN_CONFIDENCE, AmbiguousFormatError when the runner-up is within
    AMBIGUITY_MARGIN of the best.
    """
    formats = [item for item in list_formats(pm) if kind in item.format.kinds]
    if requested:
        exact = [item for item in list_formats(pm) if item.key == requested]
        if exact:
            if kind not in exact[0].format.kinds:
                raise UnknownFormatError(f"format {requested!r} does not read {kind} files")
            return requested
        formats = [item for item in formats if item.adapter == requested]
        if not formats:
            raise UnknownFormatError(f"no installed adapter or format called {requested!r} reads {kind} files")
        if len(formats) == 1:
            return formats[0].key
    allowed = {item.key for item in formats}
    ranked = [item for item in sniff(pm, sample, filename) if item.format_key in allowed]
    strong = [item for item in ranked if item.confidence >= MIN_CONFIDENCE]
    if not strong:
        raise UnknownFormatError(f"no installed adapter recognises this file as {kind}", ranked[:3])
    close = [item for item in strong if item.confidence >= strong[0].confidence - AMBIGUITY_MARGIN]
    if len(close) > 1:
        raise AmbiguousFormatError(close)
    return strong[0].format_key


def parse(
    pm: pluggy.PluginManager,
    format_key: str,
    stream: BinaryIO,
    context: ParseContext,
    *,
    strict: bool = False,
) -> Iterator[ParsedRow | RowIssue]:
    """Records and row issues of a file, in file order (see ``adapter_parse``).

    An adapter that raises while reading ends the stream with a row-0
    ``unreadable_file`` issue (logged with its traceback) instead of a server error;
    ``strict=True`` lets the exception through, for tests.
    """
    registered = get_format(pm, format_key)
    if context.kind not in registered.format.kinds:
        raise UnknownFormatError(f"format {format_key!r} does not read {context.kind} files")
    try:
        items = pm.hook.adapter_parse(format_key=format_key, stream=stream, context=context)
    except Exception as exc:
        if strict:
            raise
        log.exception("adapter %r failed to start parsing", registered.adapter)
        return iter([_failure(registered.adapter, exc)])
    if items is None:
        raise UnknownFormatError(f"adapter {registered.adapter!r} declined to parse format {format_key!r}")
    return _shielded(iter(items), registered.adapter, strict)


def _shielded(items: Iterator[ParsedRow | RowIssue], adapter: str, strict: bool) -> Iterator[ParsedRow | RowIssue]:
    try:
        yield from items
    except Exception as exc:
        if strict:
            raise
        log.exception("adapter %r failed while parsing", adapter)
        yield _failure(adapter, exc)


def _failure(adapter: str, exc: Exception) -> RowIssue:
    return RowIssue.of(
        0,
        "",
        "unreadable_file",
        N_("the %(adapter)s adapter could not read this file (%(error)s)"),
        adapter=adapter,
        error=type(exc).__name__,
    )


def render(
    pm: pluggy.PluginManager,
    format_key: str,
    kind: str,
    records: Iterable[Record],
    out: BinaryIO,
    context: RenderContext | None = None,
) -> None:
    """Write records in a format whose ``can_export`` is true, or raise UnknownFormatError."""
    registered = get_format(pm, format_key)
    if not registered.format.can_export or kind not in registered.format.kinds:
        raise UnknownFormatError(f"format {format_key!r} cannot write {kind} files")
    context = context or RenderContext(settings=_settings(pm))
    done = pm.hook.adapter_render(format_key=format_key, kind=kind, records=records, out=out, context=context)
    if not done:
        raise UnknownFormatError(f"adapter {registered.adapter!r} declined to write format {format_key!r}")
