"""Roles, the acting identity passed to services, role decorators and security headers."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, request
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])


class Role(enum.StrEnum):
    AGENCY_AGENT = "agency_agent"
    AGENCY_ADMIN = "agency_admin"
    LENDER_OPS = "lender_ops"
    COMPLIANCE = "compliance"
    ADMIN = "admin"

    @property
    def is_agency(self) -> bool:
        return self in AGENCY_ROLES


AGENCY_ROLES = frozenset({Role.AGENCY_AGENT, Role.AGENCY_ADMIN})
LENDER_ROLES = frozenset({Role.LENDER_OPS, Role.COMPLIANCE, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, from where: what every service receives instead of reaching for ``request``.

    ``agency_id`` is set for agency users and scopes everything they may see.
    The CLI acts as ``Actor.system()`` unless a user is named.
    """

    user_id: int | None
    role: Role | None
    agency_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    source: str = "web"
    timezone: str | None = None

    @classmethod
    def system(cls, source: str = "cli") -> Actor:
        return cls(user_id=None, role=None, agency_id=None, source=source)

    @property
    def is_agency(self) -> bool:
        return self.role is not None and self.role.is_agency

    @property
    def is_system(self) -> bool:
        return self.user_id is None


def actor_for(user, *, source: str = "web") -> Actor:
    """The Actor for a logged-in user in the current request."""
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        agency_id=user.agency_id,
        ip=request.remote_addr,
        user_agent=(request.user_agent.string or None),
        source=source,
        timezone=user.timezone,
    )


def current_actor(source: str = "web") -> Actor:
    return actor_for(current_user, source=source)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow only logged-in users with one of ``roles``; others get 403 (anonymous: login)."""
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from portal.extensions import login_manager

                return login_manager.unauthorized()
            if Role(current_user.role) not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths are followed after login (no open redirects)."""
    if not target:
        return False
    parts = urlsplit(target)
    return (
        not parts.scheme
        and not parts.netloc
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    )


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


HSTS = "max-age=31536000; includeSubDomains"


def init_security_headers(app: Flask) -> None:
    # Only in production: a developer's http://127.0.0.1 must not be pinned to HTTPS for a year.
    production = app.config.get("PORTAL_ENV") == "production"

    @app.after_request
    def set_security_headers(response):
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint and request.endpoint != "static":
            # Pages carry personal data: never cache them in shared or browser caches.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
