"""The complaints register's rules: who registers, answers and closes a complaint, and who sees which.

Agencies see only complaints against their own agency (another agency's is a 404, as for a case),
with the complainant's personal data masked (contract 7) and without the lender's notes. Each change
is an audit event in the same transaction; a complaint can set, and its closing clear, the case's
``complaint`` flag through ``portal.cases.flags.change_case_flag`` (the flag's own rules and events).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from portal.agencies.models import Agency
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.flags import change_case_flag
from portal.cases.masking import mask_name, mask_phone
from portal.cases.models import Case, Placement
from portal.complaints.models import (
    CATEGORIES,
    CHANNELS,
    OUTCOMES,
    REFERENCE_PREFIX,
    STATUSES,
    Complaint,
    ComplaintResponse,
)
from portal.db import REFERENCE_ALPHABET, REFERENCE_LENGTH, utcnow
from portal.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError, _l
from portal.extensions import db
from portal.params import reference as parse_reference
from portal.security import Actor, Role
from portal.textsafety import bounded_text

# Who registers and closes complaints: the lender's operations and its compliance officers (issue 10).
REGISTRARS = (Role.LENDER_OPS, Role.COMPLIANCE)
SUMMARY_MAX = 4000
RESPONSE_MAX = 4000
NOTE_MAX = 4000
LIST_LIMIT = 200
# The reason a complaint gives the case flag it sets or clears; the case page reads it back as a link.
FLAG_REASON = "complaint {reference}"
FLAG_CLEAR_REASON = "complaint {reference} closed"
FLAG_REASON_PATTERN = re.compile(
    rf"^complaint ({REFERENCE_PREFIX}-[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}})( closed)?$"
)


def lender_today(zone: str, now: datetime | None = None) -> date:
    """Today as a day of the lender's calendar: received dates and deadlines are the lender's days."""
    return (now or utcnow()).astimezone(ZoneInfo(zone)).date()


def _require_registrar(actor: Actor) -> None:
    if actor.is_system or actor.role not in REGISTRARS:
        raise PermissionDeniedError(_l("only lender operations and compliance register and close complaints"))


def complaint_scope(actor: Actor) -> Select[tuple[Complaint]]:
    """Every complaint the actor may see: an agency user only its own agency's."""
    query = select(Complaint)
    if actor.is_agency:
        query = query.where(Complaint.agency_id == actor.agency_id)
    return query


def require_complaint(*, actor: Actor, complaint_ref: str, for_update: bool = False) -> Complaint:
    """The complaint ``complaint_ref`` names (e.g. ``CP-7K3QX9AB``), when the actor may see it.

    Anything else (another agency's, unknown, malformed, an integer key) is the same NotFoundError."""
    wanted = parse_reference(complaint_ref or "", prefix=REFERENCE_PREFIX)
    if wanted is None:
        raise NotFoundError(_l("no complaint %(id)s", id=(complaint_ref or "")[:20]))
    query = (
        complaint_scope(actor)
        .where(Complaint.reference == wanted)
        .options(
            selectinload(Complaint.agency),
            selectinload(Complaint.case),
            selectinload(Complaint.responses),
        )
    )
    if for_update:
        query = query.with_for_update()
    complaint = db.session.execute(query).scalar_one_or_none()
    if complaint is None:
        raise NotFoundError(_l("no complaint %(id)s", id=wanted))
    return complaint


def _placed_with(case: Case, agency: Agency) -> bool:
    return db.session.execute(
        select(exists().where(Placement.case_id == case.id, Placement.agency_id == agency.id))
    ).scalar_one()


