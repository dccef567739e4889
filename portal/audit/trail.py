"""Reading the audit trail: search, an event, a case's timeline, verification; every read is itself audited."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, Select, select

from portal.accounts.models import User
from portal.accounts.services import normalise_email
from portal.agencies.models import Agency
from portal.audit.integrity import TrailReport, verify_trail
from portal.audit.models import AuditEvent, leaf_object
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.models import Case
from portal.errors import NotFoundError, ValidationError, _l
from portal.extensions import db
from portal.security import Actor

MAX_PAGE_SIZE = 500
EVENT_COLUMNS = AuditEvent.__table__


def parse_when(value: str | None, timezone: str, *, field_name: str, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is in ``timezone``.

    A bare date means the start of that day, or with ``end_of_day`` the start of the next one
    (so ``until=2026-11-30`` includes the whole 30th: ``until`` is exclusive).
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_l("unknown timezone '%(name)s'", name=timezone), field=field_name) from exc
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), tzinfo=zone)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(
            _l("%(field)s is not an ISO 8601 date or time: '%(value)s'", field=field_name, value=value),
            field=field_name,
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


@dataclass
class EventFilters:
    """What the search page, the API and the export filter events by (all optional)."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str = ""  # an e-mail, a user id, or "system"
    agency: str = ""  # an agency code
    action: str = ""  # a tag, or a prefix such as "case:" or "case:placement:"
    object_type: str = ""
    object_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, as JSON values (for audit details and export.json)."""
        values = asdict(self)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items() if v}


def agency_by_code(code: str) -> Agency:
    agency = db.session.execute(select(Agency).where(Agency.code == code.strip().upper())).scalar_one_or_none()
    if agency is None:
        raise ValidationError(_l("unknown agency '%(code)s'", code=code), field="agency")
    return agency


def _actor_condition(value: str) -> Any:
    value = value.strip()
    if value.lower() == "system":
        return AuditEvent.actor_user_id.is_(None)
    if value.isdigit():
        return AuditEvent.actor_user_id == int(value)
    user_id = db.session.execute(select(User.id).where(User.email == normalise_email(value))).scalar_one_or_none()
    if user_id is None:
        raise ValidationError(_l("no user '%(user)s'", user=value), field="actor")
    return AuditEvent.actor_user_id == user_id


def filtered(query: Select[Any], filters: EventFilters) -> Select[Any]:
    """``query`` over audit_events narrowed by ``filters``; raises ValidationError for unknown names."""
    if filters.since is not None:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.occurred_at < filters.until)
    if filters.actor.strip():
        query = query.where(_actor_condition(filters.actor))
    if filters.agency.strip():
        query = query.where(AuditEvent.agency_id == agency_by_code(filters.agency).id)
    action = filters.action.strip()
    if action:
        if action.endswith(":"):
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    if filters.object_type.strip():
        query = query.where(AuditEvent.object_type == filters.object_type.strip())
    if filters.object_id.strip():
        query = query.where(AuditEvent.object_id == filters.object_id.strip())
    return query


@dataclass
class EventPage:
    rows: list[Row[Any]]
    next_cursor: str | None
    agencies: dict[int, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        kind, _, value = text.partition(":")
        if kind == "seq" and value.isdigit():
            return int(value)
    except ValueError:
        pass
    raise ValidationError(_l("the cursor is not one this server issued"), field="cursor")


def _page(query: Select[Any], *, cursor: str | None, limit: int, newest_first: bool) -> EventPage:
    """Keyset pagination on seq: a deep page costs what the first one does."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(AuditEvent.seq < after if newest_first else AuditEvent.seq > after)
    query = query.order_by(AuditEvent.seq.desc() if newest_first else AuditEvent.seq)
    rows = list(db.session.execute(query.limit(limit + 1)).all())
    next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
    rows = rows[:limit]
    agency_ids = {r.agency_id for r in rows if r.agency_id is not None}
    user_ids = {r.actor_user_id for r in rows if r.actor_user_id is not None}
    agencies = dict(db.session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(agency_ids))).all())
    users = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
    return EventPage(rows=rows, next_cursor=next_cursor, agencies=agencies, users=users)


def event_json(row: Row[Any]) -> dict[str, Any]:
    """An event as the API gives it: the signed leaf object and its leaf hash."""
    return {**leaf_object(row), "leaf_hash": row.leaf_hash}


def read_events(
    *,
    actor: Actor,
    filters: EventFilters,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
    view: str = "search",
) -> EventPage:
    """One page of events matching ``filters``; the search is recorded as ``audit:events:read``."""
    page = _page(filtered(select(EVENT_COLUMNS), filters), cursor=cursor, limit=limit, newest_first=newest_first)
    record_event(
        actor=actor,
        action=AuditTag.AUDIT_EVENTS_READ,
        details={"view": view, "filters": filters.as_dict(), "cursor": cursor, "events": len(page.rows)},
    )
    db.session.commit()
    return page


def read_event(*, actor: Actor, seq: int) -> Row[Any]:
    """One event with every column; recorded as ``audit:events:read`` naming it."""
    row = db.session.execute(select(EVENT_COLUMNS).where(AuditEvent.seq == seq)).one_or_none()
    if row is None:
        raise NotFoundError(_l("no audit event %(seq)s", seq=seq))
    record_event(
        actor=actor,
        action=AuditTag.AUDIT_EVENTS_READ,
        object_type="audit_event",
        object_id=seq,
        details={"view": "event"},
    )
    db.session.commit()
    return row


def read_case_timeline(
    *, actor: Actor, case_ref: str, cursor: str | None = None, limit: int = 200
) -> tuple[Case, EventPage]:
    """Everything the trail holds about one case, oldest first: placements, flags, who viewed it, contacts."""
    case = db.session.execute(select(Case).where(Case.case_ref == case_ref.strip())).scalar_one_or_none()
    if case is None:
        raise NotFoundError(_l("no case %(case_ref)s", case_ref=case_ref))
    query = select(EVENT_COLUMNS).where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id))
    page = _page(query, cursor=cursor, limit=limit, newest_first=False)
    # Not object_type "case": reading the trail is not an event of the case, and must not fill its timeline.
    record_event(
        actor=actor,
        action=AuditTag.AUDIT_EVENTS_READ,
        details={"view": "case_timeline", "case_id": case.id, "case_ref": case.case_ref, "events": len(page.rows)},
    )
    db.session.commit()
    return case, page


def verify_audit_trail(*, actor: Actor, full: bool = False) -> TrailReport:
    """Verify the whole trail and record that it was verified, with the result."""
    report = verify_trail(full=full)
    record_event(
        actor=actor,
        action=AuditTag.AUDIT_TRAIL_VERIFY,
        outcome="success" if report.ok else "failure",
        details={**report.as_dict(), "full": full, "checkpoints": report.checkpoints},
    )
    db.session.commit()
    return report
