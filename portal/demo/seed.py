"""``flask demo seed``: two agencies, one user per role, 300 cases and their placements, through the services."""

from __future__ import annotations

import io
from datetime import timedelta
from importlib import resources
from typing import Any

from flask import current_app
from sqlalchemy import select

from portal.accounts.models import User
from portal.accounts.services import create_user
from portal.agencies.models import Agency
from portal.agencies.services import create_agency
from portal.cases.importing import import_cases
from portal.cases.placing import place_cases
from portal.db import utcnow
from portal.extensions import db
from portal.security import Actor

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 (printed for the demo on purpose)
DEMO_AGENCIES = (
    {"code": "ZC", "name": "中诚信合催收服务有限公司", "capacity": 200, "channels": "call,sms,visit,letter,im"},
    {"code": "HX", "name": "华夏信达资产管理有限公司", "capacity": 200, "channels": "call,sms,letter"},
)
DEMO_USERS = (
    ("agent@zc.example.com", "agency_agent", "ZC"),
    ("manager@zc.example.com", "agency_admin", "ZC"),
    ("agent@hx.example.com", "agency_agent", "HX"),
    ("ops@lender.example.com", "lender_ops", None),
    ("compliance@lender.example.com", "compliance", None),
    ("admin@lender.example.com", "admin", None),
)
# The first 40 cases are the shared sample cases, placed as the sample placements file places them.
SAMPLE_CASES = 40
UNPLACED_AT_END = 30


def _placements_csv(case_refs: list[str]) -> bytes:
    now = utcnow()
    lines = ["case_ref,agency,placed_at,expires_at"]
    for index, ref in enumerate(case_refs):
        agency = "ZC" if index % 2 == 0 else "HX"
        if index < SAMPLE_CASES:
            lines.append(f"{ref},{agency},2026-11-01T00:00:00+08:00,2027-01-31T00:00:00+08:00")
        else:
            # Spread placement dates so some placements are about to expire.
            placed = now - timedelta(days=(index * 7) % 85)
            lines.append(f"{ref},{agency},{placed.isoformat()},")
    return ("\n".join(lines) + "\n").encode()


def seed_demo() -> dict[str, Any]:
    """Create the demo data unless it is there already (then change nothing)."""
    users = [{"email": e, "role": r, "agency": a} for e, r, a in DEMO_USERS]
    if db.session.execute(select(Agency).where(Agency.code == "ZC")).scalar_one_or_none() is not None:
        return {"created": False, "users": users, "password": DEMO_PASSWORD}
    system = Actor.system(source="demo")
    for agency in DEMO_AGENCIES:
        create_agency(actor=system, commission="M1:0.08,M2:0.12,M3:0.18,M4+:0.25", **agency)
    for email, role, agency_code in DEMO_USERS:
        if db.session.execute(select(User).where(User.email == email)).scalar_one_or_none() is None:
            create_user(
                actor=system, email=email, role=role, password=DEMO_PASSWORD, agency_code=agency_code, locale=None
            )
    data = resources.files("portal.data").joinpath("demo_cases.csv").read_bytes()
    imported = import_cases(actor=system, stream=io.BytesIO(data), filename="demo_cases.csv")
    refs = [line.split(",", 1)[0] for line in data.decode("utf-8").splitlines()[1:] if line]
    placeable = [
        ref
        for ref, line in zip(refs, data.decode("utf-8").splitlines()[1:], strict=True)
        if not line.endswith(("deceased", "bankruptcy"))
    ]
    placed = place_cases(
        actor=system,
        stream=io.BytesIO(_placements_csv(placeable[:-UNPLACED_AT_END])),
        lender_timezone=current_app.config["PORTAL_TIMEZONE"],
    )
    return {
        "created": True,
        "users": users,
        "password": DEMO_PASSWORD,
        "cases": imported.as_dict() | {"errors": len(imported.errors)},
        "placements": placed.as_dict() | {"errors": len(placed.errors)},
    }
