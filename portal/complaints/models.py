"""A debtor's complaint against an agency (optionally a collector and a case), and the agency's responses."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import new_reference, utcnow
from portal.extensions import db

if TYPE_CHECKING:
    from portal.agencies.models import Agency
    from portal.cases.models import Case

CATEGORIES = ("harassment", "third_party_disclosure", "threat", "wrong_debt", "fees", "privacy", "other")
CHANNELS = ("phone_hotline", "regulator", "letter", "email", "app", "in_person")
OUTCOMES = ("upheld", "partly_upheld", "not_upheld", "withdrawn")
STATUSES = ("open", "closed", "overdue")
# A complaint's reference, e.g. CP-7K3QX9AB: in its URL, on its pages, in the flag's reason and in its
# audit events. The integer key is one sequence for every agency, so it stays inside (contract 1).
REFERENCE_PREFIX = "CP"


def new_complaint_reference() -> str:
    return new_reference(REFERENCE_PREFIX)


class Complaint(db.Model):
    """Open while ``closed_on`` is None; overdue when open after ``response_due_on`` (a lender's day)."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True, default=new_complaint_reference)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # The agency's own collector code, as in contact records (contract 5.1).
    collector_id: Mapped[str | None] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    received_on: Mapped[date]
    response_due_on: Mapped[date]
    # Personal data: agencies see these masked (contract 7).
    complainant_name: Mapped[str | None] = mapped_column(String(100))
    complainant_phone: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text)
    # The lender's own notes: never shown to the agency.
    notes: Mapped[str | None] = mapped_column(Text)
    # Whether registering it set the case's `complaint` flag.
    flag_set: Mapped[bool] = mapped_column(default=False)
    closed_on: Mapped[date | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    closing_note: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    agency: Mapped[Agency] = relationship()
    case: Mapped[Case | None] = relationship()
    responses: Mapped[list[ComplaintResponse]] = relationship(
        back_populates="complaint", order_by="ComplaintResponse.id"
    )

    __table_args__ = (
        Index("ix_complaints_agency_id_received_on", "agency_id", "received_on"),
        Index("ix_complaints_case_id", "case_id"),
        Index("ix_complaints_closed_on_response_due_on", "closed_on", "response_due_on"),
    )

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    def is_overdue(self, today: date) -> bool:
        return self.closed_on is None and today > self.response_due_on


class ComplaintResponse(db.Model):
    """An agency's answer to a complaint: appended, never edited."""

    __tablename__ = "complaint_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="responses")
