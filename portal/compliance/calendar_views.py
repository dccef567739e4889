"""The restricted-periods calendar page: list (in force today first), add, end early, cancel."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.complaints.services import lender_today
from portal.compliance import calendar
from portal.compliance.calendar_forms import CancelPeriodForm, EndPeriodForm, PeriodForm
from portal.errors import NotFoundError, PortalError
from portal.security import current_actor, roles_required

bp = Blueprint("calendar", __name__, url_prefix="/compliance/calendar")


def _today():
    return lender_today(current_app.config["PORTAL_TIMEZONE"])


@bp.route("/", methods=["GET", "POST"])
@roles_required(*calendar.EDITORS)
def index():
    form = PeriodForm()
    today = _today()
    if form.validate_on_submit():
        try:
            period = calendar.add_period(
                actor=current_actor(),
                name=form.name.data,
                start_on=form.start_on.data,
                end_on=form.end_on.data,
                regions=form.regions.data,
                reason=form.reason.data,
            )
        except PortalError as exc:
            target = getattr(form, getattr(exc, "field", None) or "", None)
            if target is not None and hasattr(target, "errors"):
                target.errors = [*target.errors, exc.message]
            else:
                flash(exc.message, "error")
        else:
            flash(_("Restricted period “%(name)s” added.", name=period.name), "info")
            return redirect(url_for("calendar.index"))
    elif not form.is_submitted():
        form.start_on.data = today
    file_error = None
    try:
        entries = calendar.calendar_entries(today=today, file=current_app.config.get("PORTAL_RESTRICTED_PERIODS_FILE"))
    except calendar.CalendarFileError as exc:
        file_error = exc.message
        entries = calendar.calendar_entries(today=today, file=None)
    return render_template(
        "compliance/calendar.html",
        form=form,
        entries=entries,
        today=today,
        file_error=file_error,
        end_form=lambda: EndPeriodForm(formdata=None, last_day=today),
        cancel_form=lambda: CancelPeriodForm(formdata=None),
    )


@bp.post("/<int:period_id>/end")
@roles_required(*calendar.EDITORS)
def end(period_id: int):
    form = EndPeriodForm()
    if form.validate_on_submit():
        try:
            calendar.end_period(
                actor=current_actor(), period_id=period_id, last_day=form.last_day.data, note=form.note.data
            )
        except NotFoundError:
            abort(404)
        except PortalError as exc:
            flash(_("The period was not ended: %(reason)s", reason=exc.message), "error")
        else:
            flash(_("The period now ends on %(day)s.", day=form.last_day.data.isoformat()), "info")
    else:
        flash(_("Give the last day and why the period ends early."), "error")
    return redirect(url_for("calendar.index"))


@bp.post("/<int:period_id>/cancel")
@roles_required(*calendar.EDITORS)
def cancel(period_id: int):
    form = CancelPeriodForm()
    if form.validate_on_submit():
        try:
            calendar.cancel_period(actor=current_actor(), period_id=period_id, note=form.note.data, today=_today())
        except NotFoundError:
            abort(404)
        except PortalError as exc:
            flash(_("The period was not cancelled: %(reason)s", reason=exc.message), "error")
        else:
            flash(_("The period was cancelled; it stays on the calendar as cancelled."), "info")
    else:
        flash(_("Say why the period is cancelled."), "error")
    return redirect(url_for("calendar.index"))
