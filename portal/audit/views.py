"""Audit pages for compliance officers and admins: search, an event, a case's timeline, verify, export."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from portal import params
from portal.accounts.forms import ActionForm
from portal.agencies.services import list_agencies
from portal.audit import integrity, trail
from portal.audit.checkpoints import latest_checkpoint
from portal.audit.export import export_audit_bundle
from portal.audit.forms import ExportForm
from portal.audit.labels import OBJECT_TYPE, detail_fields
from portal.audit.retention import retention_report
from portal.audit.tags import AuditTag
from portal.audit.witness import WitnessSettings
from portal.errors import NotFoundError, PortalError
from portal.i18n import viewer_timezone
from portal.security import Role, current_actor, roles_required
from portal.uploads import services as upload_services

bp = Blueprint("audit", __name__, url_prefix="/audit")

AUDIT_ROLES = (Role.COMPLIANCE, Role.ADMIN)
FILTER_NAMES = ("since", "until", "actor", "agency", "action", "object_type", "object_id")
# The text filters and their longest sensible value (an e-mail is at most 254 characters).
FILTER_LENGTHS = {"actor": 254, "agency": 20, "action": 80, "object_type": 40, "object_id": 64}


def _export_form() -> ExportForm:
    form = ExportForm(prefix="export")
    form.agency.choices = [("", _("all agencies"))] + [(a.code, f"{a.code} · {a.name}") for a in list_agencies()]
    return form


def _filters_from_args() -> trail.EventFilters:
    timezone = viewer_timezone()
    return trail.EventFilters(
        since=params.when("since", timezone),
        until=params.when("until", timezone, end_of_day=True),
        **{name: params.text(name, max_length=length) for name, length in FILTER_LENGTHS.items()},
    )


def retention_label(record_type: str) -> str:
    labels = {
        "contacts": _("Contact records"),
        "recordings": _("Call recording references"),
        "settlements": _("Settlements"),
        "findings": _("Compliance findings"),
        "uploads": _("Uploaded files and row errors"),
        "closed_cases": _("Settled and closed cases (debtor data)"),
        "audit_events": _("Audit events"),
    }
    return labels.get(record_type, record_type)


def period_label(period: str) -> str:
    if period == "forever":
        return _("forever")
    amount, unit = int(period[:-1]), period[-1]
    if unit == "y":
        return ngettext("%(num)s year", "%(num)s years", amount)
    if unit == "m":
        return ngettext("%(num)s month", "%(num)s months", amount)
    return ngettext("%(num)s day", "%(num)s days", amount)


def _retention() -> dict[str, Any]:
    report = retention_report(current_app.config["PORTAL_RETENTION"])
    for item in report["items"]:
        item["cutoff_at"] = datetime.fromisoformat(item["cutoff"]) if item["cutoff"] else None
        item["oldest_at"] = datetime.fromisoformat(item["oldest"]) if item["oldest"] else None
    return report


@bp.get("/")
@roles_required(*AUDIT_ROLES)
def index():
    actor = current_actor()
    cursor = params.cursor()
    try:
        page = trail.read_events(
            actor=actor, filters=_filters_from_args(), cursor=cursor, limit=current_app.config["PORTAL_PAGE_SIZE"]
        )
    except PortalError as exc:
        flash(exc.message, "error")
        page = trail.read_events(
            actor=actor, filters=trail.EventFilters(), limit=current_app.config["PORTAL_PAGE_SIZE"]
        )
    query = {k: request.args[k] for k in FILTER_NAMES if request.args.get(k)}
    return render_template(
        "audit/index.html",
        page=page,
        values={k: request.args.get(k, "") for k in FILTER_NAMES},
        next_url=url_for("audit.index", **query, cursor=page.next_cursor) if page.next_cursor else None,
        first_url=url_for("audit.index", **query) if cursor else None,
        agencies=list_agencies(),
        tags=[str(tag) for tag in AuditTag],
        object_types=list(OBJECT_TYPE),
        checkpoint=latest_checkpoint(),
        action_form=ActionForm(),
        export_form=_export_form(),
        # Counting every record type costs a scan or two: only on the first page.
        retention=None if cursor else _retention(),
        retention_label=retention_label,
        period_label=period_label,
    )


@bp.get("/event")
@roles_required(*AUDIT_ROLES)
def event():
    try:
        seq = params.integer("seq", minimum=1, required=True)
        assert seq is not None
        row = trail.read_event(actor=current_actor(), seq=seq)
    except params.ParameterError:
        abort(404)
    except NotFoundError:
        abort(404)
    names = trail.object_names(trail.named_objects([row]) | {("user", str(row.actor_user_id))})
    case_ref = names.get(("case", row.object_id)) if row.object_type == "case" else None
    return render_template(
        "audit/event.html",
        event=row,
        check=integrity.check_event(row.seq),
        agency=next((a for a in list_agencies() if a.id == row.agency_id), None),
        case_ref=case_ref,
        page=trail.EventPage(rows=[row], next_cursor=None, objects=names),
        fields=detail_fields(row.details, action=row.action, names=names),
    )


@bp.get("/cases/")
@roles_required(*AUDIT_ROLES)
def find_case():
    """The timeline form's target (works without JavaScript): on to the case's timeline."""
    case_ref = params.text("case_ref", max_length=40).strip().upper()
    if not case_ref:
        return redirect(url_for("audit.index"))
    return redirect(url_for("audit.case_timeline", case_ref=case_ref))


@bp.get("/cases/<case_ref>")
@roles_required(*AUDIT_ROLES)
def case_timeline(case_ref: str):
    params.check_text(case_ref, "case_ref", max_length=40)
    try:
        case, page = trail.read_case_timeline(actor=current_actor(), case_ref=case_ref, cursor=params.cursor())
    except NotFoundError:
        abort(404)
    except PortalError as exc:
        flash(exc.message, "error")
        return redirect(url_for("audit.case_timeline", case_ref=case_ref))
    next_url = url_for("audit.case_timeline", case_ref=case.case_ref, cursor=page.next_cursor)
    return render_template(
        "audit/case.html",
        case=case,
        page=page,
        next_url=next_url if page.next_cursor else None,
        detail_fields=detail_fields,
    )


@bp.get("/uploads/<upload_id>")
@roles_required(*AUDIT_ROLES)
def upload(upload_id: str):
    """Older events and the case timeline name uploads by their key; the upload's page is at its public id."""
    if not (upload_id.isascii() and upload_id.isdigit() and len(upload_id) <= 18):
        return redirect(url_for("uploads.detail", upload_id=upload_id))
    try:
        found = upload_services.require_upload(actor=current_actor(), upload_id=int(upload_id))
    except NotFoundError:
        abort(404)
    return redirect(url_for("uploads.detail", upload_id=found.public_id))


