"""The fast path for tables: a per-file plan that builds records from whole rows (falls back to fields.py)."""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from types import MemberDescriptorType

from portal.plugins.fields import (
    _CENTS,
    _PLAIN_NUMBER,
    CANONICAL_DIALECT,
    MAX_LONG_REF,
    MAX_NOTES,
    MAX_PAYMENT_REF,
    MAX_REF,
    Dialect,
    _clean,
    _Row,
    parse_amount,
)
from portal.plugins.records import (
    CHANNELS,
    CONTACT_FIELDS,
    METHODS,
    OUTCOMES,
    PARTIES,
    SETTLEMENT_FIELDS,
    SETTLEMENT_TYPES,
    ContactRecord,
    SettlementRecord,
    unneutralise_formula,
)

# ---------------------------------------------------------------------------
# Fast path for tables: a per-file plan that builds records from whole rows.
#
# The plan never reports a problem itself. It accepts the common shapes of values
# (plain ASCII references, ISO or dialect dates, exact vocabulary words, plain
# amounts) and hands anything else to the ``_Row`` methods above, one field at a
# time. As soon as any field or cross-field rule would raise an issue it gives up
# (returns None) and the caller runs ``build_record`` on the row, so issues, their
# order and their messages come from the one validator above.

# Records are built positionally (measurably faster), so only when their fields are in this order.
_CONTACT_RECORD_ORDER = (
    "case_ref",
    "contacted_at",
    "channel",
    "party",
    "outcome",
    "collector_id",
    "phone",
    "connected",
    "duration_s",
    "promise_amount",
    "promise_date",
    "recording_ref",
    "notes",
)
_POSITIONAL = (
    tuple(spec.name for spec in fields(ContactRecord)) == _CONTACT_RECORD_ORDER
    and tuple(spec.name for spec in fields(SettlementRecord)) == SETTLEMENT_FIELDS
)


def _only_sets_slots(cls: type, order: tuple[str, ...]) -> bool:
    """Whether ``cls(*values)`` does nothing but set the slots ``order``, one value each.

    True for a frozen slots dataclass without __post_init__: its generated __init__
    calls object.__setattr__ once a field, which costs twice as much as setting the
    slots directly (about 0.6 µs of a contact row).
    """
    return (
        tuple(spec.name for spec in fields(cls)) == order
        and not hasattr(cls, "__post_init__")
        and all(isinstance(vars(cls).get(name), MemberDescriptorType) for name in order)
    )


def _contact_constructor() -> Callable[..., ContactRecord]:
    """ContactRecord, or an equivalent that sets its slots directly (positional, in field order)."""
    if not (_POSITIONAL and _only_sets_slots(ContactRecord, _CONTACT_RECORD_ORDER)):
        return ContactRecord
    slots = vars(ContactRecord)
    set_case_ref = slots["case_ref"].__set__
    set_contacted_at = slots["contacted_at"].__set__
    set_channel = slots["channel"].__set__
    set_party = slots["party"].__set__
    set_outcome = slots["outcome"].__set__
    set_collector_id = slots["collector_id"].__set__
    set_phone = slots["phone"].__set__
    set_connected = slots["connected"].__set__
    set_duration_s = slots["duration_s"].__set__
    set_promise_amount = slots["promise_amount"].__set__
    set_promise_date = slots["promise_date"].__set__
    set_recording_ref = slots["recording_ref"].__set__
    set_notes = slots["notes"].__set__
    new = object.__new__

    def contact(
        case_ref: str,
        contacted_at: datetime,
        channel: str,
        party: str,
        outcome: str,
        collector_id: str,
        phone: str | None,
        connected: bool | None,
        duration_s: int | None,
        promise_amount: Decimal | None,
        promise_date: date | None,
        recording_ref: str | None,
        notes: str | None,
    ) -> ContactRecord:
        record = new(ContactRecord)
        set_case_ref(record, case_ref)
        set_contacted_at(record, contacted_at)
        set_channel(record, channel)
        set_party(record, party)
        set_outcome(record, outcome)
        set_collector_id(record, collector_id)
        set_phone(record, phone)
        set_connected(record, connected)
        set_duration_s(record, duration_s)
        set_promise_amount(record, promise_amount)
        set_promise_date(record, promise_date)
        set_recording_ref(record, recording_ref)
        set_notes(record, notes)
        return record

    return contact


