"""Uploads (one file from an agency) and the rows they rejected."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.agencies.models import Agency
from portal.db import utcnow
from portal.extensions import db

UPLOAD_STATUSES = ("queued", "processing", "completed", "rejected")


class Upload(db.Model):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12))
    adapter: Mapped[str | None] = mapped_column(String(60))
    adapter_version: Mapped[str | None] = mapped_column(String(40))
    format_key: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rows_duplicate: Mapped[int] = mapped_column(default=0)
    findings_total: Mapped[int] = mapped_column(default=0)
    # How far processing has read (rows, and bytes of the original): what progress bars show.
    rows_processed: Mapped[int] = mapped_column(default=0)
    bytes_processed: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completion_seq: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))

    agency: Mapped[Agency] = relationship()

    __table_args__ = (
        # The same bytes from the same agency for the same kind are one upload, unless
        # that upload was rejected (a fixed case list may make the same file valid later).
        Index(
            "uq_uploads_agency_kind_sha256_live",
            "agency_id",
            "kind",
            "sha256",
            unique=True,
            sqlite_where=text("status <> 'rejected'"),
            postgresql_where=text("status <> 'rejected'"),
        ),
        Index("ix_uploads_agency_id_id", "agency_id", "id"),
    )


class UploadError(db.Model):
    """A rejected row (row 0: the whole file), listed in errors.csv."""

    __tablename__ = "upload_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    row: Mapped[int]
    field: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_upload_errors_upload_id_row", "upload_id", "row"),)


def progress_percent(upload: Upload) -> int:
    if upload.status in ("completed", "rejected"):
        return 100
    if not upload.size:
        return 0
    return min(99, upload.bytes_processed * 100 // upload.size)
