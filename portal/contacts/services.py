"""Storing contact records: in bulk, skipping those already held (contract 4.4's duplicate rule)."""

from __future__ import annotations

from typing import Any

from portal.contacts.models import Contact
from portal.extensions import db

CONTACT_COLUMNS = (
    "upload_id",
    "agency_id",
    "case_id",
    "row",
    "contacted_at",
    "channel",
    "party",
    "phone",
    "outcome",
    "connected",
    "duration_s",
    "promise_amount",
    "promise_date",
    "collector_id",
    "recording_ref",
    "notes",
    "created_at",
)
CONTACT_IDENTITY = ("agency_id", "case_id", "contacted_at", "channel", "phone", "collector_id")
# Built from the constant column lists above, never from input.
_COLUMNS_SQL = ", ".join(CONTACT_COLUMNS)
_STAGE_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS contacts_stage ON COMMIT DROP AS SELECT {_COLUMNS_SQL} FROM contacts WITH NO DATA"  # noqa: S608
)
_COPY_SQL = f"COPY contacts_stage ({_COLUMNS_SQL}) FROM STDIN"
_MERGE_SQL = (
    f"INSERT INTO contacts ({_COLUMNS_SQL}) SELECT {_COLUMNS_SQL} FROM contacts_stage "  # noqa: S608
    f"ON CONFLICT ({', '.join(CONTACT_IDENTITY)}) DO NOTHING RETURNING id, row"
)


def insert_contacts(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Insert contacts, skipping those already held (the duplicate key); returns (id, row) stored."""
    if not rows:
        return []
    if db.engine.dialect.name == "postgresql":
        return _copy_contacts(rows)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    table = Contact.__table__
    statement = (
        sqlite_insert(table)
        .on_conflict_do_nothing(index_elements=list(CONTACT_IDENTITY))
        .returning(table.c.id, table.c.row)
    )
    return [(row.id, row.row) for row in db.session.connection().execute(statement, rows)]


def _copy_contacts(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """COPY into a temporary staging table, then one INSERT ... ON CONFLICT DO NOTHING from it.

    COPY is the fastest way into PostgreSQL; the staging step keeps the duplicate rule in
    the database (the unique key), so concurrent uploads cannot store a contact twice.
    """
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_SQL)
        cursor.execute("TRUNCATE contacts_stage")
        with cursor.copy(_COPY_SQL) as copy:
            for row in rows:
                copy.write_row([row[column] for column in CONTACT_COLUMNS])
        cursor.execute(_MERGE_SQL)
        return [(contact_id, row) for contact_id, row in cursor.fetchall()]
