"""Submitting uploads (web, API, CLI share this), scoping them to agencies, and their summaries."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel.speaklater import LazyString
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from portal.agencies.models import Agency
from portal.audit.receipts import receipt_for
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.db import utcnow
from portal.errors import Message, NotFoundError, PermissionDeniedError, PortalError, ValidationError, _l
from portal.extensions import db
from portal.i18n import kind_label
from portal.plugins import (
    AmbiguousFormatError,
    RegisteredFormat,
    UnknownFormatError,
    get_format,
    list_formats,
    read_sample,
)
from portal.plugins.isolation import Isolation, detect, isolated_parse
from portal.plugins.manager import AMBIGUITY_MARGIN, MIN_CONFIDENCE
from portal.plugins.records import KINDS
from portal.security import Actor, Role
from portal.uploads.jobs import current_settings, revive_upload
from portal.uploads.models import Upload, UploadError, progress_percent
from portal.uploads.storage import StoredFile, blob_path, store_stream

log = logging.getLogger(__name__)

SUMMARY_ERRORS = 100
# As long as an upload's ``adapter`` column: a longer name can name no adapter.
ADAPTER_NAME_MAX = Upload.__table__.c.adapter.type.length


class AmbiguousUploadError(PortalError):
    """Two adapters read the file equally well: the user must choose (API: 422 with candidates)."""

    code = "ambiguous_format"
    status = 422

    def __init__(self, candidates: list[dict[str, Any]]) -> None:
        super().__init__(
            _l(
                "more than one format can read this file (%(names)s); choose one with adapter=",
                names=LazyString(candidate_names, candidates),
            )
        )
        self.candidates = candidates


def format_label(registered: RegisteredFormat) -> str:
    """The format's label in the current language (English outside a request)."""
    locale = get_locale()
    return registered.format.label_for(str(locale) if locale else "en")


def candidate_names(candidates: list[dict[str, Any]]) -> str:
    """``label (format key)`` of each candidate, for a person choosing among them."""
    labels = {item.key: format_label(item) for item in list_formats(plugin_manager())}
    return ", ".join(f"{labels.get(c['format'], c['format'])} ({c['format']})" for c in candidates)


@dataclass(frozen=True)
class Submission:
    upload: Upload
    duplicate: bool


def plugin_manager():
    return current_app.extensions["portal.plugins"]


def storage_root() -> Path:
    return Path(current_app.config["PORTAL_STORAGE_DIR"])


def formats_for(agency_code: str | None) -> list[RegisteredFormat]:
    """The formats an agency may upload in: the shared ones and its own private mappings.

    Another agency's private format (``AdapterFormat.agency``) is not offered, not detected and
    not accepted by name: to the agency it does not exist. ``None`` (lender staff) gives all.
    """
    formats = list_formats(plugin_manager())
    if agency_code is None:
        return formats
    code = agency_code.upper()
    return [item for item in formats if item.format.agency is None or item.format.agency.upper() == code]


def choose_format(
    sample: bytes, filename: str | None, kind: str, requested: str | None = None, *, agency_code: str | None
) -> str:
    """The format key to read a file with, among the formats ``formats_for(agency_code)`` allows.

    The same rules as ``portal.plugins.choose_format`` (a format key used as is, an adapter's
    formats or all of them sniffed, MIN_CONFIDENCE and AMBIGUITY_MARGIN), applied to the
    agency's formats only, with messages in the user's language. Raises the plugins'
    UnknownFormatError or AmbiguousFormatError.
    """
    visible = formats_for(agency_code)
    formats = [item for item in visible if kind in item.format.kinds]
    kind_name = LazyString(kind_label, kind)
    if requested:
        exact = [item for item in visible if item.key == requested]
        if exact:
            if kind not in exact[0].format.kinds:
                raise UnknownFormatError(
                    _l("the format '%(format)s' does not read %(kind)s", format=requested, kind=kind_name)
                )
            return requested
        formats = [item for item in formats if item.adapter == requested]
        if not formats:
            raise UnknownFormatError(
                _l("no installed adapter or format called '%(name)s' reads %(kind)s", name=requested, kind=kind_name)
            )
        if len(formats) == 1:
            return formats[0].key
    allowed = {item.key for item in formats}
    # Sniffing opens workbooks: in a child process, so that a hostile one cannot take this one down.
    detection = detect(plugin_manager(), sample, filename, isolation=Isolation.from_config(current_app.config))
    ranked = [item for item in detection.ranked if item.format_key in allowed]
    strong = [item for item in ranked if item.confidence >= MIN_CONFIDENCE]
    if not strong:
        if detection.seen is not None:
            # Say what was seen (empty, UTF-16, a damaged or oversized workbook), as parsing would.
            raise UnknownFormatError(
                Message(detection.seen.template, **detection.seen.params), ranked[:3], code="unreadable_file"
            )
        raise UnknownFormatError(
            _l("no installed adapter recognises this file as %(kind)s", kind=kind_name), ranked[:3]
        )
    close = [item for item in strong if item.confidence >= strong[0].confidence - AMBIGUITY_MARGIN]
    if len(close) > 1:
        raise AmbiguousFormatError(close)
    return strong[0].format_key


