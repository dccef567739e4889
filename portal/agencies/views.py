"""Agency administration pages (system administrators)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.agencies import services
from portal.agencies.forms import AgencyForm
from portal.errors import NotFoundError, PortalError
from portal.security import Role, current_actor, roles_required

bp = Blueprint("agencies", __name__, url_prefix="/agencies")


def _terms(form: AgencyForm) -> dict[str, object]:
    """The contract terms both forms edit, as the services take them."""
    return {
        "name": form.name.data,
        "adapter": form.adapter.data,
        "timezone": form.timezone.data,
        "capacity": form.capacity.data,
        "commission": form.commission.data,
        "channels": form.channels.data,
        "placement_term_days": form.placement_term_days.data,
    }


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    return render_template("agencies/list.html", agencies=services.list_agencies())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create():
    form = AgencyForm()
    del form.status  # a new agency starts active
    if form.validate_on_submit():
        try:
            agency = services.create_agency(actor=current_actor(), code=form.code.data, **_terms(form))
        except PortalError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Agency %(code)s created.", code=agency.code), "info")
            return redirect(url_for("agencies.index"))
    return render_template("agencies/form.html", form=form, agency=None)


@bp.route("/<code>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit(code: str):
    try:
        agency = services.require_agency(code)
    except NotFoundError:
        abort(404)
    form = AgencyForm(
        data={
            "code": agency.code,
            "name": agency.name,
            "status": agency.status,
            "timezone": agency.timezone,
            "capacity": agency.capacity,
            "placement_term_days": agency.placement_term_days,
            "commission": ",".join(f"{k}:{v}" for k, v in agency.commission_schedule.items()),
            "channels": agency.allowed_channels,
            "adapter": agency.default_adapter or "",
        }
    )
    if form.validate_on_submit():
        try:
            services.update_agency(actor=current_actor(), code=agency.code, status=form.status.data, **_terms(form))
        except PortalError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Agency %(code)s saved.", code=agency.code), "info")
            return redirect(url_for("agencies.index"))
    return render_template("agencies/form.html", form=form, agency=agency)
