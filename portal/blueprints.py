"""Registers every blueprint, the login loader and the HTML error pages."""

from __future__ import annotations

from flask import Flask, Response, render_template, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.extensions import csrf, db, login_manager


def register(app: Flask) -> None:
    from portal.accounts.models import User
    from portal.accounts.views import bp as accounts_bp
    from portal.agencies.views import bp as agencies_bp
    from portal.api import bp as api_bp
    from portal.audit.views import bp as audit_bp
    from portal.cases.views import bp as cases_bp
    from portal.complaints.views import bp as complaints_bp
    from portal.compliance.calendar_views import bp as calendar_bp
    from portal.main.views import bp as main_bp
    from portal.uploads.views import bp as uploads_bp

    @login_manager.user_loader
    def load_user(session_key: str) -> User | None:
        return db.session.execute(
            select(User).where(User.session_key == session_key, User.active.is_(True))
        ).scalar_one_or_none()

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(agencies_bp)
    app.register_blueprint(uploads_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(complaints_bp)
    app.register_blueprint(calendar_bp)
    # The API authenticates every request with a bearer token, never a cookie, so CSRF cannot apply.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)

    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, _html_error(status))
    app.register_error_handler(429, _too_many_requests)
    from portal.params import ParameterError, refuse_unstorable_text

    app.register_error_handler(ParameterError, _bad_parameter)
    app.before_request(refuse_unstorable_text)
    app.after_request(_redirect_for_script)

    from portal.limits import init_limits

    # After the blueprints: the limiter wraps the login view and attaches to the API blueprint.
    init_limits(app)


def _redirect_for_script(response: Response) -> Response:
    """A redirect answered to portal.js's upload request becomes ``X-Portal-Location`` on an empty 200.

    The script then loads that page itself; had the XMLHttpRequest followed the redirect, the page it
    fetched would have used up the flashed message before the browser showed anything.
    """
    if request.headers.get("X-Portal-Navigation") != "xhr" or response.status_code not in (301, 302, 303, 307, 308):
        return response
    location = response.headers.get("Location", "")
    answer = Response(b"", status=200)
    answer.headers["X-Portal-Location"] = location
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _kept_headers(error: object) -> list[tuple[str, str]]:
    """The headers werkzeug's exception carries (a 405's ``Allow``), without its HTML content type."""
    if not isinstance(error, HTTPException):
        return []
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def _html_error(status: int):
    def handler(error):
        headers = _kept_headers(error)
        if request.path.startswith("/api/"):
            from portal.api import error_response

            response = error_response(status, getattr(error, "description", None))
            response.headers.extend(headers)
            return response
        return render_template("error.html", status=status, error=error), status, headers

    return handler


def _bad_parameter(error):
    """A query, path or form parameter a page cannot use: its 400 page, naming the parameter."""
    if request.path.startswith("/api/"):
        from portal.api import error_response

        return error_response(400, error.text, error.code)
    return render_template("error.html", status=400, error=error, reason=error.message), 400


def _too_many_requests(error):
    """Rate limited: the contract's error body on the API, a page in the reader's language elsewhere."""
    from portal.limits import retry_after

    seconds = retry_after()
    if request.path.startswith("/api/"):
        from portal.api import rate_limited_response

        return rate_limited_response(seconds)
    page = render_template("error.html", status=429, error=error, retry_after=seconds)
    return page, 429, {"Retry-After": str(seconds)}
