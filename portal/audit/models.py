"""The append-only audit event table: one row per event, a leaf of the audit Merkle tree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    # Assigned gap-free under a lock by record_event, never by the database's sequence.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime]
    actor_user_id: Mapped[int | None]
    actor_role: Mapped[str | None] = mapped_column(String(20))
    agency_id: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(10))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10), default="success")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    leaf_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_action_occurred_at", "action", "occurred_at"),
        Index("ix_audit_events_agency_id_occurred_at", "agency_id", "occurred_at"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    def as_leaf_object(self) -> dict[str, Any]:
        """The object whose canonical (JCS) bytes make this event's Merkle leaf."""
        return {
            "seq": self.seq,
            "occurred_at": self.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_user_id": self.actor_user_id,
            "actor_role": self.actor_role,
            "agency_id": self.agency_id,
            "source": self.source,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "outcome": self.outcome,
            "details": self.details,
        }
