"""What the case page shows beside the case: its contacts in pages, its settlements, balance and flags.

Everything here is scoped like the case itself: an agency sees only its own agency's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select

from portal.cases.masking import mask_phone
from portal.cases.models import Case
from portal.cases.services import (
    MAX_PAGE_SIZE,
    CurrentFlag,
    case_balance,
    case_flags,
    decode_cursor,
    encode_cursor,
    is_placed_with,
)
from portal.contacts.models import Contact
from portal.errors import ValidationError, _l
from portal.extensions import db
from portal.money.balances import CaseBalance
from portal.money.models import Settlement
from portal.params import cursor_integer
from portal.security import Actor
from portal.uploads.models import Upload


@dataclass(frozen=True)
class CaseActivity:
    """What the case page shows beside the case: counts, the balance, the settlements, the flags."""

    contacts: int
    balance: CaseBalance
    settlements: list[SettlementLine]
    flags: list[CurrentFlag]


@dataclass(frozen=True)
class SettlementLine:
    paid_at: datetime
    amount: Decimal
    method: str
    type: str
    waiver_amount: Decimal | None
    payment_ref: str
    notes: str | None
    upload_id: str  # the upload's public id
    filename: str


def _contacts_of(actor: Actor, case: Case) -> Any:
    """The condition "a contact of ``case`` that ``actor`` may see": an agency only its own agency's."""
    condition = Contact.case_id == case.id
    if actor.is_agency:
        condition = and_(condition, Contact.agency_id == actor.agency_id)
    return condition


def case_activity(actor: Actor, case: Case) -> CaseActivity:
    """Contacts count, balance, settlements and flags of the case; an agency sees only its own work."""
    settlements = (
        select(Settlement, Upload.filename, Upload.public_id)
        .join(Upload, Upload.id == Settlement.upload_id)
        .where(Settlement.case_id == case.id)
        .order_by(Settlement.paid_at.desc(), Settlement.id.desc())
    )
    if actor.is_agency:
        settlements = settlements.where(Settlement.agency_id == actor.agency_id)
    return CaseActivity(
        contacts=db.session.execute(
            select(func.count()).select_from(Contact).where(_contacts_of(actor, case))
        ).scalar_one(),
        balance=case_balance(actor, case),
        settlements=[
            SettlementLine(
                paid_at=s.paid_at,
                amount=s.amount,
                method=s.method,
                type=s.type,
                waiver_amount=s.waiver_amount,
                payment_ref=s.payment_ref,
                notes=s.notes,
                upload_id=upload_id,
                filename=filename,
            )
            for s, filename, upload_id in db.session.execute(settlements).all()
        ],
        flags=case_flags(case),
    )


CONTACTS_PAGE_SIZE = 50


@dataclass(frozen=True)
class ContactLine:
    """One contact as the viewer may read it (the phone masked once the case is not placed with them)."""

    contacted_at: datetime
    channel: str
    party: str
    phone: str
    outcome: str
    connected: bool
    duration_s: int | None
    promise_amount: Decimal | None
    promise_date: date | None
    collector_id: str
    recording_ref: str | None
    notes: str | None
    upload_id: str  # the upload's public id
    filename: str


@dataclass(frozen=True)
class ContactPage:
    lines: list[ContactLine]
    next_cursor: str | None


def _decode_contact_cursor(cursor: str) -> tuple[datetime, int]:
    moment, contact_id = decode_cursor(cursor, purpose="contacts")
    try:
        at = datetime.fromisoformat(moment)
        if at.tzinfo is None:
            raise ValueError(moment)
        return at, cursor_integer(contact_id)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_l("the cursor is not one this server issued"), field="cursor") from exc


def case_contacts(
    *, actor: Actor, case: Case, before: str | None = None, limit: int = CONTACTS_PAGE_SIZE
) -> ContactPage:
    """One page of the case's contacts the viewer may see, newest first; ``next_cursor`` continues older.

    Keyset on ``(contacted_at, id)``: the contacts index leads with ``(case_id, contacted_at)``, so
    the 30th page of a case's 1,505 contacts reads as few rows as the first.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = (
        select(Contact, Upload.filename, Upload.public_id)
        .join(Upload, Upload.id == Contact.upload_id)
        .where(_contacts_of(actor, case))
    )
    if before:
        at, last_id = _decode_contact_cursor(before)
        # The first condition is the index range; the second breaks ties between contacts of one moment.
        query = query.where(Contact.contacted_at <= at, or_(Contact.contacted_at < at, Contact.id < last_id))
    rows = db.session.execute(query.order_by(Contact.contacted_at.desc(), Contact.id.desc()).limit(limit + 1)).all()
    full_phones = not actor.is_agency or is_placed_with(case, actor.agency_id)
    lines = [
        ContactLine(
            contacted_at=c.contacted_at,
            channel=c.channel,
            party=c.party,
            phone=c.phone if full_phones or not c.phone else mask_phone(c.phone),
            outcome=c.outcome,
            connected=c.connected,
            duration_s=c.duration_s,
            promise_amount=c.promise_amount,
            promise_date=c.promise_date,
            collector_id=c.collector_id,
            recording_ref=c.recording_ref,
            notes=c.notes,
            upload_id=upload_id,
            filename=filename,
        )
        for c, filename, upload_id in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor([last.contacted_at.isoformat(), last.id], purpose="contacts")
    return ContactPage(lines=lines, next_cursor=next_cursor)


def contact_record(line: ContactLine, case: Case) -> dict[str, Any]:
    """A contact as the API shows it: the contract 5.1 fields, money as strings, and its upload."""
    return {
        "case_ref": case.case_ref,
        "contacted_at": line.contacted_at.isoformat(),
        "channel": line.channel,
        "party": line.party,
        "phone": line.phone,
        "outcome": line.outcome,
        "connected": line.connected,
        "duration_s": line.duration_s,
        "promise_amount": None if line.promise_amount is None else f"{line.promise_amount:.2f}",
        "promise_date": None if line.promise_date is None else line.promise_date.isoformat(),
        "collector_id": line.collector_id,
        "recording_ref": line.recording_ref,
        "notes": line.notes,
        "upload_id": line.upload_id,
    }
