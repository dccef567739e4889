"""The adapter contract: the hooks a partner-format adapter implements (pluggy project ``portal``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

import pluggy

from portal.plugins.records import (
    AdapterFormat,
    AdapterSettings,
    ParseContext,
    ParsedRow,
    Record,
    RenderContext,
    RowIssue,
    Sniff,
)

PROJECT = "portal"
ENTRY_POINT_GROUP = "portal.adapters"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def adapter_formats(settings: AdapterSettings) -> list[AdapterFormat] | None:
    """Declare the file formats this adapter reads (and perhaps writes).

    :param settings:
        The host's adapter settings (for instance extra directories of mapping
        files). Most adapters ignore it and may leave the parameter out.

    Return a list of :class:`~portal.plugins.AdapterFormat`, one per format, or None.
    A format's ``key`` is what users pick (``--adapter`` or the upload form), what the
    host records on every upload, and what :func:`adapter_parse` and
    :func:`adapter_render` are called with. Keys are global: two installed adapters
    declaring the same key stop the portal at startup with ``AdapterConfigError``, as
    does a key that does not match ``[a-z][a-z0-9_]{1,63}`` or a kind other than
    ``contacts``/``settlements``.

    This hook is called at startup and whenever the host lists formats, so it must be
    cheap and must not depend on the clock or the network. Raising here stops the
    portal (it is a configuration error, reported with the adapter's name).

    All implementations are called; the host collects every format.
    """


@hookspec
def adapter_sniff(sample: bytes, filename: str | None, settings: AdapterSettings) -> list[Sniff] | None:
    """Say how likely it is that a file is in one of this adapter's formats.

    :param sample:
        The first bytes of the file (64 KiB; for zip-based files up to 8 MiB, so a
        small .xlsx arrives whole). The sample may end in the middle of a line or
        character.
    :param filename:
        The name the file was uploaded under, or None. A hint only: a good sniffer
        looks at the content and uses the extension to break ties.
    :param settings:
        The host's adapter settings; may be left out of the implementation.

    Return a list of :class:`~portal.plugins.Sniff` (``format_key``, ``confidence``
    from 0 to 1, a short ``reason``) for the formats that might match, or None to
    decline. Guide for confidences: ≥ 0.9 the header or magic bytes prove it; 0.5–0.8
    plausible but unproven (right container, unknown columns); below 0.5 the host
    will not choose the format on its own.

    This hook is **not** ``firstresult``: every adapter answers and the host ranks the
    answers (see ``portal.plugins.manager.choose_format``), so registration order
    never decides. Two candidates at ≥ 0.5 within 0.1 of each other are ambiguous and
    the user is asked to pick. Never raise, whatever the bytes: random data must be
    declined, not crash the upload.
    """


@hookspec(firstresult=True)
def adapter_parse(format_key: str, stream: BinaryIO, context: ParseContext) -> Iterator[ParsedRow | RowIssue] | None:
    """Turn a file in one of this adapter's formats into records and row issues.

    :param format_key:
        The format the host chose. Return None at once when it is not one of yours.
    :param stream:
        The file's bytes, positioned at the start. It may not be seekable (an upload
        being received, a pipe): read it forwards only, and buffer yourself if you
        need to look ahead. A zip-based format may spool it to a temporary file.
    :param context:
        :class:`~portal.plugins.ParseContext`: the ``kind`` the user says the file
        holds (``contacts`` or ``settlements``), the agency's timezone name, the
        ``limits`` to enforce (rows, columns, cells, line bytes, .xlsx size), the
        host ``settings``, the filename and the uploading agency's code if known.

    Return an iterator (typically a generator) that yields, in file order, for each
    non-blank data row either one :class:`~portal.plugins.ParsedRow` (the 1-based
    data row number and a ``ContactRecord``/``SettlementRecord``) or one or more
    :class:`~portal.plugins.RowIssue` values naming the row, the field, a contract
    5.4 code and a message in plain English. Problems with the whole file (not a
    table, wrong encoding, missing columns, limits exceeded, a trailer that does not
    add up) are a single RowIssue at row 0; the host rejects the whole file when it
    sees any row-0 issue, even after records. Header rows and blank rows are not
    counted as data rows.

    So that users can find and read the problem, give both values the ``line`` the
    row starts on (text line, or sheet row of a workbook, blank and title rows
    counted) and the file's own ``column`` header for the field (``ParsedRow.columns``
    maps every field), and build issues with ``RowIssue.of`` from a template marked
    with ``N_`` and its parameters; the host translates it when it shows the issue.
    ``build_row`` and ``tabular.iter_table`` do all of this. These fields are
    optional: an issue without them is shown as its English ``message``.

    ``firstresult``: the first non-None answer wins, so this function must not be a
    generator function itself (calling one never returns None); return a generator
    from it instead. Do not read the whole file into memory for line-based formats,
    and do not raise for anything the file contains: only programming errors raise.

    Adapters check the shape of values (required fields, enumerations, dates,
    amounts with at most 2 decimals, phone numbers, the promise rules, note length).
    The host checks what needs its clock or database: ``future_date``,
    ``unknown_case``, ``case_not_assigned``, ``duplicate_payment_ref``,
    ``exceeds_balance``. Naive datetimes mean the agency's local time; the host
    resolves them with ``context.timezone``.
    """


@hookspec(firstresult=True)
def adapter_render(
    format_key: str, kind: str, records: Iterable[Record], out: BinaryIO, context: RenderContext
) -> bool | None:
    """Write records in one of this adapter's formats (placement lists, exports, round trips).

    :param format_key:
        The format to write. Return None at once when it is not yours, or when the
        format's ``can_export`` is false.
    :param kind:
        ``contacts`` or ``settlements``: the type of every record in ``records``.
    :param records:
        ``ContactRecord`` or ``SettlementRecord`` values; may be a one-pass iterator,
        so write as you go. Datetimes are written as their wall-clock value; formats
        without an offset drop it, so the host converts to the agency's local time first.
    :param out:
        A binary stream to write to; do not close it.
    :param context:
        :class:`~portal.plugins.RenderContext`: the agency code and file date for
        formats with a header record, and the host settings. May be left out.

    Return True when written. Spreadsheet-bound text (CSV, .xlsx) must pass every
    text cell through :func:`portal.plugins.neutralise_formula`, so a cell starting
    with ``=``, ``+``, ``-``, ``@``, tab or carriage return cannot run as a formula;
    the adapter's own parser undoes the prefix, so a render → parse round trip gives
    back the same records.
    """
