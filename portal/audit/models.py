"""The append-only audit tables: one row per event (a leaf of the audit Merkle tree) and signed checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy import DDL, JSON, BigInteger, Index, String, Text, TypeDecorator, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

# The leaf object's time format (contract section 9: times are strings, no floats).
OCCURRED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# What signing.sign_checkpoint writes for a timestamp in whole seconds.
CHECKPOINT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class CanonicalJSON(TypeDecorator[Any]):
    """A JSON column written as its RFC 8785 text.

    An event's stored ``details`` are then, byte for byte, the ``details`` inside its canonical
    bytes, so the database can rebuild the canonical text from the columns with string
    concatenation and compare it with one text equality (see integrity.py), instead of parsing
    JSON for every event. Reading is plain JSON.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect):
        def process(value: Any) -> Any:
            if value is None:
                return None
            text = rfc8785.dumps(value).decode("utf-8")
            if dialect.name == "postgresql":
                # The psycopg dialect hands JSON to the driver wrapped, with its own dumps.
                from psycopg.types.json import Json

                return Json(value, dumps=lambda _value: text)
            return text

        return process


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
    details: Mapped[dict[str, Any]] = mapped_column(CanonicalJSON, default=dict)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    # The exact RFC 8785 bytes (UTF-8) that leaf_hash was computed from. Verification hashes these
    # and checks them against the columns, instead of re-serialising every event (docs/audit.md).
    canonical: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_action_occurred_at", "action", "occurred_at"),
        Index("ix_audit_events_agency_id_occurred_at", "agency_id", "occurred_at"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    def as_leaf_object(self) -> dict[str, Any]:
        """The object whose canonical (JCS) bytes make this event's Merkle leaf."""
        return leaf_object(self)


def leaf_object(row: Any) -> dict[str, Any]:
    """The leaf object of an event, or of any row with audit_events' columns (a Core row, say)."""
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at.strftime(OCCURRED_AT_FORMAT),
        "actor_user_id": row.actor_user_id,
        "actor_role": row.actor_role,
        "agency_id": row.agency_id,
        "source": row.source,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "outcome": row.outcome,
        "details": row.details,
    }


class AuditCheckpoint(db.Model):
    """A signed tree head (contract section 9's checkpoint.json): the tree of seqs 1..tree_size had this root."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    # The checkpoint's signed timestamp, in whole seconds so that it round-trips exactly.
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(44))
    signature: Mapped[str] = mapped_column(String(88))
    # One hex hash per set bit of tree_size (largest subtree first): the next checkpoint extends
    # this instead of re-reading every leaf.
    compact_range: Mapped[str] = mapped_column(Text)

    def as_checkpoint(self) -> dict[str, Any]:
        """The contract's checkpoint object, exactly as it was signed."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.signed_at.astimezone(UTC).strftime(CHECKPOINT_TIME_FORMAT),
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
        }

    @property
    def compact_hashes(self) -> list[bytes]:
        return [bytes.fromhex(h) for h in self.compact_range.split()]


# PostgreSQL refuses to change or remove audit rows: corrections are new events that reference the
# old one. Statement-level triggers also catch TRUNCATE and cost nothing per row. The migration
# a1c0de0a0d17 installs the same function and triggers; create_all (the tests) installs them here.
REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING
    MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: the audit trail is append-only; '
              || 'record a correcting event instead',
    ERRCODE = 'restrict_violation';
END
$$
"""
APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints")


def append_only_trigger_sql(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
    )


for _model in (AuditEvent, AuditCheckpoint):
    _table = _model.__table__
    event.listen(_table, "after_create", DDL(REFUSE_CHANGE_FUNCTION).execute_if(dialect="postgresql"))
    event.listen(_table, "after_create", DDL(append_only_trigger_sql(_table.name)).execute_if(dialect="postgresql"))
