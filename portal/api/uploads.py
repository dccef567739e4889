"""``/api/v1/uploads`` (contract 4.2): upload a file, read its summary and its errors.csv."""

from __future__ import annotations

import logging

from flask import Response, g, jsonify, request, stream_with_context
from flask_babel import get_locale

from portal.api import bp, error_response
from portal.uploads import services
from portal.uploads.exports import errors_csv
from portal.uploads.jobs import DATABASE_UNAVAILABLE, dispatch_note, dispatch_upload, is_database_fault

log = logging.getLogger(__name__)


@bp.post("/uploads")
def create_upload():
    upload_file = request.files.get("file")
    kind = request.form.get("kind", "")
    if upload_file is None:
        return error_response(400, "send the file as the multipart field 'file'", "malformed_request")
    if kind not in ("contacts", "settlements"):
        return error_response(400, "kind must be contacts or settlements", "malformed_request")
    # The caller's language is settled now: an answer after a database fault must not need a query.
    get_locale()
    try:
        submission = services.submit_upload(
            actor=g.actor,
            kind=kind,
            stream=upload_file.stream,
            filename=upload_file.filename or "upload",
            adapter=request.form.get("adapter") or None,
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
    before = request.args.get("cursor", type=int)
    limit = min(request.args.get("limit", 50, type=int) or 50, 500)
    uploads = services.list_uploads(actor=g.actor, limit=limit + 1, before_id=before)
    more = len(uploads) > limit
    uploads = uploads[:limit]
    return jsonify(
        {
            "items": [services.upload_summary(u, with_receipt=False) | {"errors": []} for u in uploads],
            "next": str(uploads[-1].id) if more else None,
        }
    )


@bp.get("/uploads/<int:upload_id>")
def get_upload(upload_id: int):
    return jsonify(services.upload_summary(services.require_upload(actor=g.actor, upload_id=upload_id)))


@bp.get("/uploads/<int:upload_id>/errors.csv")
def get_upload_errors(upload_id: int):
    upload = services.require_upload(actor=g.actor, upload_id=upload_id)
    response = Response(stream_with_context(errors_csv(upload)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="upload-{upload.id}-errors.csv"'
    return response
