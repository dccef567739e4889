"""Placing cases with agencies by hand (``flask cases place``) and ending placements."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from portal.agencies.models import Agency
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.importing import RowError
from portal.cases.models import Case, Placement
from portal.csvfiles import iter_csv_rows
from portal.db import utcnow
from portal.errors import FileFormatError, PermissionDeniedError, _l
from portal.extensions import db
from portal.security import Actor, Role


@dataclass
class PlaceResult:
    placed: int = 0
    unchanged: int = 0
    rejected: int = 0
    by_agency: Counter[str] = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "placed": self.placed,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "by_agency": dict(sorted(self.by_agency.items())),
            "errors": [e.as_dict() for e in self.errors],
        }


def parse_time(text: str, default_tz: str) -> datetime:
    """ISO 8601; a time without an offset is in ``default_tz`` (the lender's timezone)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    return value


def place_cases(*, actor: Actor, stream: BinaryIO, lender_timezone: str) -> PlaceResult:
    """Place the cases of a ``case_ref,agency,placed_at,expires_at`` file, in one transaction.

    A case already open with the same agency is left as it is; one open with another agency
    is rejected (recall it first). An unknown agency code rejects the whole file.
    """
    if not (actor.is_system or actor.role in (Role.LENDER_OPS, Role.ADMIN)):
        raise PermissionDeniedError(_l("only lender operations place cases"))
    rows = list(iter_csv_rows(stream, required=("case_ref", "agency"), optional=("placed_at", "expires_at")))
    agencies = {a.code: a for a in db.session.execute(select(Agency)).scalars()}
    for _number, line, row in rows:
        if row["agency"].upper() not in agencies:
            raise FileFormatError(_l("line %(line)s: unknown agency '%(code)s'", line=line, code=row["agency"]))
    open_counts = dict(
        db.session.execute(
            select(Placement.agency_id, func.count()).where(Placement.ended_at.is_(None)).group_by(Placement.agency_id)
        ).all()
    )
    cases = {
        c.case_ref: c
        for c in db.session.execute(
            select(Case).where(Case.case_ref.in_([r["case_ref"] for _, _, r in rows]))
        ).scalars()
    }
    open_placements = {
        p.case_id: p
        for p in db.session.execute(
            select(Placement).where(Placement.case_id.in_([c.id for c in cases.values()]), Placement.ended_at.is_(None))
        ).scalars()
    }
    result = PlaceResult()
    now = utcnow()
    for number, line, row in rows:
        agency = agencies[row["agency"].upper()]
        case = cases.get(row["case_ref"])
        error = _check_row(number, line, row, case, agency, open_placements, open_counts)
        if error:
            result.errors.append(error)
            continue
        assert case is not None
        current = open_placements.get(case.id)
        if current is not None:
            result.unchanged += 1
            continue
        try:
            placed_at = parse_time(row["placed_at"], lender_timezone) if row.get("placed_at") else now
        except ValueError:
            result.errors.append(
                RowError(
                    number,
                    "placed_at",
                    "invalid_date",
                    _l("placed_at '%(value)s' is not an ISO 8601 time", value=row["placed_at"]),
                    line,
                )
            )
            continue
        try:
            expires_at = (
                parse_time(row["expires_at"], lender_timezone)
                if row.get("expires_at")
                else placed_at + timedelta(days=agency.placement_term_days)
            )
        except ValueError:
            result.errors.append(
                RowError(
                    number,
                    "expires_at",
                    "invalid_date",
                    _l("expires_at '%(value)s' is not an ISO 8601 time", value=row["expires_at"]),
                    line,
                )
            )
            continue
        if expires_at <= placed_at:
            result.errors.append(
                RowError(number, "expires_at", "invalid_date", _l("expires_at must be after placed_at"), line)
            )
            continue
        if expires_at <= now:
            result.errors.append(
                RowError(number, "expires_at", "invalid_date", _l("expires_at is already in the past"), line)
            )
            continue
        placement = Placement(
            case_id=case.id,
            agency_id=agency.id,
            placed_at=placed_at,
            expires_at=expires_at,
            placed_by_user_id=actor.user_id,
        )
        db.session.add(placement)
        db.session.flush()
        open_placements[case.id] = placement
        open_counts[agency.id] = open_counts.get(agency.id, 0) + 1
        record_event(
            actor=actor,
            action=AuditTag.PLACEMENT_CREATE,
            object_type="case",
            object_id=case.id,
            agency_id=agency.id,
            details={
                "case_ref": case.case_ref,
                "agency": agency.code,
                "placement_id": placement.id,
                "placed_at": placed_at,
                "expires_at": expires_at,
            },
        )
        result.placed += 1
        result.by_agency[agency.code] += 1
    result.rejected = len(result.errors)
    record_event(
        actor=actor,
        action=AuditTag.PLACEMENT_BATCH,
        object_type="placement_file",
        details={
            "placed": result.placed,
            "unchanged": result.unchanged,
            "rejected": result.rejected,
            "by_agency": dict(result.by_agency),
        },
    )
    db.session.commit()
    return result


def _check_row(
    number: int,
    line: int,
    row: dict[str, str],
    case: Case | None,
    agency: Agency,
    open_placements: dict[int, Placement],
    open_counts: dict[int, int],
) -> RowError | None:
    if case is None:
        return RowError(
            number, "case_ref", "unknown_case", _l("no case '%(case_ref)s'", case_ref=row["case_ref"]), line
        )
    current = open_placements.get(case.id)
    if current is not None:
        if current.agency_id == agency.id:
            return None
        return RowError(
            number,
            "agency",
            "invalid_value",
            _l("case %(case_ref)s is placed with another agency; recall it first", case_ref=case.case_ref),
            line,
        )
    if case.status != "open":
        return RowError(
            number, "case_ref", "invalid_value", _l("case %(case_ref)s is not open", case_ref=case.case_ref), line
        )
    if agency.status != "active":
        return RowError(number, "agency", "invalid_value", _l("agency %(code)s is not active", code=agency.code), line)
    if agency.capacity is not None and open_counts.get(agency.id, 0) >= agency.capacity:
        return RowError(
            number,
            "agency",
            "invalid_value",
            _l(
                "agency %(code)s is at its capacity of %(capacity)s cases",
                code=agency.code,
                capacity=agency.capacity,
            ),
            line,
        )
    return None


def end_placement(*, actor: Actor, placement: Placement, reason: str) -> None:
    """End an open placement (recall, expiry, settlement); the caller commits."""
    placement.ended_at = utcnow()
    placement.end_reason = reason
    record_event(
        actor=actor,
        action=AuditTag.PLACEMENT_END,
        object_type="case",
        object_id=placement.case_id,
        agency_id=placement.agency_id,
        details={"placement_id": placement.id, "reason": reason},
    )
