"""The lender's calendar of restricted periods, as kept on the page: never deleted, ended or cancelled."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import utcnow
from portal.extensions import db

PERIOD_STATUSES = ("active", "ended", "cancelled")


class CalendarPeriod(db.Model):
    """Inclusive local dates ``start_on``..``end_on``; ``regions`` empty: nationwide.

    Ending a period early moves ``end_on`` (``planned_end_on`` keeps what was first decided);
    cancelling one that never started keeps the row with status ``cancelled``, seen by no rule.
    """

    __tablename__ = "restricted_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    start_on: Mapped[date]
    end_on: Mapped[date]
    planned_end_on: Mapped[date]
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None]
    end_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("end_on >= start_on", name="ends_after_start"),
        Index("ix_restricted_periods_start_on_end_on", "start_on", "end_on"),
    )
