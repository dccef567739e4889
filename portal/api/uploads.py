"""``/api/v1/uploads`` (contract 4.2): upload a file, read its summary and its errors.csv."""

from __future__ import annotations

import logging

from flask import Response, g, jsonify, request, stream_with_context
from flask_babel import get_locale

from portal import params
from portal.api import bp, error_response
from portal.errors import NotFoundError, _l
from portal.plugins.records import KINDS
from portal.uploads import services
from portal.uploads.exports import errors_csv
from portal.uploads.jobs import DATABASE_UNAVAILABLE, dispatch_note, dispatch_upload, is_database_fault
from portal.uploads.models import UPLOAD_ID_PREFIX, Upload

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 500
# As long as the uploads table's adapter column: a longer name is no adapter's.
MAX_ADAPTER = 60


def upload_of(value: str) -> Upload:
    """The caller's upload that ``value`` names; 404 for anything else (an old integer id, another agency's)."""
    public_id = params.public_id(value, prefix=UPLOAD_ID_PREFIX)
    if public_id is None:
        raise NotFoundError(_l("no such upload"))
    return services.require_public_upload(actor=g.actor, public_id=public_id)


def _after(cursor: str | None) -> int | None:
    """The key below which the next page starts: the cursor is the previous page's last public id."""
    if cursor is None:
        return None
    try:
        return upload_of(cursor).id
    except NotFoundError as exc:
        raise params.ParameterError(_l("the cursor is not one this server issued"), name="cursor") from exc


@bp.post("/uploads")
def create_upload():
    upload_file = request.files.get("file")
    if upload_file is None:
        return error_response(400, _l("send the file as the multipart field 'file'"), "malformed_request")
    kind = params.choice("kind", KINDS, args=request.form)
    if not kind:
        return error_response(400, _l("kind must be contacts or settlements"), "malformed_request")
    adapter = params.text("adapter", max_length=MAX_ADAPTER, args=request.form) or None
    # The caller's language is settled now: an answer after a database fault must not need a query.
    get_locale()
    try:
        submission = services.submit_upload(
            actor=g.actor,
            kind=kind,
            stream=upload_file.stream,
            filename=params.clean_filename(upload_file.filename),
            adapter=adapter,
        )
        if submission.duplicate:
            return jsonify(services.upload_summary(submission.upload, duplicate=True)), 200
        upload_id, note = submission.upload.id, None
        if submission.upload.status == "queued":
            note = dispatch_note(dispatch_upload(upload_id))
        # Read afresh: a fault while processing in-process has rolled the session back.
        summary = services.upload_summary(services.require_upload(actor=g.actor, upload_id=upload_id))
    except services.AmbiguousUploadError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, "candidates": exc.candidates}}
        return jsonify(body), 422
    except Exception as exc:
        if not is_database_fault(exc):
            raise
        # The database itself is away (not the file): nothing the client sent is at fault. What was
        # committed stays; sending the same bytes again finds it (docs/uploads.md).
        log.warning("upload POST: the database cannot be reached (%s)", exc)
        return error_response(503, DATABASE_UNAVAILABLE, "service_unavailable")
    if note is not None:
        summary["note"] = str(note)
    return jsonify(summary), 202


@bp.get("/uploads")
def list_uploads():
    size = params.limit(default=50, maximum=MAX_PAGE_SIZE)
    uploads = services.list_uploads(actor=g.actor, limit=size + 1, before_id=_after(params.cursor()))
    more = len(uploads) > size
    uploads = uploads[:size]
    return jsonify(
        {
            "items": [services.upload_summary(u, with_receipt=False) | {"errors": []} for u in uploads],
            # The last upload's public id: the next page starts below it.
            "next": uploads[-1].public_id if more else None,
        }
    )


@bp.get("/uploads/<upload_id>")
def get_upload(upload_id: str):
    return jsonify(services.upload_summary(upload_of(upload_id)))


@bp.get("/uploads/<upload_id>/errors.csv")
def get_upload_errors(upload_id: str):
    upload = upload_of(upload_id)
    response = Response(stream_with_context(errors_csv(upload)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="upload-{upload.public_id}-errors.csv"'
    return response
