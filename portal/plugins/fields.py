"""The one shared validator: canonical raw values in, a typed record or row issues out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from portal.plugins.records import (
    CHANNELS,
    METHODS,
    N_,
    NO_COLUMNS,
    OUTCOMES,
    PARTIES,
    SETTLEMENT_TYPES,
    ContactRecord,
    ParsedRow,
    Record,
    RowIssue,
    SettlementRecord,
    unneutralise_formula,
)

RawValue = str | int | float | Decimal | bool | datetime | date | time | timedelta | None

MAX_NOTES = 2000
# Identifier lengths fit the host's columns; longer values are almost always a shifted column.
MAX_REF = 64
MAX_LONG_REF = 255
MAX_PAYMENT_REF = 128
# Numeric(18, 2) in the database.
MAX_AMOUNT = Decimal("9999999999999999.99")
_CENTS = Decimal("0.01")
_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - Excel serials have no timezone

_CN_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_GROUPED_COMMA = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_CURRENCY = re.compile(r"^(?:¥|￥|RMB|CNY|元)\s*|\s*(?:元|RMB|CNY)$", re.IGNORECASE)
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def normalise_word(value: str) -> str:
    """The form vocabulary keys and headers are compared in: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a partner writes values that the shared validator must understand.

    ``vocabularies`` maps a field to {partner word: canonical value}; canonical values
    are always accepted too. ``datetime_formats``/``date_formats`` are strptime
    patterns tried after ISO 8601; the pseudo-format ``"excel_serial"`` accepts Excel
    serial day numbers (1900 date system).
    """

    datetime_formats: tuple[str, ...] = ()
    date_formats: tuple[str, ...] = ()
    vocabularies: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    decimal_comma: bool = False
    true_words: frozenset[str] = frozenset()
    false_words: frozenset[str] = frozenset()

    def lookup(self, field_name: str, value: str) -> str:
        vocab = self.vocabularies.get(field_name)
        key = normalise_word(value)
        if vocab:
            for word, canonical in vocab.items():
                if normalise_word(word) == key:
                    return canonical
        return key


CANONICAL_DIALECT = Dialect()


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _clean(value: RawValue) -> RawValue:
    if isinstance(value, str):
        text = unneutralise_formula(value.strip())
        return text or None
    return value


class _Row:
    """Collects every problem of one row, so the partner sees them all at once.

    Messages name the file's own column (``columns``, else the canonical field) and are
    templates marked with N_, so that the host can show them in the user's language.
    """

    def __init__(
        self,
        raw: Mapping[str, RawValue],
        row: int,
        dialect: Dialect,
        line: int | None = None,
        columns: Mapping[str, str] = NO_COLUMNS,
    ) -> None:
        self.raw = raw
        self.row = row
        self.dialect = dialect
        self.line = line
        self.columns = columns
        self.issues: list[RowIssue] = []

    def get(self, name: str) -> RawValue:
        return _clean(self.raw.get(name))

    def fail(self, name: str, code: str, template: str, **params: str | int) -> None:
        column = self.columns.get(name, "")
        self.issues.append(RowIssue.of(self.row, name, code, template, column=column, line=self.line, **params))

    def require(self, name: str) -> RawValue:
        value = self.get(name)
        if value is None:
            self.fail(name, "missing_field", N_("%(column)s is required"))
        return value

    def text(self, name: str, *, required: bool = False, max_len: int = MAX_REF) -> str | None:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value) if name == "notes" else unicodedata.normalize("NFKC", str(value))
        if "\x00" in text:  # no database stores it in text; it is never part of a real value
            self.fail(name, "invalid_value", N_("%(column)s contains a NUL character"))
            return None
        if len(text) > max_len:
            self.fail(
                name,
                "invalid_value",
                N_("%(column)s is %(length)s characters long; at most %(limit)s allowed"),
                length=len(text),
                limit=max_len,
            )
            return None
        return text

    def choice(self, name: str, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        word = self.dialect.lookup(name, str(value))
        if word not in allowed:
            words = list(self.dialect.vocabularies.get(name, {})) or list(allowed)
            self.fail(
                name,
                "invalid_value",
                N_("%(column)s %(value)s is not one of: %(allowed)s"),
                value=_show(value),
                allowed=", ".join(words),
            )
            return None
        return word

    def moment(self, name: str) -> datetime | None:
        value = self.require(name)
        if value is None:
            return None
        result = parse_datetime(value, self.dialect)
        if result is None:
            self.fail(
                name,
                "invalid_date",
                N_("%(column)s %(value)s is not a date and time (expected e.g. %(example)s)"),
                value=_show(value),
                example="2026-11-28 14:05:00",
            )
        return result

    def day(self, name: str) -> date | None:
        value = self.get(name)
        if value is None:
            return None
        result = parse_date(value, self.dialect)
        if result is None:
            self.fail(
                name,
                "invalid_date",
                N_("%(column)s %(value)s is not a date (expected e.g. %(example)s)"),
                value=_show(value),
                example="2026-11-28",
            )
        return result

    def money(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        amount = parse_amount(value, self.dialect)
        if amount is None:
            self.fail(
                name,
                "invalid_amount",
                N_("%(column)s %(value)s is not an amount (expected e.g. %(example)s)"),
                value=_show(value),
                example="1234.50",
            )
        elif amount != amount.quantize(_CENTS):
            self.fail(name, "invalid_amount", N_("%(column)s %(value)s has more than 2 decimals"), value=_show(value))
        elif amount <= 0:
            self.fail(name, "invalid_amount", N_("%(column)s %(value)s must be greater than 0"), value=_show(value))
        elif amount > MAX_AMOUNT:
            self.fail(name, "invalid_amount", N_("%(column)s %(value)s is too large"), value=_show(value))
        else:
            return amount.quantize(_CENTS)
        return None

    def count(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()
        ):
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\+?\d{1,9}", unicodedata.normalize("NFKC", value)):
            number = int(unicodedata.normalize("NFKC", value))
        if number is None or number < 0:
            self.fail(
                name,
                "invalid_value",
                N_("%(column)s %(value)s is not a whole number of seconds ≥ 0"),
                value=_show(value),
            )
            return None
        return number

    def flag(self, name: str) -> bool | None:
        value = self.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        word = normalise_word(str(value))
        if word in _TRUE or word in {normalise_word(w) for w in self.dialect.true_words}:
            return True
        if word in _FALSE or word in {normalise_word(w) for w in self.dialect.false_words}:
            return False
        self.fail(name, "invalid_value", N_("%(column)s %(value)s is not true or false"), value=_show(value))
        return None

    def phone(self, name: str, *, required: bool) -> str | None:
        value = self.require(name) if required else self.get(name)
        if value is None:
            return None
        number = normalise_phone(value)
        if number is None:
            self.fail(
                name,
                "invalid_phone",
                N_("%(column)s %(value)s is not a valid number (a CN mobile number or E.164 such as %(example)s)"),
                value=_show(value),
                example="+14155550123",
            )
        return number


def normalise_phone(value: RawValue) -> str | None:
    """A CN mobile number as its 11 digits, another number as E.164, or None if invalid."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", str(value)))
    mobile = _CN_MOBILE.fullmatch(text)
    if mobile:
        return mobile.group(1)
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if _E164.fullmatch(text) else None


