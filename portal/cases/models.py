"""Customers, their phones, cases, case flags (as history) and placements with agencies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.agencies.models import Agency

FLAGS = ("cease", "dispute", "bankruptcy", "deceased", "vulnerable", "complaint")
CASE_STATUSES = ("open", "settled", "closed")
END_REASONS = ("recalled", "expired", "settled", "closed")


def bucket_for(days_past_due: int) -> str:
    """Contract 5.3: M1 1-30, M2 31-60, M3 61-90, M4+ over 90; a current loan is M0."""
    if days_past_due <= 0:
        return "M0"
    if days_past_due <= 30:
        return "M1"
    if days_past_due <= 60:
        return "M2"
    if days_past_due <= 90:
        return "M3"
    return "M4+"


class Customer(db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(30))
    province: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerPhone.id"
    )


class CustomerPhone(db.Model):
    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(20))
    party: Mapped[str] = mapped_column(String(20))

    customer: Mapped[Customer] = relationship(back_populates="phones")

    __table_args__ = (UniqueConstraint("customer_id", "number", name="uq_customer_phones_customer_number"),)


class Case(db.Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    loan_ref: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(40))
    principal: Mapped[Decimal]
    outstanding_balance: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    days_past_due: Mapped[int]
    # Derived from days_past_due on every write; stored so lists can filter on an index.
    bucket: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship()
    flags: Mapped[list[CaseFlag]] = relationship(back_populates="case", order_by="CaseFlag.id")
    placements: Mapped[list[Placement]] = relationship(back_populates="case", order_by="Placement.placed_at")

    __table_args__ = (
        CheckConstraint("outstanding_balance >= 0", name="balance_not_negative"),
        CheckConstraint("days_past_due >= 0", name="dpd_not_negative"),
        Index("ix_cases_bucket_case_ref", "bucket", "case_ref"),
        Index("ix_cases_status_case_ref", "status", "case_ref"),
        # Keyset pages sorted by balance or days past due walk these (bench/case_list.py).
        Index("ix_cases_outstanding_balance_id", "outstanding_balance", "id"),
        Index("ix_cases_days_past_due_id", "days_past_due", "id"),
    )

    def set_days_past_due(self, days: int) -> None:
        self.days_past_due = days
        self.bucket = bucket_for(days)

    @property
    def active_flags(self) -> list[str]:
        return sorted({flag.flag for flag in self.flags if flag.effective_to is None})

    @property
    def open_placement(self) -> Placement | None:
        return next((p for p in self.placements if p.ended_at is None), None)


class CaseFlag(db.Model):
    """A flag's history: set at ``effective_from``, cleared at ``effective_to`` (open while None).

    ``effective_from`` None means "from before the case's first contact": the lender's file listed
    the flag without a date, and the stricter reading is the safe one (contract 5.3).
    """

    __tablename__ = "case_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    flag: Mapped[str] = mapped_column(String(20))
    effective_from: Mapped[datetime | None]
    effective_to: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(20), default="import")
    # Why a person set or cleared it by hand (`flask cases flag --reason`); None for the lender's file.
    reason: Mapped[str | None] = mapped_column(String(500))

    case: Mapped[Case] = relationship(back_populates="flags")

    def holds_at(self, moment: datetime) -> bool:
        """Whether the flag stood at ``moment`` (an aware UTC datetime): what a rule judging a contact asks."""
        started = self.effective_from is None or self.effective_from <= moment
        return started and (self.effective_to is None or self.effective_to > moment)

    __table_args__ = (
        Index("ix_case_flags_case_id_flag", "case_id", "flag"),
        Index(
            "uq_case_flags_open",
            "case_id",
            "flag",
            unique=True,
            sqlite_where=text("effective_to IS NULL"),
            postgresql_where=text("effective_to IS NULL"),
        ),
    )


class Placement(db.Model):
    __tablename__ = "placements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    placed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))
    placed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    batch: Mapped[str | None] = mapped_column(String(40))

    case: Mapped[Case] = relationship(back_populates="placements")
    agency: Mapped[Agency] = relationship()

    __table_args__ = (
        CheckConstraint("expires_at > placed_at", name="expires_after_placed"),
        # At most one open placement per case: the database, not the code, guarantees it.
        Index(
            "uq_placements_open_case",
            "case_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_placements_case_id_agency_id", "case_id", "agency_id"),
        Index("ix_placements_agency_id_case_id", "agency_id", "case_id"),
        Index(
            "ix_placements_open_agency_id_expires_at",
            "agency_id",
            "expires_at",
            "case_id",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
