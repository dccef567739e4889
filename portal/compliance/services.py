"""The compliance step of the upload pipeline: the hook where rules raise findings on stored contacts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from portal.compliance.models import Finding
from portal.db import utcnow


@dataclass(frozen=True, slots=True)
class StoredContactView:
    """What a rule sees of a contact just stored (the case's earlier contacts it loads itself)."""

    contact_id: int
    case_id: int
    row: int
    contacted_at: datetime
    channel: str
    party: str
    phone: str
    outcome: str
    connected: bool
    recording_ref: str | None
    notes: str | None


@dataclass(frozen=True, slots=True)
class NewFinding:
    """A finding to store; the pipeline inserts them in bulk."""

    rule: str
    severity: str
    agency_id: int
    case_id: int
    upload_id: int | None
    row: int | None
    occurred_at: datetime
    message: str
    contact_id: int | None = None
    settlement_id: int | None = None

    def as_row(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__} | {"status": "open"}


def evaluate_contacts(*, agency_id: int, upload_id: int, contacts: Iterable[StoredContactView]) -> list[NewFinding]:
    """Findings for contacts just stored (given in time order, built as they are read); contract 8's rules plug in here.

    The rules themselves arrive with the compliance issue; until then no contact raises one.
    On PostgreSQL this runs while the store's thread may be writing the next batch through the
    upload's transaction (see ContactStore): a rule that reads the database must have the
    processor drain the store first, since only that transaction sees the upload's earlier rows.
    """
    return []


def placement_inactive(
    *, agency_id: int, case_id: int, upload_id: int, row: int, occurred_at: datetime, what: str
) -> NewFinding:
    """Contract 5.3: work on a case outside the agency's placement is rejected and still reported."""
    return NewFinding(
        rule="placement_inactive",
        severity="high",
        agency_id=agency_id,
        case_id=case_id,
        upload_id=upload_id,
        row=row,
        occurred_at=occurred_at,
        message=f"{what} at {occurred_at.isoformat()} while the case was not placed with the agency",
    )


def store_findings(findings: list[NewFinding]) -> int:
    """Insert findings in bulk (Core, not the unit of work: a bad file may raise thousands)."""
    from portal.extensions import db

    if findings:
        now = utcnow()
        db.session.execute(Finding.__table__.insert(), [f.as_row() | {"created_at": now} for f in findings])
    return len(findings)