def uploads_visible_to(actor: Actor) -> Select[tuple[Upload]]:
    """Agency users see their agency's uploads; lender staff every agency's."""
    query = select(Upload)
    if actor.is_agency:
        query = query.where(Upload.agency_id == actor.agency_id)
    return query


def require_upload(*, actor: Actor, upload_id: int) -> Upload:
    upload = db.session.execute(uploads_visible_to(actor).where(Upload.id == upload_id)).scalar_one_or_none()
    if upload is None:
        raise NotFoundError(_l("no upload %(id)s", id=upload_id))
    return upload


def require_public_upload(*, actor: Actor, public_id: str) -> Upload:
    """The upload that ``public_id`` names, when ``actor`` may see it; NotFoundError otherwise.

    Users and clients only ever see public ids: an old integer id is not found, as is another agency's upload.
    """
    upload = db.session.execute(uploads_visible_to(actor).where(Upload.public_id == public_id)).scalar_one_or_none()
    if upload is None:
        raise NotFoundError(_l("no upload %(id)s", id=public_id))
    return upload


def _uploading_agency(actor: Actor, agency_code: str | None) -> Agency:
    if actor.is_agency:
        agency = db.session.get(Agency, actor.agency_id)
    elif actor.is_system:
        if not agency_code:
            raise ValidationError(_l("name the agency whose file this is"), field="agency")
        agency = db.session.execute(select(Agency).where(Agency.code == agency_code.upper())).scalar_one_or_none()
        if agency is None:
            raise ValidationError(_l("unknown agency '%(code)s'", code=agency_code), field="agency")
    else:
        raise PermissionDeniedError(_l("only agency users upload files"))
    assert agency is not None
    if agency.status != "active":
        raise PermissionDeniedError(_l("agency %(code)s is not active; uploads are closed", code=agency.code))
    return agency


