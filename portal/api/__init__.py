"""The HTTP API (``/api/v1``): bearer-token auth, JSON errors (contract section 4)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from portal.accounts.services import authenticate_token
from portal.errors import PortalError
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


def error_response(status: int, message: str | None = None, code: str | None = None):
    body = {"error": {"code": code or _STATUS_CODES.get(status, "error"), "message": message or "request failed"}}
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
        return error_response(401, "send an API token as 'Authorization: Bearer <token>'")
    user = authenticate_token(token=token.strip())
    if user is None:
        return error_response(401, "the API token is unknown, revoked or belongs to an inactive user")
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
    return error_response(error.status, error.message, error.code)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    return error_response(error.code or 500, error.description)


def require_roles(*roles: Role) -> None:
    if g.actor.role not in roles:
        from portal.errors import PermissionDeniedError

        raise PermissionDeniedError("your role may not use this endpoint")


from portal.api import account, audit, cases, findings, openapi, uploads  # noqa: E402,F401  (routes register on bp)
