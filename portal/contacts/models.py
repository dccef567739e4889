"""Stored contact records, one per accepted row of a contacts upload."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import utcnow
from portal.extensions import db


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    row: Mapped[int]
    contacted_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(10))
    party: Mapped[str] = mapped_column(String(20))
    # Empty, not NULL, when the channel has no number: the duplicate key must compare it.
    phone: Mapped[str] = mapped_column(String(20), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    connected: Mapped[bool]
    duration_s: Mapped[int | None]
    promise_amount: Mapped[Decimal | None]
    promise_date: Mapped[date | None]
    collector_id: Mapped[str] = mapped_column(String(60))
    recording_ref: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # Contract 4.4: a contact already held for the same agency, case, time, channel,
        # number and collector is a duplicate (cumulative daily exports resend rows).
        UniqueConstraint(
            "agency_id", "case_id", "contacted_at", "channel", "phone", "collector_id", name="uq_contacts_identity"
        ),
        Index("ix_contacts_case_id_contacted_at", "case_id", "contacted_at"),
        Index("ix_contacts_upload_id_row", "upload_id", "row"),
    )
