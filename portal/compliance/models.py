"""Findings: a rule that a contact or settlement broke, kept for the compliance officer's review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import new_public_id, utcnow
from portal.extensions import db

FINDING_STATUSES = ("open", "confirmed", "dismissed")
FINDING_ID_PREFIX = "fi"


def new_finding_public_id() -> str:
    return new_public_id(FINDING_ID_PREFIX)


class Finding(db.Model):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the API shows as the finding's id: the integer key counts every agency's findings.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_finding_public_id)
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    row: Mapped[int | None]
    # Set when the finding is on a stored record; a rejected row (placement_inactive) has none.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"))
    occurred_at: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_findings_upload_id", "upload_id"),
        Index("ix_findings_case_id", "case_id"),
        Index("ix_findings_agency_id_status", "agency_id", "status"),
    )
