"""Figures for the lender staff's dashboard."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from portal.agencies.models import Agency
from portal.audit.models import AuditEvent
from portal.cases.models import Case, Placement
from portal.db import utcnow
from portal.extensions import db


def dashboard_figures(expiring_days: int = 14) -> dict[str, Any]:
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
    recent = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(10)).scalars().all()
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
    }
