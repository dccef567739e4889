"""The HTTP API (``/api/v1``): bearer-token auth, JSON errors (contract section 4)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, default_exceptions

from portal.accounts.services import authenticate_token
from portal.errors import Message, PermissionDeniedError, PortalError, _l
from portal.security import Actor, Role

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_STATUS_CODES = {
    400: "malformed_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_format",
    422: "invalid_content",
    429: "rate_limited",
}
PUBLIC_ENDPOINTS = {"api.openapi"}
# Werkzeug's own descriptions are English prose for browsers; callers get ours, in their language.
_WERKZEUG_DESCRIPTIONS = {exc.description for exc in default_exceptions.values()}


def _status_message(status: int) -> Message:
    if status == 413:
        return _l("the request is larger than %(mb)s MB", mb=current_app.config["PORTAL_MAX_UPLOAD_MB"])
    messages = {
        400: _l("the request is malformed"),
        401: _l("authentication is required"),
        403: _l("your role may not use this endpoint"),
        404: _l("not found"),
        405: _l("this method is not allowed here"),
        409: _l("the request conflicts with the current state"),
        415: _l("the format of the request is not supported"),
        422: _l("the request content is invalid"),
        429: _l("too many requests; try again later"),
    }
    return messages.get(status, _l("the request failed"))


def error_response(status: int, message: Message | str | None = None, code: str | None = None):
    """The contract's error body; the message is rendered in the caller's language (see portal.i18n)."""
    if message is None or message in _WERKZEUG_DESCRIPTIONS:
        message = _status_message(status)
    body = {"error": {"code": code or _STATUS_CODES.get(status, "error"), "message": str(message)}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="portal"'
    return response


@bp.before_request
def authenticate() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, _l("send an API token as 'Authorization: Bearer <token>'"))
    user = authenticate_token(token=token.strip())
    if user is None:
        return error_response(401, _l("the API token is unknown, revoked or belongs to an inactive user"))
    g.api_user = user
    g.actor = Actor(
        user_id=user.id,
        role=Role(user.role),
        agency_id=user.agency_id,
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
        source="api",
        timezone=user.timezone,
    )
    return None


@bp.errorhandler(PortalError)
def portal_error(error: PortalError):
    return error_response(error.status, error.text, error.code)


def rate_limited_response(seconds: int):
    response = error_response(429, _l("too many requests; try again in %(seconds)s seconds", seconds=seconds))
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    if error.code == 429:
        # Flask-Limiter's description is the limit itself ("60 per 1 minute"): callers get our words.
        from portal.limits import retry_after

        return rate_limited_response(retry_after())
    response = error_response(error.code or 500, error.description)
    # Werkzeug's headers stay: a 405's Allow, a 401's challenge, a 416's Content-Range.
    kept = [(name, value) for name, value in error.get_headers() if name not in response.headers]
    response.headers.extend(kept)
    return response


def require_roles(*roles: Role) -> None:
    if g.actor.role not in roles:
        raise PermissionDeniedError(_l("your role may not use this endpoint"))


from portal.api import account, audit, cases, findings, flags, openapi, uploads  # noqa: E402,F401  (routes register on bp)
