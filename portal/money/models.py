"""Settlements reported by agencies: one per accepted row of a settlements upload."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import utcnow
from portal.extensions import db


class Settlement(db.Model):
    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    row: Mapped[int]
    paid_at: Mapped[datetime]
    amount: Mapped[Decimal]
    method: Mapped[str] = mapped_column(String(20))
    payment_ref: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    waiver_amount: Mapped[Decimal | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # Contract 5.2: payment_ref is unique per agency across all uploads.
        UniqueConstraint("agency_id", "payment_ref", name="uq_settlements_agency_payment_ref"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_settlements_case_id", "case_id"),
        Index("ix_settlements_upload_id", "upload_id"),
    )
