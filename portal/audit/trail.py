"""Reading the audit trail: search, an event, a case's timeline, verification; every read is itself audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Row, Select, and_, or_, select, true

from portal.accounts.models import User
from portal.accounts.services import normalise_email
from portal.agencies.models import Agency
from portal.audit.integrity import TrailReport, verify_trail
from portal.audit.models import AuditEvent, leaf_object
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.audit.witness import WitnessSettings
from portal.cases.models import Case, Placement
from portal.compliance.models import Finding
from portal.contacts.models import Contact
from portal.errors import NotFoundError, ValidationError, _l
from portal.extensions import db
from portal.money.models import Settlement
from portal.params import cursor_integer, open_cursor, seal_cursor
from portal.security import Actor
from portal.uploads.models import Upload

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
    # The search form's placeholder offers "system" in the viewer's language.
    if value.lower() in ("system", "系统"):
        return AuditEvent.actor_user_id.is_(None)
    if value.isascii() and value.isdigit() and len(value) <= 18:
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
    # (object_type, object_id) -> what people call it: a case by its ref, an upload by its file name.
    objects: dict[tuple[str, str], str] = field(default_factory=dict)


# Details keys that name another object by id, and the object type they name.
DETAIL_REFERENCES = {"case_id": "case", "upload_id": "upload", "user_id": "user", "placement_id": "placement"}


def object_names(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """What people call the objects events name: a case by its ref, an upload by its file name, a user by
    e-mail, an agency by code, a placement by its case's ref, a settlement by its payment reference.
    Objects of other types (or gone) keep their id."""
    wanted: dict[str, set[int]] = {}
    for object_type, object_id in pairs:
        if object_id and str(object_id).isascii() and str(object_id).isdigit():
            wanted.setdefault(object_type, set()).add(int(object_id))
    queries = {
        "case": (Case.id, Case.case_ref),
        "upload": (Upload.id, Upload.filename),
        "user": (User.id, User.email),
        "agency": (Agency.id, Agency.code),
        "settlement": (Settlement.id, Settlement.payment_ref),
    }
    names: dict[tuple[str, str], str] = {}
    for object_type, (id_column, name_column) in queries.items():
        if wanted.get(object_type):
            found = db.session.execute(select(id_column, name_column).where(id_column.in_(wanted[object_type])))
            names.update({(object_type, str(i)): name for i, name in found})
    # Upload events name the upload by its public id (older events by its key, handled above).
    public = {object_id for object_type, object_id in pairs if object_type == "upload" and object_id}
    public -= {str(i) for i in wanted.get("upload", set())}
    if public:
        found = db.session.execute(select(Upload.public_id, Upload.filename).where(Upload.public_id.in_(public)))
        names.update({("upload", i): name for i, name in found})
    if wanted.get("placement"):
        found = db.session.execute(
            select(Placement.id, Case.case_ref)
            .join(Case, Case.id == Placement.case_id)
            .where(Placement.id.in_(wanted["placement"]))
        )
        names.update({("placement", str(i)): ref for i, ref in found})
    return names


def named_objects(rows: list[Any]) -> set[tuple[str, str]]:
    """The objects a page of events names: each event's own, and those its details refer to by id."""
    pairs = {(r.object_type, r.object_id) for r in rows if r.object_type and r.object_id}
    for r in rows:
        if isinstance(r.details, dict):
            pairs |= {(kind, str(r.details[key])) for key, kind in DETAIL_REFERENCES.items() if r.details.get(key)}
    return pairs


def encode_cursor(seq: int) -> str:
    return seal_cursor([seq], purpose="audit")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    values = open_cursor(cursor, purpose="audit")
    if len(values) != 1:
        raise ValidationError(_l("the cursor is not one this server issued"), field="cursor")
    return cursor_integer(values[0])


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
    objects = object_names(named_objects(rows))
    return EventPage(rows=rows, next_cursor=next_cursor, agencies=agencies, users=users, objects=objects)


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


@dataclass
class TimelineEntry:
    """One line of a case's timeline: an audit event, a contact or a settlement, at the moment it happened."""

    at: datetime
    kind: str  # "event", "contact" or "settlement"
    item: Any  # the event's row, the Contact, the Settlement
    rules: list[str] = field(default_factory=list)  # the rules its findings name (contacts, settlements)

    @property
    def key(self) -> tuple[datetime, int, int]:
        return (self.at, TIMELINE_KINDS.index(self.kind), self.item.seq if self.kind == "event" else self.item.id)


TIMELINE_KINDS = ("event", "contact", "settlement")


@dataclass
class Timeline:
    entries: list[TimelineEntry]
    next_cursor: str | None
    agencies: dict[int, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)
    objects: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def rows(self) -> list[Row[Any]]:
        """The audit events among the entries."""
        return [e.item for e in self.entries if e.kind == "event"]


def encode_timeline_cursor(key: tuple[datetime, int, int]) -> str:
    at, rank, item_id = key
    return seal_cursor([at.isoformat(), rank, item_id], purpose="timeline")


def decode_timeline_cursor(cursor: str | None) -> tuple[datetime, int, int] | None:
    if not cursor:
        return None
    values = open_cursor(cursor, purpose="timeline")
    try:
        at, rank, item_id = values
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is not None:
            return moment, cursor_integer(rank), cursor_integer(item_id)
    except (TypeError, ValueError):
        pass
    raise ValidationError(_l("the cursor is not one this server issued"), field="cursor")