def parse_amount(value: RawValue, dialect: Dialect = CANONICAL_DIALECT) -> Decimal | None:
    """A Decimal from a number or from text with optional ¥/￥, grouping and full-width digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr gives the shortest text that round-trips, so 12.3 stays 12.3, not 12.2999...
        return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    if not isinstance(value, str):
        return None
    text = _CURRENCY.sub("", unicodedata.normalize("NFKC", value).strip()).replace(" ", "")
    if dialect.decimal_comma:
        if _GROUPED_COMMA.fullmatch(text):
            text = text.replace(".", "")
        text = text.replace(",", ".")
    elif _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def excel_serial_to_datetime(serial: float) -> datetime | None:
    """An Excel 1900-system serial day number as a naive datetime, rounded to the second."""
    if not 1 <= serial < 2958466:
        return None
    moment = _EXCEL_EPOCH + timedelta(days=serial)
    return (moment + timedelta(microseconds=500_000)).replace(microsecond=0)


def datetime_to_excel_serial(moment: datetime) -> float:
    """The inverse of excel_serial_to_datetime, for writing spreadsheets."""
    delta = moment.replace(tzinfo=None) - _EXCEL_EPOCH
    return delta.days + delta.seconds / 86400


def _has_time(text: str) -> bool:
    return ":" in text or "T" in text[8:]


def _plausible(moment: datetime) -> datetime | None:
    return moment if 1900 < moment.year < 2200 else None


def parse_datetime(value: RawValue, dialect: Dialect = CANONICAL_DIALECT) -> datetime | None:
    """A datetime (aware if the text has an offset) from ISO 8601 or the dialect's formats."""
    if isinstance(value, datetime):
        return _plausible(value)
    if isinstance(value, bool | date | time | timedelta):
        return None
    formats = dialect.datetime_formats
    if isinstance(value, int | float | Decimal):
        if "excel_serial" in formats:
            moment = excel_serial_to_datetime(float(value))
            return _plausible(moment) if moment else None
        return None
    text = " ".join(unicodedata.normalize("NFKC", str(value)).split())
    if _has_time(text):
        try:
            return _plausible(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    for pattern in formats:
        if pattern == "excel_serial":
            if _PLAIN_NUMBER.fullmatch(text):
                moment = excel_serial_to_datetime(float(text))
                if moment:
                    return _plausible(moment)
            continue
        try:
            return _plausible(datetime.strptime(text, pattern))  # noqa: DTZ007 - naive is agency time
        except ValueError:
            continue
    return None


def parse_date(value: RawValue, dialect: Dialect = CANONICAL_DIALECT) -> date | None:
    """A calendar date from ISO 8601, the dialect's formats, or a midnight datetime."""
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) and 1900 < value.year < 2200 else None
    if isinstance(value, date):
        return value if 1900 < value.year < 2200 else None
    if isinstance(value, bool | time | timedelta):
        return None
    formats = dialect.date_formats
    if isinstance(value, int | float | Decimal):
        if "excel_serial" in formats and float(value).is_integer():
            moment = excel_serial_to_datetime(float(value))
            return moment.date() if moment and 1900 < moment.year < 2200 else None
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        parsed = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        parsed = None
    for pattern in formats:
        if parsed is not None:
            break
        if pattern == "excel_serial":
            if text.isdigit():
                moment = excel_serial_to_datetime(float(text))
                parsed = moment.date() if moment else None
            continue
        try:
            parsed = datetime.strptime(text, pattern).date()  # noqa: DTZ007 - only the date is kept
        except ValueError:
            continue
    return parsed if parsed and 1900 < parsed.year < 2200 else None


