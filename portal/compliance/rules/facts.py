"""The plain data a rule sees: a contact, its case (phones, flag spells, timezone, contract) and the lender calendar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from portal.plugins.fields import normalise_phone
from portal.plugins.records import CHANNELS, CONNECTED_BY_DEFAULT, OUTCOMES, PARTIES

PROFILES: tuple[str, ...] = ("CN", "US")
FLAGS: tuple[str, ...] = ("cease", "dispute", "bankruptcy", "deceased", "vulnerable", "complaint")
# Contract 8: an unanswered attempt is a call ending no_answer or busy.
UNANSWERED: frozenset[str] = frozenset({"no_answer", "busy"})

ContactKey = int | str
CaseId = int | str
CustomerId = int | str
AgencyId = int | str
# The key of a proposed contact (contract 4.5): it sorts after every stored contact of the same instant.
PROPOSED_KEY = "<proposed>"


def _utc(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not {value!r}")
    return value.astimezone(UTC)


def _number(phone: str | None) -> str | None:
    # The canonical form (contract 5.1) so "+86 138-0013-8007" and "13800138007" are one number;
    # a value that is no valid number is kept as given (it is then simply not a listed number).
    return (normalise_phone(phone) or phone) if phone else None


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact as a rule sees it (contract 5.1, resolved): the debtor's, from any agency and upload.

    ``key`` identifies the contact (the stored id, or ``"upload:row"`` before it is stored);
    ``customer_id`` is the debtor across cases; ``contacted_at`` is converted to UTC (a naive
    value is refused: the builder resolves the agency's timezone first); ``phone`` is normalised
    (``portal.plugins.normalise_phone``); ``connected`` left as None takes contract 8's default
    for the outcome, so after construction it is always a bool.
    """

    key: ContactKey
    case_id: CaseId
    customer_id: CustomerId
    agency_id: AgencyId
    contacted_at: datetime
    channel: str
    party: str
    outcome: str
    phone: str | None = None
    connected: bool | None = None
    recording_ref: str | None = None
    notes: str | None = None
    upload_id: int | str | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "contacted_at", _utc("contacted_at", self.contacted_at))
        object.__setattr__(self, "phone", _number(self.phone))
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if self.party not in PARTIES:
            raise ValueError(f"unknown party {self.party!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.connected is None:
            object.__setattr__(self, "connected", self.outcome in CONNECTED_BY_DEFAULT)

    @property
    def is_conversation(self) -> bool:
        """Contract 8: a contact with ``connected`` true."""
        return bool(self.connected)

    @property
    def is_call(self) -> bool:
        return self.channel == "call"

    @property
    def is_unanswered_attempt(self) -> bool:
        """Contract 8: a call with outcome ``no_answer`` or ``busy``."""
        return self.channel == "call" and self.outcome in UNANSWERED


@dataclass(frozen=True, slots=True)
class FlagSpell:
    """A flag as it stood over time: from ``effective_from`` (None: from before the first contact) to ``effective_to``.

    ``effective_to`` None means still open. The end is exclusive: a flag cleared at 10:00 no
    longer holds for a contact at 10:00. A flag given by date only starts at the start of that
    day in the debtor's timezone (the builder converts it).
    """

    flag: str
    effective_from: datetime | None = None
    effective_to: datetime | None = None

    def __post_init__(self) -> None:
        if self.flag not in FLAGS:
            raise ValueError(f"unknown flag {self.flag!r}")
        if self.effective_from is not None:
            object.__setattr__(self, "effective_from", _utc("effective_from", self.effective_from))
        if self.effective_to is not None:
            object.__setattr__(self, "effective_to", _utc("effective_to", self.effective_to))

    @classmethod
    def on_days(cls, flag: str, start: date | None, end: date | None, timezone: str) -> FlagSpell:
        """A spell given by local dates (``dispute@2026-11-21``): from the start of ``start`` to that of ``end``."""
        zone = ZoneInfo(timezone)

        def moment(day: date | None) -> datetime | None:
            return None if day is None else datetime.combine(day, time(0, 0), tzinfo=zone)

        return cls(flag, moment(start), moment(end))

    def holds_at(self, moment: datetime) -> bool:
        started = self.effective_from is None or self.effective_from <= moment
        return started and (self.effective_to is None or moment < self.effective_to)


@dataclass(frozen=True, slots=True)
class AgencyContract:
    """What the placing agency's contract says to the rules.

    ``allowed_channels`` None allows every channel. ``overrides`` maps a rule id to parameter
    values (``{"contact_hours": {"window": "09:00-20:00"}}``); an agency may only make a rule
    stricter (see ``portal.compliance.rules.params``).
    """

    agency_id: AgencyId
    allowed_channels: tuple[str, ...] | None = None
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.allowed_channels is not None:
            object.__setattr__(self, "allowed_channels", tuple(self.allowed_channels))
        object.__setattr__(self, "overrides", _frozen({k: _frozen(v) for k, v in self.overrides.items()}))

    def __hash__(self) -> int:
        return hash(
            (
                self.agency_id,
                self.allowed_channels,
                repr(sorted((k, sorted(v.items())) for k, v in self.overrides.items())),
            )
        )


@dataclass(frozen=True, slots=True)
class Case:
    """The case a contact is about, as it stands for the rules.

    ``phones`` maps each listed (normalised) number to its party (``debtor``, ``spouse`` ...).
    ``flags`` are spells (history, not just the current set): a rule asks ``flag_at``.
    ``timezone`` is the debtor's IANA zone, None for "unknown" (the engine then uses the
    lender's); ``region`` the province or state (for restricted periods); ``contract`` the
    placing agency's contract (None: every channel, no overrides).
    """

    case_id: CaseId
    customer_id: CustomerId
    phones: Mapping[str, str] = field(default_factory=dict)
    flags: tuple[FlagSpell, ...] = ()
    timezone: str | None = None
    region: str | None = None
    contract: AgencyContract | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "phones", _frozen({_number(k) or k: v for k, v in self.phones.items()}))
        object.__setattr__(self, "flags", tuple(self.flags))

    def __hash__(self) -> int:
        return hash((self.case_id, self.customer_id))

    def flag_at(self, flag: str, moment: datetime) -> bool:
        """True when ``flag`` held at ``moment`` (flags count as they stood at the contact's time)."""
        return any(spell.flag == flag and spell.holds_at(moment) for spell in self.flags)


