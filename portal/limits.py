"""Rate limits (Flask-Limiter): the login form per IP and per e-mail, the API per token and per IP.

One limiter per app, kept on ``app.extensions["portal.limiter"]``; its storage is Redis when
``PORTAL_REDIS_URL`` is set and memory otherwise. When Redis is down the limits go on in memory
(``in_memory_fallback_enabled``) rather than turning requests into errors. The policy and its
numbers are in docs/security.md.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage, Storage

from portal.accounts.devices import trusted_device
from portal.accounts.throttle import BackoffPolicy, LoginThrottle


def _submitted_email() -> str:
    return (request.form.get("email") or "").strip().lower()


def _email_key() -> str:
    # Hashed so that Redis never holds the addresses people typed.
    return "email:" + hashlib.sha256(_submitted_email().encode()).hexdigest()[:32]


def _token_key() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "ip:" + get_remote_address()


def _login_failed(response) -> bool:
    # A successful login redirects; everything else on POST /login is a failed attempt.
    return response.status_code != 302


def _email_exempt() -> bool:
    return request.method != "POST" or not _submitted_email() or trusted_device(request, _submitted_email()) is not None


def _config(name: str):
    return lambda: current_app.config[name]


def init_limits(app: Flask) -> Limiter:
    """Build the app's limiter and attach the limits; call after the blueprints are registered."""
    prefix = app.config.get("PORTAL_RATE_LIMIT_KEY_PREFIX", "portal:")
    redis_url = app.config.get("PORTAL_REDIS_URL")
    limiter = Limiter(
        get_remote_address,
        app=None,
        storage_uri=redis_url or "memory://",
        # A Redis that does not answer must not hold every request for long.
        storage_options={"socket_connect_timeout": 0.5, "socket_timeout": 0.5} if redis_url else {},
        strategy="moving-window",
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        key_prefix=prefix,
        headers_enabled=False,
    )
    limiter.init_app(app)

    login_view = app.view_functions["accounts.login"]
    login_view = limiter.limit(_config("PORTAL_RATE_LIMIT_LOGIN"), methods=["POST"])(login_view)
    login_view = limiter.limit(
        _config("PORTAL_RATE_LIMIT_LOGIN_EMAIL"),
        key_func=_email_key,
        methods=["POST"],
        exempt_when=_email_exempt,
        deduct_when=_login_failed,
    )(login_view)
    app.view_functions["accounts.login"] = login_view

    from portal.api import bp as api_bp

    limiter.limit(_config("PORTAL_RATE_LIMIT_API"), key_func=_token_key)(api_bp)
    # Calls without a valid token (missing, unknown, revoked) are counted per IP: guessing tokens is slow.
    limiter.limit(
        _config("PORTAL_RATE_LIMIT_API_ANONYMOUS"),
        key_func=get_remote_address,
        deduct_when=lambda response: response.status_code == 401,
    )(api_bp)

    app.extensions["portal.limiter"] = limiter
    app.extensions["portal.login_throttle"] = LoginThrottle(
        storage=_storage(limiter),
        policy=BackoffPolicy(
            free_failures=int(app.config["PORTAL_LOGIN_FREE_FAILURES"]),
            first_wait=int(app.config["PORTAL_LOGIN_BACKOFF_SECONDS"]),
            max_wait=int(app.config["PORTAL_LOGIN_BACKOFF_MAX_SECONDS"]),
            window=int(app.config["PORTAL_LOGIN_FAILURE_WINDOW_SECONDS"]),
        ),
        prefix=prefix,
    )
    return limiter


def _storage(limiter: Limiter) -> Storage:
    # Switched off (RATELIMIT_ENABLED = False), the limiter has no storage: the backoff counts in memory.
    return limiter.storage if limiter.initialized else MemoryStorage()


def login_throttle() -> LoginThrottle:
    return current_app.extensions["portal.login_throttle"]


def retry_after() -> int:
    """Seconds until the limit this request broke lets it through again (at least 1)."""
    limiter: Limiter | None = current_app.extensions.get("portal.limiter")
    try:
        breached = limiter.current_limit if limiter else None
        # ``window[0]``: the exact moment the window frees a slot (``reset_at`` rounds it up a second).
        reset_at = breached.window[0] if breached else None
    except Exception:  # a storage error must not turn a 429 into a 500
        reset_at = None
    if reset_at is None:
        return 60
    return max(1, math.ceil(reset_at - time.time()))