def register_complaint(
    *,
    actor: Actor,
    agency_code: str,
    category: str,
    channel: str,
    received_on: date,
    summary: str,
    today: date,
    response_days: int,
    response_due_on: date | None = None,
    case_ref: str | None = None,
    collector_id: str | None = None,
    complainant_name: str | None = None,
    complainant_phone: str | None = None,
    notes: str | None = None,
    set_flag: bool = False,
) -> Complaint:
    """Register a complaint; with ``set_flag`` (and a case) the case's ``complaint`` flag opens from the received day.

    The deadline defaults to ``received_on + response_days``. A case must have been placed with the
    agency complained about at some time.
    """
    _require_registrar(actor)
    agency = db.session.execute(select(Agency).where(Agency.code == (agency_code or "").strip())).scalar_one_or_none()
    if agency is None:
        raise ValidationError(_l("unknown agency %(code)s", code=agency_code), field="agency")
    if category not in CATEGORIES:
        raise ValidationError(_l("unknown category %(code)s", code=category), field="category")
    if channel not in CHANNELS:
        raise ValidationError(_l("unknown channel %(code)s", code=channel), field="channel")
    if received_on > today:
        raise ValidationError(_l("the received date is in the future"), field="received_on")
    due = response_due_on or received_on + timedelta(days=response_days)
    if due < received_on:
        raise ValidationError(_l("the response deadline is before the received date"), field="response_due_on")
    summary_text = bounded_text(summary, SUMMARY_MAX, field="summary", required=True)
    case = None
    ref = (case_ref or "").strip()
    if ref:
        case = db.session.execute(select(Case).where(Case.case_ref == ref)).scalar_one_or_none()
        if case is None:
            raise ValidationError(_l("no case %(case_ref)s", case_ref=ref), field="case_ref")
        if not _placed_with(case, agency):
            raise ValidationError(
                _l("case %(case_ref)s was never placed with %(agency)s", case_ref=ref, agency=agency.code),
                field="case_ref",
            )
    elif set_flag:
        raise ValidationError(_l("setting the complaint flag needs a case"), field="case_ref")
    complaint = Complaint(
        agency_id=agency.id,
        case_id=case.id if case else None,
        collector_id=bounded_text(collector_id, 60, field="collector_id"),
        category=category,
        channel=channel,
        received_on=received_on,
        response_due_on=due,
        complainant_name=bounded_text(complainant_name, 100, field="complainant_name"),
        complainant_phone=bounded_text(complainant_phone, 20, field="complainant_phone"),
        summary=summary_text,
        notes=bounded_text(notes, NOTE_MAX, field="notes"),
        flag_set=False,
        created_by_user_id=actor.user_id,
    )
    db.session.add(complaint)
    db.session.flush()
    details: dict[str, Any] = {
        "agency": agency.code,
        "complaint_category": category,
        "complaint_channel": channel,
        "received_on": received_on.isoformat(),
        "response_due_on": due.isoformat(),
    }
    if case is not None:
        details["case_ref"] = case.case_ref
    if complaint.collector_id:
        details["collector_id"] = complaint.collector_id
    # The flag service commits: the complaint's event goes first, so that one commit holds both.
    flagging = set_flag and case is not None and "complaint" not in case.active_flags
    complaint.flag_set = flagging
    if set_flag:
        details["flag_set"] = flagging
    record_event(
        actor=actor,
        action=AuditTag.COMPLAINT_REGISTER,
        object_type="complaint",
        object_id=complaint.reference,
        details=details,
        agency_id=agency.id,
    )
    try:
        if flagging:
            change_case_flag(
                actor=actor,
                case_ref=case.case_ref,
                flag="complaint",
                reason=FLAG_REASON.format(reference=complaint.reference),
                from_day=received_on,
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return complaint


def respond_to_complaint(*, actor: Actor, complaint_ref: str, text: str) -> ComplaintResponse:
    """An agency's answer to an open complaint against it; appended, audited."""
    if not actor.is_agency:
        raise PermissionDeniedError(_l("only the agency complained about answers a complaint"))
    complaint = require_complaint(actor=actor, complaint_ref=complaint_ref, for_update=True)
    if not complaint.is_open:
        raise ConflictError(_l("the complaint is closed"))
    body = bounded_text(text, RESPONSE_MAX, field="text", required=True)
    response = ComplaintResponse(complaint=complaint, user_id=actor.user_id, text=body)
    db.session.add(response)
    db.session.flush()
    record_event(
        actor=actor,
        action=AuditTag.COMPLAINT_RESPOND,
        object_type="complaint",
        object_id=complaint.reference,
        details={"response_id": response.id, "length": len(body)},
        agency_id=complaint.agency_id,
    )
    db.session.commit()
    return response


def close_complaint(
    *,
    actor: Actor,
    complaint_ref: str,
    outcome: str,
    today: date,
    closed_on: date | None = None,
    note: str | None = None,
    clear_flag: bool = False,
) -> Complaint:
    """Close an open complaint with an outcome; ``clear_flag`` also clears the case's ``complaint`` flag."""
    _require_registrar(actor)
    complaint = require_complaint(actor=actor, complaint_ref=complaint_ref, for_update=True)
    if not complaint.is_open:
        raise ConflictError(_l("the complaint is closed"))
    if outcome not in OUTCOMES:
        raise ValidationError(_l("unknown outcome %(code)s", code=outcome), field="outcome")
    day = closed_on or today
    if day > today:
        raise ValidationError(_l("the closing date is in the future"), field="closed_on")
    if day < complaint.received_on:
        raise ValidationError(_l("the closing date is before the received date"), field="closed_on")
    complaint.closed_on = day
    complaint.outcome = outcome
    complaint.closing_note = bounded_text(note, NOTE_MAX, field="note")
    complaint.closed_by_user_id = actor.user_id
    complaint.closed_at = utcnow()
    details: dict[str, Any] = {"complaint_outcome": outcome, "closed_on": day.isoformat()}
    clearing = clear_flag and case_flag_open(complaint)
    if clear_flag:
        details["flag_cleared"] = clearing
    record_event(
        actor=actor,
        action=AuditTag.COMPLAINT_CLOSE,
        object_type="complaint",
        object_id=complaint.reference,
        details=details,
        agency_id=complaint.agency_id,
    )
    try:
        if clearing:
            change_case_flag(
                actor=actor,
                case_ref=complaint.case.case_ref,
                flag="complaint",
                reason=FLAG_CLEAR_REASON.format(reference=complaint.reference),
                clear=True,
            )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return complaint


def case_flag_open(complaint: Complaint) -> bool:
    """Whether the complaint's case has an open ``complaint`` flag (what closing offers to clear)."""
    if complaint.case is None:
        return False
    return "complaint" in complaint.case.active_flags


def other_open_complaints(complaint: Complaint) -> int:
    """Open complaints on the same case besides this one (closing this one need not clear the flag)."""
    if complaint.case_id is None:
        return 0
    return db.session.execute(
        select(func.count())
        .select_from(Complaint)
        .where(Complaint.case_id == complaint.case_id, Complaint.id != complaint.id, Complaint.closed_on.is_(None))
    ).scalar_one()


@dataclass(frozen=True)
class ComplaintFilters:
    agency: str = ""
    status: str = ""
    category: str = ""
    received_from: date | None = None
    received_to: date | None = None


@dataclass(frozen=True)
class ComplaintList:
    items: list[Complaint]
    total: int
    open: int
    overdue: int
    limit: int


def _overdue(today: date):
    return and_(Complaint.closed_on.is_(None), Complaint.response_due_on < today)


def list_complaints(*, actor: Actor, filters: ComplaintFilters, today: date, limit: int = LIST_LIMIT) -> ComplaintList:
    """The complaints the actor may see, newest received first; ``open`` and ``overdue`` count the whole scope."""
    query = complaint_scope(actor)
    if filters.agency and not actor.is_agency:
        query = query.join(Agency, Agency.id == Complaint.agency_id).where(Agency.code == filters.agency)
    if filters.status and filters.status not in STATUSES:
        raise ValidationError(_l("unknown status %(code)s", code=filters.status), field="status")
    if filters.status == "open":
        query = query.where(Complaint.closed_on.is_(None))
    elif filters.status == "closed":
        query = query.where(Complaint.closed_on.is_not(None))
    elif filters.status == "overdue":
        query = query.where(_overdue(today))
    if filters.category:
        query = query.where(Complaint.category == filters.category)
    if filters.received_from:
        query = query.where(Complaint.received_on >= filters.received_from)
    if filters.received_to:
        query = query.where(Complaint.received_on <= filters.received_to)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    items = list(
        db.session.execute(
            query.options(selectinload(Complaint.agency), selectinload(Complaint.case))
            .order_by(Complaint.received_on.desc(), Complaint.id.desc())
            .limit(limit)
        ).scalars()
    )
    scope = complaint_scope(actor).subquery()
    open_count, overdue_count = db.session.execute(
        select(
            func.count().filter(scope.c.closed_on.is_(None)),
            func.count().filter(and_(scope.c.closed_on.is_(None), scope.c.response_due_on < today)),
        )
    ).one()
    return ComplaintList(items, total, int(open_count or 0), int(overdue_count or 0), limit)


@dataclass(frozen=True)
class ComplainantView:
    """The complainant as the viewer may see them: masked for agencies (contract 7)."""

    name: str | None
    phone: str | None


def complainant_for(actor: Actor, complaint: Complaint) -> ComplainantView:
    name, phone = complaint.complainant_name, complaint.complainant_phone
    if actor.is_agency:
        return ComplainantView(mask_name(name) if name else None, mask_phone(phone) if phone else None)
    return ComplainantView(name, phone)


def complaint_rates(*, start: date, end: date, zone: str) -> list[dict[str, Any]]:
    """Per agency: complaints received from ``start`` to ``end`` (lender's days, inclusive), placed cases, rate.

    Placed cases are the distinct cases with a placement with that agency that was open at some
    moment of the period (placed before the period's end, not ended before its start). The rate is
    complaints per 1,000 placed cases, one decimal; None when no case was placed.
    """
    tz = ZoneInfo(zone)
    start_utc = datetime.combine(start, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end_utc = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    placed = dict(
        db.session.execute(
            select(Placement.agency_id, func.count(func.distinct(Placement.case_id)))
            .where(
                Placement.placed_at < end_utc,
                or_(Placement.ended_at.is_(None), Placement.ended_at >= start_utc),
            )
            .group_by(Placement.agency_id)
        ).all()
    )
    received = dict(
        db.session.execute(
            select(Complaint.agency_id, func.count())
            .where(Complaint.received_on >= start, Complaint.received_on <= end)
            .group_by(Complaint.agency_id)
        ).all()
    )
    rows = []
    for agency in db.session.execute(select(Agency).order_by(Agency.code)).scalars():
        cases = int(placed.get(agency.id, 0))
        count = int(received.get(agency.id, 0))
        rate = round(1000 * count / cases, 1) if cases else None
        rows.append({"code": agency.code, "name": agency.name, "complaints": count, "placed": cases, "rate": rate})
    return rows


def complaint_counts(*, today: date) -> dict[str, int]:
    """Open and overdue complaints, lender-wide."""
    open_count, overdue_count = db.session.execute(
        select(
            func.count().filter(Complaint.closed_on.is_(None)),
            func.count().filter(_overdue(today)),
        ).select_from(Complaint)
    ).one()
    return {"open": int(open_count or 0), "overdue": int(overdue_count or 0)}
