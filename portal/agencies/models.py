"""Collection agencies and the terms of their contract with the lender."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import utcnow
from portal.extensions import db
from portal.plugins.records import CHANNELS

BUCKETS = ("M1", "M2", "M3", "M4+")


class Agency(db.Model):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    allowed_channels: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(CHANNELS))
    # None means no limit on open placements.
    capacity: Mapped[int | None]
    placement_term_days: Mapped[int] = mapped_column(default=90)
    # bucket -> commission rate as a decimal string ("0.08"); JSON has no exact decimals.
    commission_schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_adapter: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def commission_rate(self, bucket: str) -> Decimal | None:
        rate = self.commission_schedule.get(bucket)
        return Decimal(rate) if rate is not None else None
