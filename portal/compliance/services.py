"""The compliance step of the upload pipeline: the hook where rules raise findings on stored contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.compliance.models import Finding


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


def evaluate_contacts(*, agency_id: int, upload_id: int, contacts: list[StoredContactView]) -> list[Finding]:
    """Findings for contacts just stored, in time order; the rules of contract 8 plug in here.

    The rules themselves arrive with the compliance issue; until then no contact raises one.
    """
    return []


def placement_inactive(
    *, agency_id: int, case_id: int, upload_id: int, row: int, occurred_at: datetime, what: str
) -> Finding:
    """Contract 5.3: work on a case outside the agency's placement is rejected and still reported."""
    return Finding(
        rule="placement_inactive",
        severity="high",
        agency_id=agency_id,
        case_id=case_id,
        upload_id=upload_id,
        row=row,
        occurred_at=occurred_at,
        message=f"{what} at {occurred_at.isoformat()} while the case was not placed with the agency",
    )