_new_contact = _contact_constructor()
# Per-file caches of settled values: bounded, and only for short texts (a hostile file
# could make thousands of valid megabyte-long amounts with leading zeros).
_CACHE_SIZE = 4096
_CACHE_KEY = 64
_FAST_ISO = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?", re.ASCII)
_FAST_AMOUNT = re.compile(r"\d{1,16}(?:\.\d{1,2})?", re.ASCII)
# The fifth character of anything date.fromisoformat/datetime.fromisoformat accepts.
_ISO_FIFTH = frozenset("-W0123456789")
_STRICT_DIRECTIVES = {"Y": r"(\d{4})", "m": r"(\d\d)", "d": r"(\d\d)", "H": r"(\d\d)", "M": r"(\d\d)", "S": r"(\d\d)"}
_DATETIME_PARTS = "YmdHMS"
_NOT_FAST = object()  # a field value the fast checks did not settle
_nfkc = unicodedata.normalize
_is_nfkc = unicodedata.is_normalized


def _loose_pattern(pattern: str) -> re.Pattern[str]:
    """A regex matching at least every text that strptime(text, pattern) accepts."""
    if pattern == "excel_serial":
        return _PLAIN_NUMBER
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "%":
            out.append(".*?")
            index += 2
            continue
        if char.isspace():
            if not out or out[-1] != r"\s+":
                out.append(r"\s+")
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _strict_pattern(pattern: str, *, with_time: bool) -> tuple[re.Pattern[str], tuple[int, ...]] | None:
    """A regex for the zero-padded, single-spaced texts of a plain strptime pattern, or None.

    Its groups (Y, m, d[, H, M, S] by the returned indices, -1 for absent) hold
    exactly the numbers strptime would read from a matching text.
    """
    if pattern == "excel_serial":
        return None
    out: list[str] = []
    seen: list[str] = []
    index = 0
    previous_directive = False
    while index < len(pattern):
        char = pattern[index]
        if char == "%":
            name = pattern[index + 1 : index + 2]
            if name not in _STRICT_DIRECTIVES or name in seen or previous_directive:
                return None
            out.append(_STRICT_DIRECTIVES[name])
            seen.append(name)
            previous_directive = True
            index += 2
            continue
        if char.isspace():
            while index + 1 < len(pattern) and pattern[index + 1].isspace():
                index += 1
            out.append(" ")
        else:
            out.append(re.escape(char))
        previous_directive = False
        index += 1
    if not {"Y", "m", "d"} <= set(seen) or (not with_time and len(seen) != 3):
        return None
    order = tuple(seen.index(name) if name in seen else -1 for name in _DATETIME_PARTS[: 6 if with_time else 3])
    return re.compile("".join(out), re.ASCII), order


def _literals(pattern: str) -> tuple[set[str], bool]:
    """The literal characters of a strptime pattern (directives left out) and whether it has whitespace."""
    chars: set[str] = set()
    spaced = False
    index = 0
    while index < len(pattern):
        if pattern[index] == "%":
            index += 2
            continue
        if pattern[index].isspace():
            spaced = True
        else:
            chars.add(pattern[index])
        index += 1
    return chars, spaced


def _may_overlap(earlier: str, pattern: str) -> bool:
    """Whether strptime(text, earlier) might accept a text that pattern's strict regex matches.

    Such a text holds every literal of ``pattern`` and otherwise only ASCII digits and
    spaces; ``earlier`` needs each of its own literals (case-insensitively) and
    whitespace if it has whitespace.
    """
    literals, spaced = _literals(pattern)
    if earlier == "excel_serial":
        return not spaced and literals <= set("+-.0123456789")
    alphabet = literals | set("0123456789") | ({" "} if spaced else set())
    wanted, wants_space = _literals(earlier)
    if wants_space and not spaced:
        return False
    return all(any(re.fullmatch(re.escape(char), other, re.IGNORECASE) for other in alphabet) for char in wanted)


_Branches = dict[int, tuple[int, int, tuple[int, ...], bool, "re.Pattern[str] | None"]]


