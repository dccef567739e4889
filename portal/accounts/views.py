"""Login, logout, own password and API tokens, and user management for admins and agency admins."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal import params
from portal.accounts import services
from portal.accounts.devices import login_client, remember_device
from portal.accounts.forms import ActionForm, ChangePasswordForm, LoginForm, TokenForm, UserCreateForm
from portal.agencies.services import list_agencies
from portal.errors import PortalError
from portal.extensions import db
from portal.i18n import role_label
from portal.limits import login_throttle
from portal.security import AGENCY_ROLES, Role, current_actor, is_safe_next, roles_required

bp = Blueprint("accounts", __name__)


def landing_url() -> str:
    return url_for("cases.index") if current_user.is_agency_user else url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(landing_url())
    form = LoginForm()
    status = 200
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                email=form.email.data,
                password=form.password.data,
                ip=request.remote_addr,
                user_agent=request.user_agent.string,
                throttle=login_throttle(),
                client=login_client(request, form.email.data),
            )
        except services.LoginThrottledError as exc:
            flash(
                _(
                    "Too many failed logins for this e-mail address. Try again in %(seconds)s seconds.",
                    seconds=exc.retry_after,
                ),
                "error",
            )
            status, headers = 429, {"Retry-After": str(exc.retry_after)}
        except services.LoginError:
            flash(_("E-mail or password is wrong."), "error")
        else:
            login_user(user)
            target = request.args.get("next")
            response = redirect(target if is_safe_next(target) else landing_url())
            remember_device(request, response, user.email)
            return response
    return render_template("accounts/login.html", form=form), status, headers


@bp.post("/logout")
@login_required
def logout():
    if ActionForm().validate_on_submit():
        services.log_out(actor=current_actor(), user=current_user._get_current_object())
        logout_user()
        flash(_("You have logged out."), "info")
        return redirect(url_for("accounts.login"))
    abort(400)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                actor=current_actor(),
                user=current_user._get_current_object(),
                current_password=form.current_password.data,
                new_password=form.new_password.data,
            )
        except PortalError as exc:
            flash(_("Password not changed: %(reason)s", reason=exc.message), "error")
        else:
            # The session key rotated with the password: log in again under the new one.
            login_user(current_user._get_current_object())
            flash(_("Your password has been changed."), "info")
            return redirect(landing_url())
    return render_template("accounts/password.html", form=form)


# What a token's sealed reference is for (the revoke form's URL names the token by it).
REVOKE_PURPOSE = "api_token"


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _token, new_token = services.create_token(
                actor=current_actor(), user=current_user._get_current_object(), label=form.name.data
            )
        except PortalError as exc:
            flash(exc.message, "error")
        else:
            form.name.data = ""
    tokens = services.tokens_of(current_user._get_current_object())
    return render_template(
        "accounts/tokens.html",
        form=form,
        new_token=new_token,
        tokens=tokens,
        # Sealed references, not the keys: those count every user's tokens (docs/parameters.md).
        token_refs={t.id: params.seal_cursor([t.id], purpose=REVOKE_PURPOSE) for t in tokens},
        action_form=ActionForm(),
    )


@bp.post("/account/tokens/<token_ref>/revoke")
@login_required
def revoke_token(token_ref: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        (token_id,) = params.open_cursor(token_ref, purpose=REVOKE_PURPOSE, name="token")
        services.revoke_token(actor=current_actor(), token_id=params.cursor_integer(token_id, name="token"))
    except (PortalError, ValueError):
        abort(404)
    flash(_("The token has been revoked."), "info")
    return redirect(url_for("accounts.tokens"))


# --- user management ----------------------------------------------------------------------

MANAGERS = (Role.ADMIN, Role.AGENCY_ADMIN)
# The user-management forms name a user by a sealed reference: the keys count every user of the portal.
USER_PURPOSE = "user"


def _user_id(user_ref: str) -> int:
    """The user a sealed reference names; 404 for anything this server did not seal (an old integer id too)."""
    try:
        (user_id,) = params.open_cursor(user_ref, purpose=USER_PURPOSE, name="user")
        return params.cursor_integer(user_id, name="user")
    except (PortalError, ValueError):
        abort(404)


@bp.get("/users")
@roles_required(*MANAGERS)
def users():
    query = services.users_visible_to(current_actor())
    visible = db.session.execute(query).scalars().all()
    return render_template(
        "accounts/users.html",
        users=visible,
        user_refs={u.id: params.seal_cursor([u.id], purpose=USER_PURPOSE) for u in visible},
        action_form=ActionForm(),
    )


def _user_form() -> UserCreateForm:
    form = UserCreateForm()
    roles = [r for r in Role if r in AGENCY_ROLES] if current_user.role == Role.AGENCY_ADMIN else list(Role)
    form.role.choices = [(str(r), role_label(r)) for r in roles]
    if current_user.role == Role.ADMIN:
        form.agency.choices = [("", _("— lender staff —"))] + [
            (a.code, f"{a.code} · {a.name}") for a in list_agencies()
        ]
    else:
        form.agency.choices = [(current_user.agency.code, current_user.agency.name)]
    return form


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def create_user():
    form = _user_form()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                actor=current_actor(),
                email=form.email.data,
                role=form.role.data,
                password=form.password.data,
                agency_code=form.agency.data or None,
            )
        except PortalError as exc:
            flash(exc.message, "error")
        else:
            flash(_("User %(email)s created.", email=user.email), "info")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_new.html", form=form)


@bp.post("/users/<user_ref>/<any(deactivate, activate):action>")
@roles_required(*MANAGERS)
def set_active(user_ref: str, action: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    user_id = _user_id(user_ref)
    try:
        user = services.set_user_active(actor=current_actor(), user_id=user_id, active=action == "activate")
    except PortalError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
    else:
        flash(
            _("%(email)s is now %(state)s.", email=user.email, state=_("active") if user.active else _("inactive")),
            "info",
        )
    return redirect(url_for("accounts.users"))


@bp.post("/users/<user_ref>/reset")
@roles_required(*MANAGERS)
def reset_password(user_ref: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    user_id = _user_id(user_ref)
    try:
        user, temporary = services.reset_password(actor=current_actor(), user_id=user_id)
    except PortalError:
        abort(404)
    return render_template("accounts/reset_done.html", user=user, temporary=temporary)
