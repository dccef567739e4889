"""The typed values that cross the adapter boundary: records, row issues, formats, contexts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

Kind = Literal["contacts", "settlements"]
KINDS: tuple[str, ...] = ("contacts", "settlements")

# Contract 5.4: the only codes a RowIssue may carry.
ISSUE_CODES: frozenset[str] = frozenset(
    {
        "missing_field",
        "invalid_value",
        "invalid_date",
        "future_date",
        "invalid_amount",
        "invalid_phone",
        "unknown_case",
        "case_not_assigned",
        "duplicate_payment_ref",
        "exceeds_balance",
        "unreadable_file",
        "unknown_format",
    }
)

CHANNELS: tuple[str, ...] = ("call", "sms", "visit", "email", "letter", "im")
PARTIES: tuple[str, ...] = (
    "debtor",
    "spouse",
    "parent",
    "relative",
    "colleague",
    "friend",
    "emergency_contact",
    "third_party",
    "unknown",
)
OUTCOMES: tuple[str, ...] = (
    "no_answer",
    "busy",
    "wrong_number",
    "refused",
    "promise_to_pay",
    "paid",
    "dispute",
    "callback",
    "left_message",
    "cease_request",
    "other",
)
METHODS: tuple[str, ...] = ("bank_transfer", "alipay", "wechat_pay", "card", "cash", "other")
SETTLEMENT_TYPES: tuple[str, ...] = ("partial", "full", "settlement")

# Contract section 8: what `connected` means when the partner left it blank.
CONNECTED_BY_DEFAULT: frozenset[str] = frozenset(
    {"refused", "promise_to_pay", "paid", "dispute", "callback", "cease_request", "wrong_number"}
)

CONTACT_FIELDS: tuple[str, ...] = (
    "case_ref",
    "contacted_at",
    "channel",
    "party",
    "phone",
    "outcome",
    "connected",
    "duration_s",
    "promise_amount",
    "promise_date",
    "collector_id",
    "recording_ref",
    "notes",
)
SETTLEMENT_FIELDS: tuple[str, ...] = (
    "case_ref",
    "paid_at",
    "amount",
    "method",
    "payment_ref",
    "type",
    "waiver_amount",
    "notes",
)
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {"contacts": CONTACT_FIELDS, "settlements": SETTLEMENT_FIELDS}

# Columns a table must have for its kind; other fields may be absent as columns.
REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "contacts": ("case_ref", "contacted_at", "channel", "party", "outcome", "collector_id"),
    "settlements": ("case_ref", "paid_at", "amount", "method", "payment_ref", "type"),
}


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One contact attempt (contract 5.1); a naive datetime is in the agency's timezone."""

    case_ref: str
    contacted_at: datetime
    channel: str
    party: str
    outcome: str
    collector_id: str
    phone: str | None = None
    connected: bool | None = None
    duration_s: int | None = None
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    recording_ref: str | None = None
    notes: str | None = None

    @property
    def is_conversation(self) -> bool:
        """True when a person was spoken to, applying the outcome default of contract 8."""
        if self.connected is not None:
            return self.connected
        return self.outcome in CONNECTED_BY_DEFAULT


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """One payment (contract 5.2); a naive datetime is in the agency's timezone."""

    case_ref: str
    paid_at: datetime
    amount: Decimal
    method: str
    payment_ref: str
    type: str
    waiver_amount: Decimal | None = None
    notes: str | None = None


Record = ContactRecord | SettlementRecord


def N_(template: str) -> str:
    """Mark a row message template for translation; returns it unchanged.

    Adapters never translate (they cannot import Flask): the host does, when it shows
    the issue. ``make translations`` extracts the strings given to ``N_`` in
    ``portal/plugins`` and ``adapters`` (see babel.cfg), so write the template as a
    literal: ``RowIssue.of(row, "amount", "invalid_amount", N_("%(column)s %(value)s is
    not an amount"), value=...)``.
    """
    return template


RowParams = Mapping[str, str | int]
NO_PARAMS: RowParams = MappingProxyType({})
NO_COLUMNS: Mapping[str, str] = MappingProxyType({})


def _no_params() -> RowParams:
    return NO_PARAMS


def _no_columns() -> Mapping[str, str]:
    return NO_COLUMNS


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A rejected row (or, at row 0, a rejected file); ``code`` is one of ISSUE_CODES.

    Any issue at row 0 means the whole file is rejected, even when records were
    yielded before it (a trailer mismatch or a decoding error late in the file).

    ``row`` is the data row (contract 4.4) and ``field`` the canonical field; what the
    user sees in their own program is ``column`` (the file's header for that field, as
    written, or the layout's name and byte positions for fixed-width files; "" when the
    field has no column) and ``line`` (the 1-based line of a text file or sheet row of a
    workbook where the row starts, blank rows counted; None when unknown).
    ``message`` is English; ``template % params`` renders the same text, and the host
    translates ``template`` (a msgid marked with ``N_``) before filling in ``params``.
    An issue without a template is shown as ``message`` in every language.
    """

    row: int
    field: str
    code: str
    message: str
    # Not compared: two issues are the same issue when the contract's four fields agree,
    # so adapters' tests written before these fields existed keep passing.
    column: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)
    template: str = field(default="", compare=False)
    params: RowParams = field(default_factory=_no_params, compare=False)

    def __post_init__(self) -> None:
        if self.code not in ISSUE_CODES:
            raise ValueError(f"unknown row issue code {self.code!r}")

    @classmethod
    def of(
        cls,
        row: int,
        field_name: str,
        code: str,
        template: str,
        *,
        column: str = "",
        line: int | None = None,
        **params: str | int,
    ) -> RowIssue:
        """An issue whose English ``message`` is ``template % params`` (params as text or whole numbers).

        ``%(column)s`` in a template is the file's column, else the field's name.
        """
        values: dict[str, str | int] = {"column": column or field_name, **params}
        return cls(row, field_name, code, template % values, column, line, template, values)


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A valid record and its 1-based data row number (header and blank rows not counted).

    ``line`` is where the row starts in the file as its user sees it (see RowIssue) and
    ``columns`` maps canonical fields to the file's own column headers, so that checks the
    host makes later (the case, the balance) name what the user sent.
    """

    row: int
    record: Record
    line: int | None = field(default=None, compare=False)
    columns: Mapping[str, str] = field(default_factory=_no_columns, compare=False)

    def column(self, field_name: str) -> str:
        """The file's header for ``field_name``, or "" when the file has no column for it."""
        return self.columns.get(field_name, "")