class _Formats:
    """A dialect's plain strptime patterns as regexes that read zero-padded, single-spaced texts.

    A text is tried against the patterns it can match, in the dialect's order, as one
    regex: patterns that start with ``%Y`` and a literal are grouped by that literal
    (the fifth character of their texts). For a regex, ``branches`` maps its
    ``lastindex`` to (index of the pattern's first number in ``groups()``, count of
    numbers, their order as Y, m, d[, H, M, S] with -1 for absent, whether that is
    already the constructor's order, and a regex of the texts that an earlier pattern
    might accept, or None).
    """

    def __init__(self, patterns: tuple[str, ...], *, with_time: bool) -> None:
        plain: list[tuple[str | None, re.Pattern[str], tuple[int, ...], re.Pattern[str] | None]] = []
        for position, pattern in enumerate(patterns):
            strict = _strict_pattern(pattern, with_time=with_time)
            if strict is None:
                continue
            earlier = [
                _loose_pattern(before).pattern for before in patterns[:position] if _may_overlap(before, pattern)
            ]
            loose = re.compile("|".join(f"(?:{p})" for p in earlier), re.IGNORECASE | re.DOTALL) if earlier else None
            fifth = pattern[2:3] if pattern.startswith("%Y") and pattern[2:3] not in ("", "%") else None
            plain.append((" " if fifth and fifth.isspace() else fifth, strict[0], strict[1], loose))
        fifths = {entry[0] for entry in plain if entry[0] is not None}
        self.by_fifth = {char: self._compile([e for e in plain if e[0] in (char, None)]) for char in fifths}
        self.other = self._compile([e for e in plain if e[0] is None])

    @staticmethod
    def _compile(
        entries: list[tuple[str | None, re.Pattern[str], tuple[int, ...], re.Pattern[str] | None]],
    ) -> tuple[re.Pattern[str] | None, _Branches]:
        alternatives: list[str] = []
        branches: _Branches = {}
        groups = 0
        for _, regex, order, loose in entries:
            count = sum(1 for index in order if index >= 0)
            in_order = order == tuple(range(count)) + (-1,) * (len(order) - count)
            alternatives.append(f"({regex.pattern})")
            # The alternative's outer group is number groups + 1, so its numbers start
            # at that index of groups().
            branches[groups + 1] = (groups + 1, count, order, in_order, loose)
            groups += 1 + count
        return (re.compile("|".join(alternatives), re.ASCII) if alternatives else None), branches

    def numbers(self, value: str) -> Iterable[int] | None:
        """Y, m, d[, H, M, S] of a text that strptime reads the same way, or None if unsure."""
        regex, branches = self.by_fifth.get(value[4:5], self.other)
        found = regex.fullmatch(value) if regex is not None else None
        if found is None:
            return None
        first, count, order, in_order, earlier = branches[found.lastindex]  # type: ignore[index]
        # The full path reads the same text with the same pattern unless NFKC changes
        # the text or an earlier pattern might read it.
        if (not value.isascii() and not _is_nfkc("NFKC", value)) or (earlier is not None and earlier.fullmatch(value)):
            return None
        groups = found.groups()
        if in_order:
            return map(int, groups[first : first + count])
        return [int(groups[first + index]) if index >= 0 else 0 for index in order]


def _reference(case_ref: str) -> str | None:
    """A case reference as the full validator would read it, or None to leave the row to it."""
    if case_ref[0] == "'":
        case_ref = unneutralise_formula(case_ref)
    if not case_ref.isascii():
        case_ref = _nfkc("NFKC", case_ref)
    return case_ref if case_ref and len(case_ref) <= MAX_REF and "\x00" not in case_ref else None


