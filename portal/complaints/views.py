"""The complaints register's pages: the list with filters, registering, a complaint, responses, closing."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from portal.agencies.services import list_agencies
from portal.complaints import services
from portal.complaints.forms import CloseForm, ComplaintForm, ResponseForm
from portal.complaints.labels import CATEGORY, STATUS
from portal.errors import NotFoundError, PortalError
from portal.security import Role, current_actor, roles_required

bp = Blueprint("complaints", __name__, url_prefix="/complaints")

READERS = tuple(Role)
REGISTRARS = services.REGISTRARS
RESPONDERS = (Role.AGENCY_ADMIN, Role.AGENCY_AGENT)


def _today() -> date:
    return services.lender_today(current_app.config["PORTAL_TIMEZONE"])


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/")
@roles_required(*READERS)
def index():
    actor = current_actor()
    args = request.args
    filters = services.ComplaintFilters(
        agency="" if actor.is_agency else args.get("agency", ""),
        status=args.get("status", "") if args.get("status", "") in STATUS else "",
        category=args.get("category", "") if args.get("category", "") in CATEGORY else "",
        received_from=_day(args.get("from", "")),
        received_to=_day(args.get("to", "")),
    )
    today = _today()
    page = services.list_complaints(actor=actor, filters=filters, today=today)
    return render_template(
        "complaints/list.html",
        page=page,
        filters=filters,
        today=today,
        actor=actor,
        agencies=[] if actor.is_agency else list_agencies(),
        can_register=actor.role in REGISTRARS,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*REGISTRARS)
def new():
    form = ComplaintForm()
    form.agency.choices = [SelectChoice(a.code, f"{a.code} · {a.name}") for a in list_agencies()]
    today = _today()
    if request.method == "GET":
        form.received_on.data = today
        form.case_ref.data = request.args.get("case_ref", "")
    if form.validate_on_submit():
        try:
            complaint = services.register_complaint(
                actor=current_actor(),
                agency_code=form.agency.data,
                category=form.category.data,
                channel=form.channel.data,
                received_on=form.received_on.data,
                response_due_on=form.response_due_on.data,
                summary=form.summary.data,
                case_ref=form.case_ref.data,
                collector_id=form.collector_id.data,
                complainant_name=form.complainant_name.data,
                complainant_phone=form.complainant_phone.data,
                notes=form.notes.data,
                set_flag=form.set_flag.data,
                today=today,
                response_days=current_app.config["PORTAL_COMPLAINT_RESPONSE_DAYS"],
            )
        except PortalError as exc:
            target = getattr(form, getattr(exc, "field", None) or "", None)
            if target is not None and hasattr(target, "errors"):
                target.errors = [*target.errors, exc.message]
            else:
                flash(exc.message, "error")
        else:
            flash(_("Complaint %(reference)s registered.", reference=complaint.reference), "info")
            return redirect(url_for("complaints.detail", complaint_ref=complaint.reference))
    return render_template(
        "complaints/new.html", form=form, response_days=current_app.config["PORTAL_COMPLAINT_RESPONSE_DAYS"]
    )


# Complaints are named by their reference (CP-7K3QX9AB), never by the key: anything else is a 404.
@bp.get("/<complaint_ref>")
@roles_required(*READERS)
def detail(complaint_ref: str):
    actor = current_actor()
    try:
        complaint = services.require_complaint(actor=actor, complaint_ref=complaint_ref)
    except NotFoundError:
        abort(404)
    close_form = None
    if actor.role in REGISTRARS and complaint.is_open:
        close_form = CloseForm(formdata=None)
        close_form.closed_on.data = _today()
        close_form.clear_flag.data = services.case_flag_open(complaint) and not services.other_open_complaints(
            complaint
        )
    return render_template(
        "complaints/detail.html",
        complaint=complaint,
        complainant=services.complainant_for(actor, complaint),
        today=_today(),
        actor=actor,
        response_form=ResponseForm(formdata=None) if actor.role in RESPONDERS and complaint.is_open else None,
        close_form=close_form,
        flag_open=services.case_flag_open(complaint),
        other_open=services.other_open_complaints(complaint),
    )


@bp.post("/<complaint_ref>/response")
@roles_required(*RESPONDERS)
def respond(complaint_ref: str):
    actor = current_actor()
    try:
        complaint = services.require_complaint(actor=actor, complaint_ref=complaint_ref)
    except NotFoundError:
        abort(404)
    form = ResponseForm()
    back = redirect(url_for("complaints.detail", complaint_ref=complaint.reference, _anchor="responses"))
    if not form.validate_on_submit():
        flash(_("Write a response first."), "error")
        return back
    try:
        services.respond_to_complaint(actor=actor, complaint_ref=complaint.reference, text=form.text.data)
    except NotFoundError:
        abort(404)
    except PortalError as exc:
        flash(_("The response was not saved: %(reason)s", reason=exc.message), "error")
        return back
    flash(_("Your response has been recorded."), "info")
    return back


@bp.post("/<complaint_ref>/close")
@roles_required(*REGISTRARS)
def close(complaint_ref: str):
    actor = current_actor()
    try:
        complaint = services.require_complaint(actor=actor, complaint_ref=complaint_ref)
    except NotFoundError:
        abort(404)
    form = CloseForm()
    back = redirect(url_for("complaints.detail", complaint_ref=complaint.reference))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(_("The complaint was not closed: %(reason)s", reason=error), "error")
        return back
    try:
        services.close_complaint(
            actor=actor,
            complaint_ref=complaint.reference,
            outcome=form.outcome.data,
            closed_on=form.closed_on.data,
            note=form.note.data,
            clear_flag=form.clear_flag.data,
            today=_today(),
        )
    except NotFoundError:
        abort(404)
    except PortalError as exc:
        flash(_("The complaint was not closed: %(reason)s", reason=exc.message), "error")
        return back
    flash(_("Complaint %(reference)s closed.", reference=complaint.reference), "info")
    return back
