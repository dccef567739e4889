"""The debtor's contacts lender-wide, in time order, with the bisect-backed queries the rules need."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from portal.compliance.rules.facts import PROPOSED_KEY, CaseId, Contact, ContactKey

OrderKey = tuple[datetime, int, ContactKey]


def order_key(contact: Contact) -> OrderKey:
    """Time, then the key: a total order that does not depend on the order the contacts were given in."""
    key = contact.key
    if key == PROPOSED_KEY:
        return (contact.contacted_at, 2, "")
    return (contact.contacted_at, 0, key) if isinstance(key, int) else (contact.contacted_at, 1, str(key))


class Index:
    """Contacts that pass one test, sorted by ``order_key``; every query is a bisection."""

    __slots__ = ("_keys", "items")

    def __init__(self, contacts: Sequence[Contact], keys: Sequence[OrderKey]) -> None:
        self.items: tuple[Contact, ...] = tuple(contacts)
        self._keys: tuple[OrderKey, ...] = tuple(keys)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Contact]:
        return iter(self.items)

    def position(self, contact: Contact) -> int:
        """How many of the contacts come before ``contact`` (which need not be one of them)."""
        return bisect_left(self._keys, order_key(contact))

    def _at(self, moment: datetime) -> int:
        # (moment,) sorts before every (moment, rank, key): the first contact at or after moment.
        return bisect_left(self._keys, (moment,))

    def since(self, start: datetime, contact: Contact) -> tuple[Contact, ...]:
        """The contacts at or after ``start`` that come before ``contact``."""
        return self.items[self._at(start) : self.position(contact)]

    def count_since(self, start: datetime, contact: Contact) -> int:
        return max(0, self.position(contact) - self._at(start))

    def between(self, start: datetime, end: datetime) -> tuple[Contact, ...]:
        """The contacts with ``start <= contacted_at < end``."""
        return self.items[self._at(start) : self._at(end)]

    def last_before(self, contact: Contact, count: int = 1) -> tuple[Contact, ...]:
        """Up to ``count`` contacts just before ``contact``, oldest first."""
        end = self.position(contact)
        return self.items[max(0, end - count) : end]


_EMPTY = Index((), ())


class History:
    """The debtor's contacts from every agency and upload (the file's own rows too), in time order.

    Give it every contact of one customer (the debtor across cases) that the portal holds,
    in any order, duplicates already removed. Rules never scan it: they ask for an ``Index``
    (built once per history, in one pass, and cached) and bisect it, so judging all of a
    debtor's contacts costs O(n log n). Queries take the contact being judged and consider only
    what came before it, so the answer does not depend on contacts recorded later.
    """

    def __init__(self, contacts: Iterable[Contact]) -> None:
        ordered = sorted(contacts, key=order_key)
        self._all = Index(ordered, [order_key(c) for c in ordered])
        self._groups: dict[Hashable, dict[Hashable, Index]] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[Contact]:
        return iter(self._all)

    @property
    def all(self) -> Index:
        return self._all

    def grouped(
        self, name: Hashable, keep: Callable[[Contact], bool], group: Callable[[Contact], Hashable]
    ) -> dict[Hashable, Index]:
        """Indexes of the contacts passing ``keep``, one per ``group`` value; built once per ``name``."""
        found = self._groups.get(name)
        if found is None:
            buckets: dict[Hashable, tuple[list[Contact], list[OrderKey]]] = {}
            for contact, key in zip(self._all.items, self._all._keys, strict=True):
                if keep(contact):
                    items, keys = buckets.setdefault(group(contact), ([], []))
                    items.append(contact)
                    keys.append(key)
            found = {value: Index(items, keys) for value, (items, keys) in buckets.items()}
            self._groups[name] = found
        return found

    def select(self, name: Hashable, keep: Callable[[Contact], bool]) -> Index:
        """An index of the contacts passing ``keep``, cached under ``name``."""
        return self.grouped(name, keep, _whole).get(None, _EMPTY)

    # The named queries of the built-in rules ------------------------------------------------------

    def on_day(self, start: datetime, end: datetime) -> tuple[Contact, ...]:
        """The debtor's contacts of one local day, given as its UTC bounds (see ``LocalDays``)."""
        return self._all.between(start, end)

    def conversations_with(self, parties: frozenset[str]) -> Index:
        """Conversations (any channel) with one of ``parties`` (the debtor, or the debtor and spouse)."""
        return self.select(("conversations", parties), lambda c: c.is_conversation and c.party in parties)

    def unanswered_attempts_to(self, phone: str) -> Index:
        """Calls to ``phone`` that ended ``no_answer`` or ``busy``."""
        return self.grouped("unanswered", lambda c: c.is_unanswered_attempt, _phone).get(phone, _EMPTY)

    def calls_about(self, case_id: CaseId, *, counting_busy: bool = False) -> Index:
        """Calls about one case (any party); ``busy`` ones left out unless ``counting_busy``."""
        groups = self.grouped(
            ("calls", counting_busy), lambda c: c.is_call and (counting_busy or c.outcome != "busy"), _case
        )
        return groups.get(case_id, _EMPTY)

    def telephone_conversations(self, case_id: CaseId, parties: frozenset[str]) -> Index:
        """Calls about one case that were conversations with one of ``parties``."""
        groups = self.grouped(
            ("phone_conversations", parties), lambda c: c.is_call and c.is_conversation and c.party in parties, _case
        )
        return groups.get(case_id, _EMPTY)

    def last_telephone_conversation(self, case_id: CaseId, parties: frozenset[str], before: Contact) -> Contact | None:
        found = self.telephone_conversations(case_id, parties).last_before(before)
        return found[0] if found else None

    def call_attempts_to(self, parties: frozenset[str]) -> Index:
        """Every call to one of ``parties`` (the debtor across cases), whatever its outcome."""
        return self.select(("call_attempts", parties), lambda c: c.is_call and c.party in parties)

    def last_attempts_to_debtor(self, parties: frozenset[str], before: Contact, count: int) -> tuple[Contact, ...]:
        return self.call_attempts_to(parties).last_before(before, count)

    def attempts_to(self, phone: str) -> Index:
        """Calls and text messages to ``phone``."""
        return self.grouped("attempts", lambda c: c.channel in ("call", "sms") and c.phone is not None, _phone).get(
            phone, _EMPTY
        )

    def previous_attempt_to(self, phone: str, before: Contact) -> Contact | None:
        found = self.attempts_to(phone).last_before(before)
        return found[0] if found else None

    def cease_requests(self, parties: frozenset[str]) -> Index:
        """Contacts in which one of ``parties`` asked to stop (outcome ``cease_request``)."""
        return self.select(("cease", parties), lambda c: c.outcome == "cease_request" and c.party in parties)


def _whole(contact: Contact) -> None:
    return None


def _phone(contact: Contact) -> str | None:
    return contact.phone


def _case(contact: Contact) -> CaseId:
    return contact.case_id


class LocalDays:
    """The debtor's local calendar days in one IANA zone, across daylight-saving changes."""

    __slots__ = ("name", "zone")

    def __init__(self, name: str) -> None:
        self.name = name
        self.zone = _zone(name)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def start(self, day: date) -> datetime:
        """The first instant of the local ``day`` (UTC); midnight itself may not exist on a DST day."""
        return _day_start(self.name, day)

    def at(self, day: date, clock: time) -> datetime:
        """The UTC instant of local wall-clock ``clock`` on ``day`` (the earlier one when it repeats)."""
        return _wall(self.name, day, clock)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def _wall(name: str, day: date, clock: time) -> datetime:
    # fold=0: a repeated wall time is its first occurrence, and one inside a spring-forward gap
    # maps to the instant it would be on the old offset (midnight in a gap: the transition itself).
    return datetime.combine(day, clock, tzinfo=_zone(name)).astimezone(UTC)


@lru_cache(maxsize=65536)
def _day_start(name: str, day: date) -> datetime:
    return _wall(name, day, time(0, 0))
