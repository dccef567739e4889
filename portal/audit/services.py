"""Writing audit events: in the caller's transaction, with a gap-free ``seq`` and a Merkle leaf hash."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import rfc8785
from flask import current_app, has_app_context
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from portal.audit.models import AuditEvent
from portal.audit.tags import AuditTag
from portal.db import utcnow
from portal.extensions import db
from portal.security import Actor

# Any constant works; it only has to be the same in every process that appends events.
_AUDIT_LOCK_KEY = 726_001
_NEXT_SEQ = "audit_next_seq"
# (first seq, last seq) appended in the session's open transaction.
_APPENDED = "audit_appended"


def _next_seq(session: Session) -> int:
    """Take the next ``seq``; the first call in a transaction takes the append lock.

    On PostgreSQL a transaction-scoped advisory lock serialises appenders across processes,
    so two writers can never read the same max(seq). SQLite serialises writers itself.
    """
    cached = session.info.get(_NEXT_SEQ)
    if cached is None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
        cached = (session.execute(select(func.max(AuditEvent.seq))).scalar() or 0) + 1
    session.info[_NEXT_SEQ] = cached + 1
    return cached


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_next_seq(session: Session, *args: Any) -> None:
    session.info.pop(_NEXT_SEQ, None)
    session.info.pop(_APPENDED, None)


@event.listens_for(Session, "after_commit")
def _checkpoint_when_due(session: Session) -> None:
    """Sign a checkpoint once the committed events cross a multiple of PORTAL_AUDIT_CHECKPOINT_EVERY, or when
    the newest checkpoint is older than PORTAL_AUDIT_CHECKPOINT_INTERVAL (else arm the tail timer).

    It runs after the caller's commit, in a session of its own, and never raises: a failed
    checkpoint is logged and the next one covers the same events.
    """
    session.info.pop(_NEXT_SEQ, None)
    appended = session.info.pop(_APPENDED, None)
    if appended is None or not has_app_context():
        return
    from portal.audit.tail import after_events_committed

    after_events_committed(current_app._get_current_object(), *appended)


def _jsonable(value: Any) -> Any:
    """Events hold no floats (JCS would make them ambiguous): money and times become strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, float):
        raise TypeError("audit event details must not hold floats; pass a Decimal or a string")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def leaf_hash_of(leaf_object: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x00" + rfc8785.dumps(leaf_object)).hexdigest()


def seal(audit_event: AuditEvent) -> None:
    """Fill ``canonical`` (the JCS bytes of the leaf object) and ``leaf_hash`` from the other columns."""
    canonical = rfc8785.dumps(audit_event.as_leaf_object())
    audit_event.canonical = canonical.decode("utf-8")
    audit_event.leaf_hash = hashlib.sha256(b"\x00" + canonical).hexdigest()


def record_event(
    *,
    actor: Actor,
    action: AuditTag,
    object_type: str | None = None,
    object_id: str | int | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    agency_id: int | None = None,
) -> AuditEvent:
    """Append one audit event to the current transaction; the caller commits it with its change.

    Never put a clear ID number, phone number, password or token in ``details``:
    name objects by id and keep hashes where values must be compared later.
    """
    session = db.session()
    audit_event = AuditEvent(
        seq=_next_seq(session),
        occurred_at=utcnow(),
        actor_user_id=actor.user_id,
        actor_role=str(actor.role) if actor.role else None,
        agency_id=agency_id if agency_id is not None else actor.agency_id,
        source=actor.source,
        ip=actor.ip,
        user_agent=(actor.user_agent or None) and actor.user_agent[:300],
        action=str(action),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        outcome=outcome,
        details=_jsonable(details or {}),
    )
    seal(audit_event)
    session.add(audit_event)
    first, _last = session.info.get(_APPENDED, (audit_event.seq, audit_event.seq))
    session.info[_APPENDED] = (first, audit_event.seq)
    return audit_event
