"""Upload page and history for agencies; every agency's uploads for lender staff."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal import params
from portal.agencies.services import list_agencies
from portal.audit.receipts import receipt_for
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.errors import NotFoundError, PortalError
from portal.extensions import db
from portal.security import AGENCY_ROLES, Role, current_actor, roles_required
from portal.textsafety import reveal_bidi_controls
from portal.uploads import services
from portal.uploads.exports import errors_csv
from portal.uploads.forms import UploadForm
from portal.uploads.jobs import dispatch_note, dispatch_upload, start_reaper
from portal.uploads.models import UPLOAD_ID_PREFIX, progress_percent

bp = Blueprint("uploads", __name__, url_prefix="/uploads")
ALL_ROLES = tuple(Role)
# As long as the uploads table's adapter column: a longer name is no adapter's.
MAX_ADAPTER = 60


@bp.before_app_request
def _reap_in_process() -> None:
    """Without Redis no worker reaps: the web process does, from its first request on (docs/uploads.md).

    Not under tests, whose apps come and go: they run the reaper themselves.
    """
    app = current_app._get_current_object()
    if not app.testing and not app.config.get("PORTAL_REDIS_URL"):
        start_reaper(app)


def _form(agency_code: str | None) -> UploadForm:
    """The upload form, offering the formats this agency may use, by their translated labels."""
    form = UploadForm()
    form.kind.choices = [SelectChoice("contacts", _("contact records")), SelectChoice("settlements", _("settlements"))]
    form.adapter.choices = [SelectChoice("", _("detect automatically"))] + [
        SelectChoice(f.key, f"{services.format_label(f)} · {f.adapter}") for f in services.formats_for(agency_code)
    ]
    return form


@bp.route("/", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def index():
    actor = current_actor()
    form = _form(current_user.agency.code) if actor.role in AGENCY_ROLES else None
    if form is not None and form.validate_on_submit():
        upload_file = form.file.data
        # The select offers real formats only; anything else is a hand-made request (a 400 page).
        adapter = params.check_text(form.adapter.data or "", "adapter", max_length=MAX_ADAPTER) or None
        try:
            submission = services.submit_upload(
                actor=actor,
                kind=form.kind.data,
                stream=upload_file.stream,
                filename=params.clean_filename(upload_file.filename),
                adapter=adapter,
            )
        except services.AmbiguousUploadError as exc:
            flash(
                _(
                    "More than one format fits this file. Choose one: %(names)s",
                    names=services.candidate_names(exc.candidates),
                ),
                "error",
            )
        except PortalError as exc:
            flash(exc.message, "error")
        else:
            # Read now: the session is rolled back if processing in-process fails.
            upload_id, public_id = submission.upload.id, submission.upload.public_id
            if submission.duplicate:
                flash(_("You uploaded the same file before: here is that upload."), "info")
            elif submission.upload.status == "queued":
                note = dispatch_note(dispatch_upload(upload_id))
                if note is not None:
                    flash(str(note), "info")
            return redirect(url_for("uploads.detail", upload_id=public_id))
    agency = params.text("agency", max_length=20)
    before = params.text("before", max_length=64)
    uploads = services.list_uploads(
        actor=actor, limit=50, before_id=_load(before).id if before else None, agency_code=agency or None
    )
    return render_template(
        "uploads/index.html",
        form=form,
        uploads=uploads,
        actor=actor,
        progress=progress_percent,
        agencies=[] if actor.is_agency else list_agencies(),
        agency=agency,
        max_mb=current_app.config["PORTAL_MAX_UPLOAD_MB"],
    )


def _load(upload_id: str):
    """The viewer's upload by its public id; 404 for anything else (an old integer id, another agency's)."""
    public_id = params.public_id(upload_id, prefix=UPLOAD_ID_PREFIX)
    if public_id is None:
        abort(404)
    try:
        return services.require_public_upload(actor=current_actor(), public_id=public_id)
    except NotFoundError:
        abort(404)


@bp.get("/<upload_id>")
@roles_required(*ALL_ROLES)
def detail(upload_id: str):
    upload = _load(upload_id)
    return render_template(
        "uploads/detail.html",
        upload=upload,
        errors=services.upload_errors(upload, 500),
        progress=progress_percent(upload),
        actor=current_actor(),
    )


@bp.get("/<upload_id>/progress")
@roles_required(*ALL_ROLES)
def progress(upload_id: str):
    upload = _load(upload_id)
    return jsonify({"status": upload.status, "progress": progress_percent(upload), "rows": upload.rows_processed})


@bp.get("/<upload_id>/receipt.json")
@roles_required(*ALL_ROLES)
def receipt(upload_id: str):
    """The audit receipt of the upload's completion, to keep as proof of what was filed and when."""
    upload = _load(upload_id)
    if not upload.completion_seq:
        abort(404)
    response = jsonify(receipt_for(upload.completion_seq))
    response.headers["Content-Disposition"] = f'attachment; filename="upload-{upload.public_id}-receipt.json"'
    return response


@bp.get("/<upload_id>/errors.csv")
@roles_required(*ALL_ROLES)
def errors(upload_id: str):
    upload = _load(upload_id)
    response = Response(stream_with_context(errors_csv(upload)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="upload-{upload.public_id}-errors.csv"'
    return response


@bp.get("/<upload_id>/original")
@roles_required(Role.LENDER_OPS, Role.COMPLIANCE, Role.ADMIN)
def original(upload_id: str):
    actor = current_actor()
    try:
        upload, path = services.original_file(actor=actor, upload_id=_load(upload_id).id)
    except NotFoundError:
        abort(404)
    record_event(
        actor=actor,
        action=AuditTag.UPLOAD_DOWNLOAD,
        object_type="upload",
        object_id=upload.public_id,
        agency_id=upload.agency_id,
        details={"sha256": upload.sha256},
    )
    db.session.commit()
    return send_file(
        path,
        as_attachment=True,
        download_name=reveal_bidi_controls(upload.filename),
        mimetype="application/octet-stream",
    )