def submit_upload(
    *,
    actor: Actor,
    kind: str,
    stream: BinaryIO,
    filename: str,
    adapter: str | None = None,
    agency_code: str | None = None,
) -> Submission:
    """Store the bytes, detect a duplicate, choose the adapter and record the upload as queued.

    The caller then hands the upload to ``dispatch_upload``. Raises AmbiguousUploadError when
    two formats read the file equally well; a file no adapter reads is recorded as rejected.
    Everything that can refuse the request is checked before the file is stored, and a file
    stored for a submission that then fails is removed unless an upload holds it: a refused
    upload leaves no file behind (docs/uploads.md, "Stored files").
    """
    if kind not in KINDS:
        raise ValidationError(_l("kind must be contacts or settlements, not '%(kind)s'", kind=kind), field="kind")
    requested = requested_adapter(adapter)
    agency = _uploading_agency(actor, agency_code)
    filename = clean_filename(filename)
    stored = store_stream(storage_root(), stream, max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    try:
        return _record_submission(actor, agency, kind, stored, filename, requested)
    except BaseException:
        _forget_unreferenced(stored.sha256, stored.path)
        raise


def requested_adapter(adapter: str | None) -> str | None:
    """The adapter or format key asked for (None: detect it).

    Raises PortalError ``invalid_parameter`` (400) for a name no adapter can have: longer than an
    upload records, or holding control characters (NUL among them, which PostgreSQL refuses).
    """
    if not adapter:
        return None
    if len(adapter) > ADAPTER_NAME_MAX or any(unicodedata.category(c) == "Cc" for c in adapter):
        raise PortalError(
            _l(
                "adapter must be an adapter or format name of at most %(max)s characters, without control characters",
                max=ADAPTER_NAME_MAX,
            ),
            code="invalid_parameter",
        )
    return adapter


def clean_filename(filename: str | None) -> str:
    """The name the upload is listed under: its last path part, without control characters, at most 255."""
    name = "".join(c for c in (filename or "") if unicodedata.category(c) != "Cc")
    return name.replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"


def _record_submission(
    actor: Actor, agency: Agency, kind: str, stored: StoredFile, filename: str, requested: str | None
) -> Submission:
    existing = _live_upload(agency.id, kind, stored.sha256)
    if existing is not None:
        # An earlier upload no attempt is working on must not block the same bytes forever.
        revived = revive_upload(existing, current_settings())
        if revived == "requeued":
            return _duplicate(actor, existing, requeued=True)
        if revived is None:
            return _duplicate(actor, existing)
    with stored.path.open("rb") as handle:
        sample = read_sample(handle)
    upload = Upload(
        agency_id=agency.id,
        user_id=actor.user_id,
        kind=kind,
        filename=filename,
        sha256=stored.sha256,
        size=stored.size,
        source=actor.source,
        status="queued",
    )
    try:
        format_key = choose_format(sample, filename, kind, requested, agency_code=agency.code)
    except AmbiguousFormatError as exc:
        candidates = [
            {"adapter": c.adapter, "format": c.format_key, "confidence": round(c.confidence, 2)} for c in exc.candidates
        ]
        preferred = [c for c in candidates if agency.default_adapter in (c["adapter"], c["format"])]
        if len(preferred) != 1:
            raise AmbiguousUploadError(candidates) from exc
        format_key = preferred[0]["format"]
    except UnknownFormatError as exc:
        upload.status = "rejected"
        upload.adapter = requested
        upload.completed_at = utcnow()
        db.session.add(upload)
        db.session.flush()
        # Stored in English, as the adapters' row messages are: the row outlives the request's language.
        with force_locale("en"):
            message = str(exc)
        reason = exc.args[0] if exc.args else None
        template, params = (
            (reason.msgid, {k: str(v) for k, v in reason.params.items()}) if isinstance(reason, Message) else ("", {})
        )
        db.session.add(
            UploadError(
                upload_id=upload.id,
                row=0,
                field="",
                code=exc.code,
                message=message,
                template=template,
                params=params,
            )
        )
        record_event(
            actor=actor,
            action=AuditTag.UPLOAD_REJECT,
            object_type="upload",
            object_id=upload.public_id,
            agency_id=agency.id,
            outcome="failure",
            details={"sha256": stored.sha256, "kind": kind, "reason": exc.code},
        )
        db.session.commit()
        return Submission(upload, False)
    registered = get_format(plugin_manager(), format_key)
    upload.adapter = registered.adapter
    upload.adapter_version = registered.format.version
    upload.format_key = format_key
    db.session.add(upload)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request stored the same bytes a moment ago: that one is the upload.
        db.session.rollback()
        existing = _live_upload(agency.id, kind, stored.sha256)
        if existing is None:
            raise
        return _duplicate(actor, existing)
    record_event(
        actor=actor,
        action=AuditTag.UPLOAD_RECEIVE,
        object_type="upload",
        object_id=upload.public_id,
        agency_id=agency.id,
        details={
            "sha256": stored.sha256,
            "size": stored.size,
            "kind": kind,
            "filename": filename,
            "adapter": upload.adapter,
            "adapter_version": upload.adapter_version,
            "format": format_key,
        },
    )
    db.session.commit()
    return Submission(upload, False)


def _forget_unreferenced(sha256: str, path: Path) -> None:
    """Remove a stored file no upload holds (its submission failed): no orphan files fill the disk.

    Called while the failure propagates; a database that cannot answer leaves the file in place
    (an extra copy costs disk, a missing one would cost an upload).
    """
    try:
        db.session.rollback()
        if db.session.execute(select(Upload.id).where(Upload.sha256 == sha256).limit(1)).first() is None:
            path.unlink(missing_ok=True)
        db.session.rollback()
    except Exception:
        log.warning("could not check whether stored file %s is still needed; kept", sha256, exc_info=True)


def _live_upload(agency_id: int, kind: str, sha256: str) -> Upload | None:
    return db.session.execute(
        select(Upload).where(
            Upload.agency_id == agency_id, Upload.kind == kind, Upload.sha256 == sha256, Upload.status != "rejected"
        )
    ).scalar_one_or_none()


def _duplicate(actor: Actor, existing: Upload, *, requeued: bool = False) -> Submission:
    """The same bytes again: the earlier upload answers; ``requeued``: it was stranded and is queued again."""
    details: dict[str, Any] = {"sha256": existing.sha256, "kind": existing.kind}
    if requeued:
        details["requeued"] = True
    record_event(
        actor=actor,
        action=AuditTag.UPLOAD_DUPLICATE,
        object_type="upload",
        object_id=existing.public_id,
        agency_id=existing.agency_id,
        details=details,
    )
    db.session.commit()
    # A requeued upload is not answered as a duplicate: the caller dispatches it like a new one.
    return Submission(existing, not requeued)


def original_file(*, actor: Actor, upload_id: int) -> tuple[Upload, Path]:
    """The stored original, for lender staff only (agency users have their own copy)."""
    if actor.is_agency:
        raise PermissionDeniedError(_l("only lender staff download original files"))
    upload = require_upload(actor=actor, upload_id=upload_id)
    return upload, blob_path(storage_root(), upload.sha256)


def upload_errors(upload: Upload, limit: int | None = None) -> list[UploadError]:
    query = select(UploadError).where(UploadError.upload_id == upload.id).order_by(UploadError.row, UploadError.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.execute(query).scalars())


def upload_summary(upload: Upload, *, duplicate: bool = False, with_receipt: bool = True) -> dict[str, Any]:
    """The contract 4.4 upload object (plus progress, the adapter's format and version, and the receipt).

    The receipt (issue 4) proves the upload's completion event is in the signed audit tree:
    its seq, leaf hash and event, a signed checkpoint including it and the inclusion proof.
    """
    summary = {
        "id": upload.public_id,
        "kind": upload.kind,
        "adapter": upload.adapter,
        "adapter_version": upload.adapter_version,
        "format": upload.format_key,
        "agency": upload.agency.code,
        "filename": upload.filename,
        "sha256": upload.sha256,
        "size": upload.size,
        "status": upload.status,
        "duplicate": duplicate,
        "rows_total": upload.rows_total,
        "rows_accepted": upload.rows_accepted,
        "rows_rejected": upload.rows_rejected,
        "rows_duplicate": upload.rows_duplicate,
        "rows_processed": upload.rows_processed,
        "progress": progress_percent(upload),
        "findings_total": upload.findings_total,
        "created_at": upload.created_at.isoformat(),
        "completed_at": upload.completed_at.isoformat() if upload.completed_at else None,
        # Contract 4.4's four keys (message in the reader's language), then where the user finds the row.
        "errors": [
            {
                "row": e.row,
                "field": e.field,
                "code": e.code,
                "message": e.shown_message,
                "column": e.column,
                "line": e.line,
            }
            for e in upload_errors(upload, SUMMARY_ERRORS)
        ],
    }
    if with_receipt and upload.completion_seq:
        summary["receipt"] = receipt_for(upload.completion_seq)
    return summary


def list_uploads(
    *, actor: Actor, limit: int = 50, before_id: int | None = None, agency_code: str | None = None
) -> list[Upload]:
    query = uploads_visible_to(actor).order_by(Upload.id.desc()).limit(limit)
    if before_id:
        query = query.where(Upload.id < before_id)
    if agency_code and not actor.is_agency:
        query = query.join(Agency, Agency.id == Upload.agency_id).where(Agency.code == agency_code.upper())
    return list(db.session.execute(query).scalars())


def can_upload(actor: Actor) -> bool:
    return actor.role in (Role.AGENCY_AGENT, Role.AGENCY_ADMIN) or actor.is_system


def check_file(
    *,
    stream: BinaryIO,
    filename: str,
    kind: str,
    adapter: str | None = None,
    timezone: str = "Asia/Shanghai",
    max_errors: int = 20,
) -> dict[str, Any]:
    """Dry run of the adapter step: which format, rows read, first errors. Stores nothing."""
    from portal.plugins import ParseContext, RowIssue

    if kind not in KINDS:
        raise ValidationError(_l("kind must be contacts or settlements, not '%(kind)s'", kind=kind), field="kind")
    sample = read_sample(stream)
    stream.seek(0)
    try:
        format_key = choose_format(sample, filename, kind, adapter, agency_code=None)
    except AmbiguousFormatError as exc:
        raise AmbiguousUploadError(
            [
                {"adapter": c.adapter, "format": c.format_key, "confidence": round(c.confidence, 2)}
                for c in exc.candidates
            ]
        ) from exc
    except UnknownFormatError as exc:
        raise PortalError(exc.args[0], code=exc.code) from exc
    registered = get_format(plugin_manager(), format_key)
    rows: set[int] = set()
    bad: set[int] = set()
    errors: list[dict[str, Any]] = []
    context = ParseContext(kind=kind, timezone=timezone, filename=filename)
    isolation = Isolation.from_config(current_app.config)
    for item in isolated_parse(plugin_manager(), format_key, stream, context, isolation=isolation):
        if item.row:
            rows.add(item.row)
        if isinstance(item, RowIssue):
            if item.row:
                bad.add(item.row)
            if len(errors) < max_errors:
                errors.append(
                    {
                        "row": item.row,
                        "field": item.field,
                        "code": item.code,
                        "message": item.message,
                        "column": item.column,
                        "line": item.line,
                    }
                )
    return {
        "adapter": registered.adapter,
        "format": format_key,
        "version": registered.format.version,
        "kind": kind,
        "rows_total": len(rows),
        "rows_valid": len(rows - bad),
        "rows_rejected": len(bad),
        "file_rejected": any(e["row"] == 0 for e in errors),
        "errors": errors,
    }
