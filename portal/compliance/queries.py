"""Reading findings as each role may: agency users only their own agency's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.cases.models import Case
from portal.compliance.models import FINDING_STATUSES, Finding
from portal.errors import ValidationError, _l
from portal.extensions import db
from portal.security import Actor
from portal.uploads.models import Upload

MAX_PAGE = 500


def list_findings(
    *,
    actor: Actor,
    upload_id: str | None = None,
    case_ref: str | None = None,
    rule: str | None = None,
    status: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of findings (oldest first) and the id to continue after, or None at the end.

    ``upload_id`` is the upload's public id, as every finding shows it.
    """
    if status and status not in FINDING_STATUSES:
        raise ValidationError(
            _l("status must be one of %(statuses)s", statuses=", ".join(FINDING_STATUSES)), field="status"
        )
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(Finding, Case.case_ref, Upload.public_id)
        .join(Case, Case.id == Finding.case_id)
        .outerjoin(Upload, Upload.id == Finding.upload_id)
        .order_by(Finding.id)
    )
    if actor.is_agency:
        query = query.where(Finding.agency_id == actor.agency_id)
    if upload_id is not None:
        query = query.where(Upload.public_id == upload_id)
    if case_ref:
        query = query.where(Case.case_ref == case_ref)
    if rule:
        query = query.where(Finding.rule == rule)
    if status:
        query = query.where(Finding.status == status)
    if after_id:
        query = query.where(Finding.id > after_id)
    rows = db.session.execute(query.limit(limit + 1)).all()
    items = [
        {
            "id": finding.public_id,
            "rule": finding.rule,
            "severity": finding.severity,
            "case_ref": ref,
            "upload_id": upload_public_id,
            "row": finding.row,
            "occurred_at": finding.occurred_at.isoformat(),
            "message": finding.message,
            "status": finding.status,
        }
        for finding, ref, upload_public_id in rows[:limit]
    ]
    return items, (rows[limit - 1][0].id if len(rows) > limit else None)
