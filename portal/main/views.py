"""The landing redirect, the lender staff's dashboard and the language switch."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from portal.accounts.forms import ActionForm
from portal.accounts.services import set_locale
from portal.i18n import SUPPORTED_LOCALES
from portal.main.services import dashboard_figures
from portal.security import LENDER_ROLES, Role, current_actor, is_safe_next, roles_required

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    if current_user.is_agency_user:
        return redirect(url_for("cases.index"))
    return redirect(url_for("main.dashboard"))


@bp.get("/dashboard")
@roles_required(*LENDER_ROLES)
def dashboard():
    audit = current_user.role in (Role.COMPLIANCE, Role.ADMIN)
    figures = dashboard_figures(viewer_user_id=current_user.id, audit=audit, zone=current_app.config["PORTAL_TIMEZONE"])
    return render_template("main/dashboard.html", figures=figures, audit=audit)


@bp.post("/locale")
def switch_locale():
    """Works for anonymous visitors too (the login page), so it keeps the choice in the session."""
    if not ActionForm().validate_on_submit():
        abort(400)
    locale = request.form.get("locale", "")
    if locale not in SUPPORTED_LOCALES:
        abort(400)
    session["locale"] = locale
    if current_user.is_authenticated:
        set_locale(actor=current_actor(), user=current_user._get_current_object(), locale=locale)
    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else url_for("main.index"))
