"""Uploads (one file from an agency) and the rows they rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context
from flask_babel import get_translations
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.agencies.models import Agency
from portal.db import new_public_id, utcnow
from portal.extensions import db

UPLOAD_STATUSES = ("queued", "processing", "completed", "rejected")
UPLOAD_ID_PREFIX = "up"


def new_upload_public_id() -> str:
    return new_public_id(UPLOAD_ID_PREFIX)


class Upload(db.Model):
    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What users and clients see (URLs, JSON ``id``, receipts): the integer key counts every agency's uploads.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_upload_public_id)
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
    # Who is processing the upload and until when (renewed by a heartbeat); a lease that ran out
    # means the worker died, and the reaper hands the upload to another (portal/uploads/jobs.py).
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")

    agency: Mapped[Agency] = relationship()

    @property
    def is_workbook(self) -> bool:
        """Whether the file is a spreadsheet, whose rows the user knows as sheet rows, not lines."""
        names = (self.filename or "").lower(), (self.format_key or "").lower()
        return names[0].endswith((".xlsx", ".xlsm")) or names[1].endswith("xlsx")

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
        # What the reaper scans every few seconds: the few uploads not yet finished.
        Index(
            "ix_uploads_unfinished",
            "status",
            sqlite_where=text("status IN ('queued', 'processing')"),
            postgresql_where=text("status IN ('queued', 'processing')"),
        ),
    )


class UploadError(db.Model):
    """A rejected row (row 0: the whole file), listed in errors.csv.

    ``row``/``field``/``code``/``message`` are contract 4.4's (message in English); ``column``
    and ``line`` say where the user finds the row in their own file, and ``template`` with
    ``params`` let the message be shown in the reader's language (see ``shown_message``).
    """

    __tablename__ = "upload_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    row: Mapped[int]
    field: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    column: Mapped[str] = mapped_column(String(255), default="", server_default="")
    line: Mapped[int | None]
    template: Mapped[str] = mapped_column(Text, default="", server_default="")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_upload_errors_upload_id_row", "upload_id", "row"),)

    @property
    def shown_message(self) -> str:
        """The message in the language of the request being answered (English outside a request)."""
        return translate_row_message(self.template, self.params, self.message)


def translate_row_message(template: str | None, params: dict[str, Any] | None, message: str) -> str:
    """``template`` translated into the request's language and filled with ``params``; else ``message``.

    A template the catalog does not know is its own English text; a translation that does not
    fit its parameters (a catalog mistake) falls back to the stored English rather than failing.
    """
    if not template or not has_request_context():
        return message
    translated = get_translations().ugettext(template)
    if not params:
        return translated
    try:
        return translated % params
    except (KeyError, TypeError, ValueError):
        return message


def progress_percent(upload: Upload) -> int:
    if upload.status in ("completed", "rejected"):
        return 100
    if not upload.size:
        return 0
    return min(99, upload.bytes_processed * 100 // upload.size)