@dataclass(frozen=True, slots=True)
class RestrictedPeriod:
    """A range of the lender's calendar (inclusive local dates) when only letters may be sent.

    ``regions`` empty means nationwide; otherwise the debtor's province or state must be one of
    them (compared case-insensitively).
    """

    name: str
    start: date
    end: date
    regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"restricted period {self.name!r} ends before it starts")
        object.__setattr__(self, "regions", tuple(r.casefold() for r in self.regions))

    def applies(self, day: date, region: str | None) -> bool:
        if not self.start <= day <= self.end:
            return False
        return not self.regions or (region is not None and region.casefold() in self.regions)


@dataclass(frozen=True, slots=True)
class ProposedContact:
    """A contact an agency is about to make (contract 4.5): no outcome yet."""

    case_id: CaseId
    customer_id: CustomerId
    agency_id: AgencyId
    channel: str
    party: str
    phone: str | None
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc("at", self.at))
        object.__setattr__(self, "phone", _number(self.phone))

    def as_contact(self, at: datetime, *, outcome: str, connected: bool) -> Contact:
        return Contact(
            key=PROPOSED_KEY,
            case_id=self.case_id,
            customer_id=self.customer_id,
            agency_id=self.agency_id,
            contacted_at=at,
            channel=self.channel,
            party=self.party,
            outcome=outcome,
            phone=self.phone,
            connected=connected,
        )