def _after(moment: Any, item_id: Any, kind: str, cursor: tuple[datetime, int, int] | None) -> ColumnElement[bool]:
    """Rows of one kind that come after the cursor in the timeline's order (time, kind, id)."""
    if cursor is None:
        return true()
    at, rank, last_id = cursor
    own_rank = TIMELINE_KINDS.index(kind)
    if own_rank > rank:
        return moment >= at
    if own_rank < rank:
        return moment > at
    return or_(moment > at, and_(moment == at, item_id > last_id))


def read_case_timeline(
    *, actor: Actor, case_ref: str, cursor: str | None = None, limit: int = 200
) -> tuple[Case, Timeline]:
    """Everything the portal holds about one case, oldest first: its audit events (imports, flags, placements,
    who viewed it, settlements recorded) interleaved with its contacts and settlements at the moment they
    happened."""
    case = db.session.execute(select(Case).where(Case.case_ref == case_ref.strip())).scalar_one_or_none()
    if case is None:
        raise NotFoundError(_l("no case %(case_ref)s", case_ref=case_ref))
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after = decode_timeline_cursor(cursor)
    events = db.session.execute(
        select(EVENT_COLUMNS)
        .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id))
        .where(_after(AuditEvent.occurred_at, AuditEvent.seq, "event", after))
        .order_by(AuditEvent.occurred_at, AuditEvent.seq)
        .limit(limit + 1)
    ).all()
    contacts = db.session.execute(
        select(Contact)
        .where(Contact.case_id == case.id, _after(Contact.contacted_at, Contact.id, "contact", after))
        .order_by(Contact.contacted_at, Contact.id)
        .limit(limit + 1)
    ).scalars()
    settlements = db.session.execute(
        select(Settlement)
        .where(Settlement.case_id == case.id, _after(Settlement.paid_at, Settlement.id, "settlement", after))
        .order_by(Settlement.paid_at, Settlement.id)
        .limit(limit + 1)
    ).scalars()
    entries = sorted(
        [TimelineEntry(at=r.occurred_at, kind="event", item=r) for r in events]
        + [TimelineEntry(at=c.contacted_at, kind="contact", item=c) for c in contacts]
        + [TimelineEntry(at=s.paid_at, kind="settlement", item=s) for s in settlements],
        key=lambda e: e.key,
    )
    next_cursor = encode_timeline_cursor(entries[limit - 1].key) if len(entries) > limit else None
    entries = entries[:limit]
    timeline = _described(entries, next_cursor)
    counts = {kind: sum(1 for e in entries if e.kind == kind) for kind in TIMELINE_KINDS}
    # Not object_type "case": reading the trail is not an event of the case, and must not fill its timeline.
    record_event(
        actor=actor,
        action=AuditTag.AUDIT_EVENTS_READ,
        details={
            "view": "case_timeline",
            "case_id": case.id,
            "case_ref": case.case_ref,
            "events": counts["event"],
            "contacts": counts["contact"],
            "settlements": counts["settlement"],
            "cursor": cursor,
        },
    )
    db.session.commit()
    return case, timeline


def _described(entries: list[TimelineEntry], next_cursor: str | None) -> Timeline:
    """The entries with the findings of their contacts and settlements, and the names of what they refer to."""
    contact_ids = [e.item.id for e in entries if e.kind == "contact"]
    settlement_ids = [e.item.id for e in entries if e.kind == "settlement"]
    rules: dict[tuple[str, int], list[str]] = {}
    if contact_ids or settlement_ids:
        found = db.session.execute(
            select(Finding.contact_id, Finding.settlement_id, Finding.rule)
            .where(or_(Finding.contact_id.in_(contact_ids), Finding.settlement_id.in_(settlement_ids)))
            .order_by(Finding.id)
        )
        for contact_id, settlement_id, rule in found:
            key = ("contact", contact_id) if contact_id is not None else ("settlement", settlement_id)
            rules.setdefault(key, []).append(rule)
    for entry in entries:
        if entry.kind != "event":
            entry.rules = rules.get((entry.kind, entry.item.id), [])
    rows = [e.item for e in entries if e.kind == "event"]
    records = [e.item for e in entries if e.kind != "event"]
    agency_ids = {r.agency_id for r in rows + records if r.agency_id is not None}
    user_ids = {r.actor_user_id for r in rows if r.actor_user_id is not None}
    pairs = named_objects(rows) | {("upload", str(r.upload_id)) for r in records}
    return Timeline(
        entries=entries,
        next_cursor=next_cursor,
        agencies=dict(db.session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(agency_ids))).all()),
        users=dict(db.session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all()),
        objects=object_names(pairs),
    )


def verify_audit_trail(*, actor: Actor, full: bool = False, witness: WitnessSettings | None = None) -> TrailReport:
    """Verify the whole trail against its stored and ``witness``'s checkpoints, and record that it was verified."""
    from portal.audit.checkpoints import signing_key
    from portal.audit.signing import key_id

    report = verify_trail(full=full, witness=witness, current_key_id=key_id(signing_key().public_key()))
    record_event(
        actor=actor,
        action=AuditTag.AUDIT_TRAIL_VERIFY,
        outcome="success" if report.ok else "failure",
        details={**report.as_dict(), "full": full, "checkpoints": report.checkpoints},
    )
    db.session.commit()
    return report