@bp.post("/verify")
@roles_required(*AUDIT_ROLES)
def verify():
    if not ActionForm().validate_on_submit():
        abort(400)
    report = trail.verify_audit_trail(actor=current_actor(), witness=WitnessSettings.from_config(current_app.config))
    return render_template("audit/verify.html", report=report, checkpoint=latest_checkpoint())


@bp.post("/export")
@roles_required(*AUDIT_ROLES)
def export():
    form = _export_form()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("audit.index"))
    timezone = viewer_timezone()
    filters = trail.EventFilters(
        since=trail.parse_when(form.since.data.isoformat() if form.since.data else None, timezone, field_name="since"),
        until=trail.parse_when(
            form.until.data.isoformat() if form.until.data else None, timezone, field_name="until", end_of_day=True
        ),
        agency=form.agency.data or "",
    )
    fd, path = tempfile.mkstemp(prefix="audit-bundle-", suffix=".zip")
    os.close(fd)
    try:
        result = export_audit_bundle(actor=current_actor(), out=path, filters=filters)
    except PortalError as exc:
        os.unlink(path)
        flash(_("The bundle was not exported: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("audit.index"))
    name = f"audit-bundle-{result['tree_size']}{'-' + filters.agency if filters.agency else ''}.zip"
    # Unlinked while open: the data stays readable until the response closes it, and nothing is left behind.
    bundle = open(path, "rb")  # noqa: SIM115 (send_file closes it)
    os.unlink(path)
    return send_file(bundle, mimetype="application/zip", as_attachment=True, download_name=name)