def build_contact(
    raw: Mapping[str, RawValue],
    row: int,
    dialect: Dialect = CANONICAL_DIALECT,
    *,
    line: int | None = None,
    columns: Mapping[str, str] = NO_COLUMNS,
) -> ContactRecord | list[RowIssue]:
    """Validate one contact row given as {canonical field: raw value} (contract 5.1).

    Checks shape only: presence, enums, dates, amounts, phone numbers and the promise
    rules. The host checks what needs the clock or the database (future dates, the case).
    ``line`` and ``columns`` (field -> the file's header) let issues name what the user sees.
    """
    r = _Row(raw, row, dialect, line, columns)
    case_ref = r.text("case_ref", required=True)
    contacted_at = r.moment("contacted_at")
    channel = r.choice("channel", CHANNELS)
    party = r.choice("party", PARTIES)
    phone = r.phone("phone", required=channel in ("call", "sms"))
    outcome = r.choice("outcome", OUTCOMES)
    connected = r.flag("connected")
    duration_s = r.count("duration_s")
    promised = outcome == "promise_to_pay"
    if promised and r.get("promise_amount") is None:
        r.fail("promise_amount", "missing_field", N_("%(column)s is required when outcome is promise_to_pay"))
    promise_amount = r.money("promise_amount")
    promise_date = r.day("promise_date")
    if promised and promise_date is None and r.get("promise_date") is None:
        r.fail("promise_date", "missing_field", N_("%(column)s is required when outcome is promise_to_pay"))
    if promise_date and contacted_at and promise_date < contacted_at.date():
        r.fail(
            "promise_date",
            "invalid_date",
            N_("%(column)s %(value)s is before the contact (%(contact_date)s)"),
            value=promise_date.isoformat(),
            contact_date=contacted_at.date().isoformat(),
        )
    collector_id = r.text("collector_id", required=True)
    recording_ref = r.text("recording_ref", max_len=MAX_LONG_REF)
    notes = r.text("notes", max_len=MAX_NOTES)
    if r.issues:
        return r.issues
    assert case_ref and contacted_at and channel and party and outcome and collector_id
    return ContactRecord(
        case_ref=case_ref,
        contacted_at=contacted_at,
        channel=channel,
        party=party,
        outcome=outcome,
        collector_id=collector_id,
        phone=phone,
        connected=connected,
        duration_s=duration_s,
        promise_amount=promise_amount,
        promise_date=promise_date,
        recording_ref=recording_ref,
        notes=notes,
    )