class TablePlan:
    """Builds the records of one table's rows, given as stripped text cells in header order.

    ``build(cells)`` returns the record, or None when the row needs the full
    validator (it has an issue, or a value the plan does not handle itself). ``cells``
    must be a row of exactly the header's width; it may be extended in place.
    ``usable`` is False when the plan cannot serve (defaults that are not text).
    """

    def __init__(
        self,
        kind: str,
        columns: Mapping[str, int],
        width: int,
        dialect: Dialect = CANONICAL_DIALECT,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        order = CONTACT_FIELDS if kind == "contacts" else SETTLEMENT_FIELDS
        self.dialect = dialect
        self.extras: list[str | None] = []
        indices = []
        for name in order:
            if name in columns:
                indices.append(columns[name])
                continue
            # An absent column: its default (or None) stands in for the cell, as in iter_table.
            default = (defaults or {}).get(name)
            indices.append(width + len(self.extras))
            self.extras.append(default.strip() if isinstance(default, str) else None)
        self.usable = _POSITIONAL and all(
            default is None or isinstance(default, str) for default in (defaults or {}).values()
        )
        self.getter = operator.itemgetter(*indices)
        self.build = self._contact if kind == "contacts" else self._settlement
        self.datetimes = _Formats(dialect.datetime_formats, with_time=True)
        self.dates = _Formats(dialect.date_formats, with_time=False)
        self.words: dict[str, dict[str, str]] = {name: {} for name in ("channel", "party", "outcome", "method", "type")}
        self.channels, self.parties, self.outcomes = self.words["channel"], self.words["party"], self.words["outcome"]
        self.flags: dict[str, bool | None] = {}
        self.amounts: dict[str, Decimal] = {}
        self.days: dict[str, date] = {}

    def _slow(self, method: str, name: str, value: str | None, **options: bool) -> object:
        """One field through the full _Row method; _NOT_FAST if it has an issue."""
        scratch = _Row({name: value}, 0, self.dialect)
        result = getattr(scratch, method)(name, **options)
        return _NOT_FAST if scratch.issues else result

    def _choice(self, name: str, allowed: tuple[str, ...], value: str | None) -> str | None:
        """A vocabulary value, or None (an issue)."""
        cache = self.words[name]
        word = cache.get(value)  # type: ignore[arg-type]
        if word is not None or not value:
            return word
        scratch = _Row({name: value}, 0, self.dialect)
        word = scratch.choice(name, allowed)
        if scratch.issues or word is None:
            return None
        if len(cache) < _CACHE_SIZE and len(value) <= _CACHE_KEY:
            cache[value] = word
        return word

    def _flag(self, name: str, value: str) -> object:
        """True, False, or _NOT_FAST (an issue) for a non-empty value."""
        flags = self.flags
        if value in flags:
            return flags[value]
        result = self._slow("flag", name, value)
        if result is not _NOT_FAST and len(flags) < _CACHE_SIZE and len(value) <= _CACHE_KEY:
            flags[value] = result  # type: ignore[assignment]
        return result

    def _money(self, name: str, value: str) -> object:
        """A valid amount from a non-empty value, or _NOT_FAST (an issue)."""
        amount = self.amounts.get(value)
        if amount is not None:
            return amount
        if _FAST_AMOUNT.fullmatch(value):
            amount = Decimal(value).quantize(_CENTS)
            if not amount:
                return _NOT_FAST
        else:
            result = self._slow("money", name, value)
            if result is _NOT_FAST or result is None:
                return _NOT_FAST
            amount = result  # type: ignore[assignment]
        if len(self.amounts) < _CACHE_SIZE and len(value) <= _CACHE_KEY:
            self.amounts[value] = amount  # type: ignore[index]
        return amount

    def _moment(self, name: str, value: str) -> datetime | None:
        """A valid datetime from a non-empty value, or None (an issue, or a value to leave to build_record)."""
        if _FAST_ISO.fullmatch(value):
            # Plain ASCII with one space: the full path gives fromisoformat this same text.
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return None
            return moment if 1900 < moment.year < 2200 else None
        # fromisoformat rejects anything whose fifth character is not one of _ISO_FIFTH.
        numbers = self.datetimes.numbers(value) if value[4:5] not in _ISO_FIFTH else None
        if numbers is not None:
            try:
                moment = datetime(*numbers)  # noqa: DTZ001 - naive is agency time
            except ValueError:
                return None
            return moment if 1900 < moment.year < 2200 else None
        result = self._slow("moment", name, value)
        return None if result is _NOT_FAST else result  # type: ignore[return-value]

    def _day(self, name: str, value: str) -> object:
        """A valid date from a non-empty value, or _NOT_FAST (an issue, or a value to leave to build_record)."""
        day = self.days.get(value)
        if day is not None:
            return day
        if len(value) == 10 and value[4] in _ISO_FIFTH:
            # What the full path gives date.fromisoformat (an ASCII text is its own NFKC form).
            try:
                day = date.fromisoformat(value) if value.isascii() else None
            except ValueError:
                day = None
        else:
            numbers = self.dates.numbers(value)
            if numbers is not None:
                try:
                    day = date(*numbers)
                except ValueError:
                    return _NOT_FAST
        if day is None:
            result = self._slow("day", name, value)
            if result is _NOT_FAST or result is None:
                return _NOT_FAST
            day = result  # type: ignore[assignment]
        elif not 1900 < day.year < 2200:
            return _NOT_FAST
        if len(self.days) < _CACHE_SIZE and len(value) <= _CACHE_KEY:
            self.days[value] = day
        return day

    def _contact(self, cells: list[str]) -> ContactRecord | None:
        if self.extras:
            cells.extend(self.extras)
        (
            case_ref,
            contacted_at,
            channel,
            party,
            phone,
            outcome,
            connected,
            duration_s,
            promise_amount,
            promise_date,
            collector_id,
            recording_ref,
            notes,
        ) = self.getter(cells)
        if not case_ref or not collector_id or not contacted_at:
            return None
        case_ref = _reference(case_ref)
        if case_ref is None:
            return None
        moment = self._moment("contacted_at", contacted_at)
        if moment is None:
            return None
        channel = self.channels.get(channel) or self._choice("channel", CHANNELS, channel)
        party = self.parties.get(party) or self._choice("party", PARTIES, party)
        outcome = self.outcomes.get(outcome) or self._choice("outcome", OUTCOMES, outcome)
        if channel is None or party is None or outcome is None:
            return None
        if phone:
            if not (len(phone) == 11 and phone.isdigit() and phone.isascii() and phone[0] == "1" and phone[1] > "2"):
                phone = self._slow("phone", "phone", phone, required=False)
                if phone is _NOT_FAST:
                    return None
        elif channel == "call" or channel == "sms":
            return None
        else:
            phone = None
        if connected:
            connected = self.flags[connected] if connected in self.flags else self._flag("connected", connected)
            if connected is _NOT_FAST:
                return None
        else:
            connected = None
        if duration_s:
            if len(duration_s) <= 9 and duration_s.isdigit() and duration_s.isascii():
                duration_s = int(duration_s)
            else:
                duration_s = self._slow("count", "duration_s", duration_s)
                if duration_s is _NOT_FAST:
                    return None
        else:
            duration_s = None
        if promise_amount:
            promise_amount = self._money("promise_amount", promise_amount)
            if promise_amount is _NOT_FAST:
                return None
        elif outcome == "promise_to_pay":
            return None
        else:
            promise_amount = None
        if promise_date:
            promise_date = self._day("promise_date", promise_date)
            if promise_date is _NOT_FAST or promise_date < moment.date():
                return None
        elif outcome == "promise_to_pay":
            return None
        else:
            promise_date = None
        if collector_id[0] == "'":
            collector_id = unneutralise_formula(collector_id)
        if not collector_id.isascii():
            collector_id = _nfkc("NFKC", collector_id)
        if len(collector_id) > MAX_REF or not collector_id or "\x00" in collector_id:
            return None
        if recording_ref:
            if recording_ref[0] == "'":
                recording_ref = unneutralise_formula(recording_ref)
            if not recording_ref.isascii():
                recording_ref = _nfkc("NFKC", recording_ref)
            if len(recording_ref) > MAX_LONG_REF or "\x00" in recording_ref:
                return None
        else:
            recording_ref = None
        if notes:
            if notes[0] == "'":
                notes = unneutralise_formula(notes)
            if len(notes) > MAX_NOTES or "\x00" in notes:
                return None
        else:
            notes = None
        return _new_contact(
            case_ref,
            moment,
            channel,
            party,
            outcome,
            collector_id,
            phone,  # type: ignore[arg-type]
            connected,  # type: ignore[arg-type]
            duration_s,  # type: ignore[arg-type]
            promise_amount,  # type: ignore[arg-type]
            promise_date,  # type: ignore[arg-type]
            recording_ref,
            notes,
        )

    def _settlement(self, cells: list[str]) -> SettlementRecord | None:
        if self.extras:
            cells.extend(self.extras)
        case_ref, paid_at, amount, method, payment_ref, kind, waiver_amount, notes = self.getter(cells)
        if not case_ref or not paid_at or not amount or not payment_ref:
            return None
        case_ref = _reference(case_ref)
        if case_ref is None:
            return None
        moment = self._moment("paid_at", paid_at)
        if moment is None:
            return None
        amount = self._money("amount", amount)
        if amount is _NOT_FAST:
            return None
        method = self._choice("method", METHODS, method)
        kind = self._choice("type", SETTLEMENT_TYPES, kind)
        if method is None or kind is None:
            return None
        if payment_ref[0] == "'":
            payment_ref = unneutralise_formula(payment_ref)
        if not payment_ref.isascii():
            payment_ref = _nfkc("NFKC", payment_ref)
        if len(payment_ref) > MAX_PAYMENT_REF or not payment_ref or "\x00" in payment_ref:
            return None
        waiver = None
        if waiver_amount:
            cleaned = _clean(waiver_amount)
            if cleaned is not None and parse_amount(cleaned, self.dialect) == 0:
                waiver_amount = None
        if kind == "settlement":
            if not waiver_amount:
                return None
            waiver = self._money("waiver_amount", waiver_amount)
            if waiver is _NOT_FAST:
                return None
        elif waiver_amount:
            return None
        if notes:
            if notes[0] == "'":
                notes = unneutralise_formula(notes)
            if len(notes) > MAX_NOTES or "\x00" in notes:
                return None
        else:
            notes = None
        return SettlementRecord(case_ref, moment, amount, method, payment_ref, kind, waiver, notes)  # type: ignore[arg-type]
