"""Stored contact records, one per accepted row of a contacts upload."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import DDL, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import utcnow
from portal.extensions import db


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # References without per-row foreign keys: see REFERENCES_CHECK_FUNCTION below.
    upload_id: Mapped[int]
    agency_id: Mapped[int]
    case_id: Mapped[int]
    row: Mapped[int]
    contacted_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(10))
    party: Mapped[str] = mapped_column(String(20))
    # Empty, not NULL, when the channel has no number: the duplicate key must compare it.
    phone: Mapped[str] = mapped_column(String(20), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    connected: Mapped[bool]
    duration_s: Mapped[int | None]
    promise_amount: Mapped[Decimal | None]
    promise_date: Mapped[date | None]
    collector_id: Mapped[str] = mapped_column(String(60))
    recording_ref: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # Contract 4.4: a contact already held for the same agency, case, time, channel,
        # number and collector is a duplicate (cumulative daily exports resend rows).
        # Led by (case_id, contacted_at), the same index serves "a case's contacts in time
        # order", so storing a contact maintains two indexes (this and the primary key), not four.
        UniqueConstraint(
            "case_id", "contacted_at", "agency_id", "channel", "phone", "collector_id", name="uq_contacts_identity"
        ),
    )


# Contacts arrive by the hundred thousand. Per-row foreign keys cost PostgreSQL three trigger
# queries a row (measured: more than the insert itself), so on PostgreSQL the references are
# checked once per statement against the inserted rows, and the referenced rows (cases,
# agencies, uploads: evidence the audit trail names) cannot be deleted, truncated or renumbered,
# which is what keeps a checked reference valid. The migration c4d2a9e1b7f3 installs the same
# DDL; create_all (the tests) installs it here. SQLite, the embedded default, enforces neither.
REFERENCES_CHECK_FUNCTION = """
CREATE OR REPLACE FUNCTION contacts_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing bigint;
BEGIN
  SELECT n.id INTO missing FROM (SELECT DISTINCT case_id AS id FROM new_contacts) n
    WHERE NOT EXISTS (SELECT FROM cases c WHERE c.id = n.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('contacts refer to case %s, which does not exist', missing);
  END IF;
  SELECT n.id INTO missing FROM (SELECT DISTINCT agency_id AS id FROM new_contacts) n
    WHERE NOT EXISTS (SELECT FROM agencies a WHERE a.id = n.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('contacts refer to agency %s, which does not exist', missing);
  END IF;
  SELECT n.id INTO missing FROM (SELECT DISTINCT upload_id AS id FROM new_contacts) n
    WHERE NOT EXISTS (SELECT FROM uploads u WHERE u.id = n.id) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('contacts refer to upload %s, which does not exist', missing);
  END IF;
  RETURN NULL;
END
$$
"""
REFERENCES_CHECK_TRIGGERS = tuple(
    f"CREATE TRIGGER contacts_references_{operation.lower()} AFTER {operation} ON contacts "
    "REFERENCING NEW TABLE AS new_contacts FOR EACH STATEMENT EXECUTE FUNCTION contacts_check_references()"
    for operation in ("INSERT", "UPDATE")
)
KEEP_REFERENCED_FUNCTION = """
CREATE OR REPLACE FUNCTION contacts_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
    MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: stored contacts refer to its rows, '
              || 'which are kept (end or deactivate them instead)';
END
$$
"""
REFERENCED_TABLES = ("cases", "agencies", "uploads")


def keep_referenced_trigger_sql(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_keep_referenced BEFORE DELETE OR TRUNCATE OR UPDATE OF id ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION contacts_keep_referenced()"
    )


def _install_reference_checks(target: object, connection: object, **_: object) -> None:
    for statement in (
        REFERENCES_CHECK_FUNCTION,
        *REFERENCES_CHECK_TRIGGERS,
        KEEP_REFERENCED_FUNCTION,
        *(keep_referenced_trigger_sql(table) for table in REFERENCED_TABLES),
    ):
        # DDL %-formats its text (for %(table)s and the like): format()'s %s must be doubled.
        DDL(statement.replace("%", "%%")).execute_if(dialect="postgresql")(target, connection)


# After the whole schema: the triggers name tables that, without foreign keys, may be created later.
event.listen(db.metadata, "after_create", _install_reference_checks)
