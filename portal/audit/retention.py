"""The retention report: per record type, how many records have outlived their retention period.

The report deletes nothing: what to do with a due record (delete, anonymise, keep under a legal
hold) is the lender's decision. Audit events are never deleted: the Merkle tree and every
signed checkpoint depend on all of them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from portal.db import utcnow
from portal.extensions import db


@dataclass(frozen=True)
class RecordType:
    name: str
    table: str
    date_column: str
    description: str
    # Extra condition: (column, "not_null") or (column, "not_in", values).
    condition: tuple[Any, ...] | None = None


# Each record type, the table it lives in and the date its retention runs from.
RECORD_TYPES = (
    RecordType("contacts", "contacts", "contacted_at", "contact records, from the contact"),
    RecordType(
        "recordings",
        "contacts",
        "contacted_at",
        "references to call recordings, from the contact",
        ("recording_ref", "not_null"),
    ),
    RecordType("settlements", "settlements", "paid_at", "settlements, from the payment"),
    RecordType("findings", "findings", "occurred_at", "compliance findings, from the contact or payment"),
    RecordType("uploads", "uploads", "created_at", "uploaded files and their row errors, from the upload"),
    RecordType(
        "closed_cases",
        "cases",
        "updated_at",
        "settled or closed cases with their debtor's personal data, from the last change",
        ("status", "not_in", ("open",)),
    ),
    RecordType("audit_events", "audit_events", "occurred_at", "audit events: never deleted"),
)


def cutoff_for(period: str, now: datetime) -> datetime | None:
    """The moment before which records have outlived ``period`` (``5y``, ``18m``, ``90d``); None for forever."""
    if period == "forever":
        return None
    amount, unit = int(period[:-1]), period[-1]
    if unit == "d":
        return now - timedelta(days=amount)
    months = now.year * 12 + now.month - 1 - (amount * 12 if unit == "y" else amount)
    year, month = divmod(months, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


def _row(spec: RecordType, period: str, now: datetime) -> dict[str, Any]:
    cutoff = cutoff_for(period, now)
    entry: dict[str, Any] = {
        "record_type": spec.name,
        "description": spec.description,
        "table": spec.table,
        "retention": period,
        "cutoff": cutoff.isoformat() if cutoff else None,
        "stored": None,
        "due": None,
        "oldest": None,
    }
    known = db.metadata.tables.get(spec.table)
    if known is None or spec.date_column not in known.c:
        entry["note"] = "not stored by this portal"
        return entry
    when = known.c[spec.date_column]
    query = select(func.count(), func.min(when)).select_from(known)
    due_query = select(func.count()).select_from(known)
    if spec.condition is not None:
        name, kind, *values = spec.condition
        condition = known.c[name].is_not(None) if kind == "not_null" else known.c[name].not_in(values[0])
        query, due_query = query.where(condition), due_query.where(condition)
    stored, oldest = db.session.execute(query).one()
    due = 0 if cutoff is None else db.session.execute(due_query.where(when < cutoff)).scalar_one()
    entry.update(stored=stored, due=due, oldest=oldest.isoformat() if oldest else None)
    return entry


def retention_report(periods: dict[str, str], now: datetime | None = None) -> dict[str, Any]:
    """``{"as_of", "items": [{"record_type", "description", "table", "retention", "cutoff", "stored",
    "due", "oldest"}]}``: ``due`` counts records older than their cutoff (never any audit event)."""
    now = now or utcnow()
    items = [_row(spec, periods.get(spec.name, "forever"), now) for spec in RECORD_TYPES]
    return {"as_of": now.isoformat(), "items": items, "due_total": sum(i["due"] or 0 for i in items)}