def build_settlement(
    raw: Mapping[str, RawValue],
    row: int,
    dialect: Dialect = CANONICAL_DIALECT,
    *,
    line: int | None = None,
    columns: Mapping[str, str] = NO_COLUMNS,
) -> SettlementRecord | list[RowIssue]:
    """Validate one settlement row given as {canonical field: raw value} (contract 5.2).

    The host checks balances, payment_ref uniqueness and future dates. ``line`` and
    ``columns`` as for build_contact.
    """
    r = _Row(raw, row, dialect, line, columns)
    case_ref = r.text("case_ref", required=True)
    paid_at = r.moment("paid_at")
    amount = r.money("amount", required=True)
    method = r.choice("method", METHODS)
    payment_ref = r.text("payment_ref", required=True, max_len=MAX_PAYMENT_REF)
    kind = r.choice("type", SETTLEMENT_TYPES)
    waiver_raw = r.get("waiver_amount")
    waiver: Decimal | None = None
    # Exports often fill the column with 0 for ordinary payments: that means "no waiver".
    if waiver_raw is not None and parse_amount(waiver_raw, dialect) == 0:
        waiver_raw = None
    if kind == "settlement":
        if waiver_raw is None:
            r.fail("waiver_amount", "missing_field", N_("%(column)s is required when type is settlement"))
        else:
            waiver = r.money("waiver_amount")
    elif waiver_raw is not None and kind is not None:
        r.fail(
            "waiver_amount",
            "invalid_value",
            N_("%(column)s %(value)s is only allowed when type is settlement, not %(type)s"),
            value=_show(waiver_raw),
            type=kind,
        )
    notes = r.text("notes", max_len=MAX_NOTES)
    if r.issues:
        return r.issues
    assert case_ref and paid_at and amount and method and payment_ref and kind
    return SettlementRecord(
        case_ref=case_ref,
        paid_at=paid_at,
        amount=amount,
        method=method,
        payment_ref=payment_ref,
        type=kind,
        waiver_amount=waiver,
        notes=notes,
    )


def build_record(
    kind: str,
    raw: Mapping[str, RawValue],
    row: int,
    dialect: Dialect = CANONICAL_DIALECT,
    *,
    line: int | None = None,
    columns: Mapping[str, str] = NO_COLUMNS,
) -> Record | list[RowIssue]:
    """build_contact or build_settlement, by kind."""
    if kind == "contacts":
        return build_contact(raw, row, dialect, line=line, columns=columns)
    return build_settlement(raw, row, dialect, line=line, columns=columns)


def build_row(
    kind: str,
    raw: Mapping[str, RawValue],
    row: int,
    dialect: Dialect = CANONICAL_DIALECT,
    *,
    line: int | None = None,
    columns: Mapping[str, str] = NO_COLUMNS,
) -> Iterator[ParsedRow | RowIssue]:
    """What an adapter yields for one data row: a ParsedRow, or every issue of the row.

    ``line``: where the row starts in the file (line, or sheet row); ``columns``: {field:
    the file's own header}. Both travel on the issues and on the ParsedRow.
    """
    result = build_record(kind, raw, row, dialect, line=line, columns=columns)
    if isinstance(result, list):
        yield from result
    else:
        yield ParsedRow(row, result, line, columns)


def canonical_text(record: Record) -> dict[str, str]:
    """A record as {field: canonical text}, the shared starting point of every renderer."""
    out: dict[str, str] = {}
    for spec in fields(record):
        name = spec.name
        value = getattr(record, name)
        if value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, datetime):
            out[name] = value.isoformat(sep=" ")
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, Decimal):
            out[name] = f"{value:.2f}"
        else:
            out[name] = str(value)
    return out
