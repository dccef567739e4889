"""Storing contact records: in bulk, skipping those already held (contract 4.4's duplicate rule)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import Any

from portal.contacts.models import Contact
from portal.extensions import db

# The order of the values in a row handed to ContactStore.submit.
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
CONTACT_IDENTITY = ("case_id", "contacted_at", "agency_id", "channel", "phone", "collector_id")
ROW_INDEX = CONTACT_COLUMNS.index("row")
ContactRow = tuple[Any, ...]
StoredBatch = tuple[list[ContactRow], list[tuple[int, int]]]

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
_NULL = "\\N"
# COPY's text format: these characters in a text value are written as escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class ContactStore:
    """Stores one upload's contacts batch by batch, skipping those already held (the duplicate key).

    ``submit`` takes a batch of rows (tuples in CONTACT_COLUMNS order) and returns the batches
    whose storing has finished since, each with the (id, row) pairs actually inserted. On
    PostgreSQL one background thread stores the batches, in order, through the transaction's own
    connection: PostgreSQL inserts one batch on its core while Python parses the next on another,
    instead of each waiting for the other. The caller must not use the database session while
    batches are in flight: ``drain`` waits for them (and returns them) first. Elsewhere (SQLite)
    ``submit`` stores the batch before it returns.
    """

    IN_FLIGHT = 2  # batches queued or being stored; bounds the memory an upload holds

    def __init__(self) -> None:
        self._pending: deque[tuple[list[ContactRow], Future[list[tuple[int, int]]]]] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._submitted = False
        if db.engine.dialect.name == "postgresql":
            self._connection = db.session.connection().connection.driver_connection
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="contacts-copy")

    def submit(self, rows: list[ContactRow]) -> list[StoredBatch]:
        if not rows:
            return []
        if self._executor is None:
            return [(rows, _insert_rows(rows))]
        # Formatted here, not on the thread: that one should only ever wait for PostgreSQL.
        text = _copy_text(rows)
        future = self._executor.submit(_copy_rows, self._connection, text, first=not self._submitted)
        self._submitted = True
        self._pending.append((rows, future))
        finished: list[StoredBatch] = []
        while self._pending and (len(self._pending) > self.IN_FLIGHT or self._pending[0][1].done()):
            batch, future = self._pending.popleft()
            finished.append((batch, future.result()))
        return finished

    def drain(self) -> list[StoredBatch]:
        """Wait until every batch is stored; the session may be used again afterwards."""
        finished = [(batch, future.result()) for batch, future in self._pending]
        self._pending.clear()
        return finished

    def close(self) -> None:
        """Stop the thread (after the batch it is storing, if any); unstored batches are dropped."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pending.clear()

    def __enter__(self) -> ContactStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _insert_rows(rows: Sequence[ContactRow]) -> list[tuple[int, int]]:
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    table = Contact.__table__
    statement = (
        sqlite_insert(table)
        .on_conflict_do_nothing(index_elements=list(CONTACT_IDENTITY))
        .returning(table.c.id, table.c.row)
    )
    values = [dict(zip(CONTACT_COLUMNS, row, strict=True)) for row in rows]
    return [(row.id, row.row) for row in db.session.connection().execute(statement, values)]


def _copy_rows(connection: Any, text: str, *, first: bool) -> list[tuple[int, int]]:
    """COPY into a temporary staging table, then one INSERT ... ON CONFLICT DO NOTHING from it.

    COPY is the fastest way into PostgreSQL; the staging step keeps the duplicate rule in the
    database (the unique key), so concurrent uploads cannot store a contact twice. Runs on the
    store's thread: plain psycopg, no session, no application context. ``text`` is the rows in
    COPY's text format (_copy_text); the ``first`` batch of a store makes the staging table.
    """
    with connection.cursor() as cursor:
        if first:
            cursor.execute(_STAGE_SQL)
        cursor.execute("TRUNCATE contacts_stage")
        with cursor.copy(_COPY_SQL) as copy:
            copy.write(text)
        cursor.execute(_MERGE_SQL)
        return cursor.fetchall()


def _copy_text(rows: Sequence[ContactRow]) -> str:
    """The rows in COPY's text format, written column by column (no per-value adaptation as write_row does)."""
    lines = []
    created_at_seen, created_text = None, ""
    for (
        upload_id,
        agency_id,
        case_id,
        row,
        contacted_at,
        channel,
        party,
        phone,
        outcome,
        connected,
        duration_s,
        promise_amount,
        promise_date,
        collector_id,
        recording_ref,
        notes,
        created_at,
    ) in rows:
        if created_at is not created_at_seen:  # one value for the whole upload
            created_at_seen, created_text = created_at, _moment(created_at)
        lines.append(
            # channel, party and outcome are vocabulary words and phone a validated number: no escapes.
            f"{upload_id}\t{agency_id}\t{case_id}\t{row}\t{_moment(contacted_at)}\t{channel}\t"
            f"{party}\t{phone}\t{outcome}\t{'t' if connected else 'f'}\t"
            f"{_NULL if duration_s is None else int(duration_s)}\t"
            f"{_NULL if promise_amount is None else promise_amount}\t"
            f"{_NULL if promise_date is None else promise_date.isoformat()}\t"
            f"{_text(collector_id)}\t{_optional_text(recording_ref)}\t{_optional_text(notes)}\t"
            f"{created_text}\n"
        )
    return "".join(lines)


def _moment(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"contact time {value!r} has no timezone")
    return value.isoformat()


def _text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _optional_text(value: str | None) -> str:
    return _NULL if value is None else value.translate(_COPY_ESCAPES)