@dataclass(frozen=True, slots=True)
class AdapterFormat:
    """One file format an adapter reads (and maybe writes).

    ``key`` is unique across all installed adapters and matches ``[a-z][a-z0-9_]{1,63}``;
    ``extensions`` are lower-case with the dot (``".csv"``). ``label`` is English; ``labels`` gives
    it in other languages as ``(locale, label)`` pairs (``(("zh_CN", "标准 CSV（UTF-8）"),)``).
    """

    key: str
    label: str
    kinds: tuple[str, ...]
    extensions: tuple[str, ...] = ()
    version: str = "1"
    can_export: bool = False
    description: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    # A partner's private format (a mapping file made for one agency) names that agency's code;
    # None offers the format to every agency.
    agency: str | None = None

    def label_for(self, locale: str) -> str:
        """The label in ``locale`` (``zh_CN``, ``zh``, ``en``), else the English one."""
        wanted = str(locale)
        for candidate, text in self.labels:
            if candidate == wanted or candidate.split("_")[0] == wanted.split("_")[0]:
                return text
        return self.label


@dataclass(frozen=True, slots=True)
class Sniff:
    """An adapter's confidence (0..1) that a file is in one of its formats."""

    format_key: str
    confidence: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AdapterSettings:
    """Host configuration that some adapters need (the others simply ignore it).

    ``mapping_dirs``: extra directories of partner mapping files for the ``mapping``
    adapter, searched after the adapter's own ``partners/`` directory.
    """

    mapping_dirs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds that keep hostile files from exhausting memory or time (docs/uploads.md, "Hostile files").

    ``max_columns`` holds for every table reader (CSV rows, JSON Lines keys, sheet columns);
    ``max_rows`` and ``max_cells`` for sheets, whose reader holds the sheet's whole extent (last
    row x last column, empty cells included) in memory: they are checked against the sheet's
    declared dimension and its cell references before the reader allocates anything by them.
    """

    max_columns: int = 256
    max_rows: int = 1_048_576  # Excel's own limit
    max_cells: int = 20_000_000
    max_line_bytes: int = 1024 * 1024
    max_xlsx_uncompressed_bytes: int = 256 * 1024 * 1024
    max_xlsx_entries: int = 10_000


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What the host tells an adapter about the file it is about to parse."""

    kind: str
    timezone: str = "Asia/Shanghai"
    limits: ParseLimits = field(default_factory=ParseLimits)
    settings: AdapterSettings = field(default_factory=AdapterSettings)
    filename: str | None = None
    agency_code: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What the host tells an adapter about a file it wants written.

    Datetimes handed to a renderer are written as their wall-clock value; formats
    without an offset drop it, so the host converts aware datetimes to the agency's
    local time first.
    """

    agency_code: str | None = None
    file_date: date | None = None
    settings: AdapterSettings = field(default_factory=AdapterSettings)


# What a spreadsheet runs when a cell starts with it (OWASP's list, plus the full-width forms that
# CJK input methods produce and Excel accepts as the same operators).
FORMULA_PREFIXES = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
# Excel splits an opened CSV on the list separator of the reader's locale (`,` or `;`), on tabs when
# pasted, and some tools on `|`: each of these starts a new cell that may begin with a formula.
_CELL_DELIMITERS = ",;\t|\r\n"
_SEGMENT_START = f"(?:^|(?<=[{re.escape(_CELL_DELIMITERS)}]))"
_WOULD_RUN = f"'*[ \u3000]*[{re.escape(FORMULA_PREFIXES)}]"
_NEUTRALISE = re.compile(f"{_SEGMENT_START}(?={_WOULD_RUN})")
_UNNEUTRALISE = re.compile(f"{_SEGMENT_START}'(?={_WOULD_RUN})")


def neutralise_formula(cell: str) -> str:
    """Make a cell safe to open in a spreadsheet (CSV/formula injection).

    A ``'`` goes before every place where a cell could begin, the start and after each delimiter
    a spreadsheet may split on, when what follows (after spaces) would run as a formula. Quotes
    already there are doubled the same way, so :func:`unneutralise_formula` restores the exact text.
    """
    if not cell:
        return cell
    return _NEUTRALISE.sub("'", cell)


def unneutralise_formula(cell: str) -> str:
    """Undo neutralise_formula, so a file we wrote reads back to the same values."""
    if "'" not in cell:
        return cell
    return _UNNEUTRALISE.sub("", cell)
