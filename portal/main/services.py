"""Figures for the lender staff's dashboard."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from portal.agencies.models import Agency
from portal.audit.models import AuditEvent
from portal.audit.tags import AuditTag
from portal.audit.trail import object_names
from portal.cases.models import Case, Placement
from portal.compliance.models import Finding
from portal.db import utcnow
from portal.extensions import db

# Reading the trail or a case is audited; a reader's own reads would push everything else off the list.
READS = (AuditTag.AUDIT_EVENTS_READ, AuditTag.AUDIT_PROOF_READ, AuditTag.CASE_PII_VIEW)
# Findings still waiting for a decision (contract 4.3's statuses).
UNDECIDED = ("open", "acknowledged")


def recent_events(*, viewer_user_id: int | None, limit: int = 10) -> list[AuditEvent]:
    """The latest audit events, leaving out the viewer's own reads of the trail and of cases."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if viewer_user_id is not None:
        own_read = (AuditEvent.actor_user_id == viewer_user_id) & AuditEvent.action.in_([str(t) for t in READS])
        query = query.where(~own_read)
    return list(db.session.execute(query).scalars())


def findings_by_rule() -> list[dict[str, Any]]:
    """Per rule: findings still to decide and all findings, most undecided first."""
    undecided = func.sum(case((Finding.status.in_(UNDECIDED), 1), else_=0))
    rows = db.session.execute(
        select(Finding.rule, undecided, func.count()).group_by(Finding.rule).order_by(undecided.desc(), Finding.rule)
    ).all()
    return [{"rule": rule, "undecided": int(open_count or 0), "total": total} for rule, open_count, total in rows]


# The complaint rate's period: the last 30 of the lender's days, today included (docs/complaints.md).
COMPLAINT_RATE_DAYS = 30


def complaint_figures(*, today: date, zone: str, days: int = COMPLAINT_RATE_DAYS) -> dict[str, Any]:
    """Open and overdue complaints, and complaints per 1,000 placed cases per agency over ``days`` days."""
    from portal.complaints.services import complaint_counts, complaint_rates

    start = today - timedelta(days=days - 1)
    return {
        **complaint_counts(today=today),
        "period_start": start,
        "period_end": today,
        "rates": complaint_rates(start=start, end=today, zone=zone),
    }


def dashboard_figures(
    *,
    viewer_user_id: int | None = None,
    audit: bool = False,
    expiring_days: int = 14,
    today: date | None = None,
    zone: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """The dashboard's figures; ``audit`` adds the latest events and findings (compliance and admins)."""
    by_bucket = dict(
        db.session.execute(select(Case.bucket, func.count()).where(Case.status == "open").group_by(Case.bucket)).all()
    )
    buckets = [(b, by_bucket.get(b, 0)) for b in ("M0", "M1", "M2", "M3", "M4+") if b != "M0" or by_bucket.get("M0")]
    agencies = db.session.execute(
        select(
            Agency.code,
            Agency.name,
            Agency.capacity,
            func.count(Placement.id),
            func.coalesce(func.sum(Case.outstanding_balance), 0),
        )
        .outerjoin(Placement, (Placement.agency_id == Agency.id) & Placement.ended_at.is_(None))
        .outerjoin(Case, Case.id == Placement.case_id)
        .group_by(Agency.id, Agency.code, Agency.name, Agency.capacity)
        .order_by(Agency.code)
    ).all()
    open_cases = db.session.execute(select(func.count()).select_from(Case).where(Case.status == "open")).scalar_one()
    placed = sum(row[3] for row in agencies)
    expiring = db.session.execute(
        select(func.count())
        .select_from(Placement)
        .where(Placement.ended_at.is_(None), Placement.expires_at <= utcnow() + timedelta(days=expiring_days))
    ).scalar_one()
    total_balance = db.session.execute(
        select(func.coalesce(func.sum(Case.outstanding_balance), 0)).where(Case.status == "open")
    ).scalar_one()
    recent = recent_events(viewer_user_id=viewer_user_id) if audit else []
    peak = max([count for _, count in buckets] + [1])
    return {
        "open_cases": open_cases,
        "placed": placed,
        "unplaced": max(open_cases - placed, 0),
        "expiring": expiring,
        "total_balance": Decimal(total_balance),
        "buckets": [(b, count, round(100 * count / peak)) for b, count in buckets],
        "agencies": [
            {"code": code, "name": name, "capacity": capacity, "cases": cases, "balance": Decimal(balance)}
            for code, name, capacity, cases, balance in agencies
        ],
        "recent_events": recent,
        "recent_objects": object_names({(e.object_type, e.object_id) for e in recent if e.object_type}),
        "findings": findings_by_rule() if audit else [],
        "complaints": complaint_figures(today=today or utcnow().astimezone(ZoneInfo(zone)).date(), zone=zone),
    }
