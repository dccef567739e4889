"""Device cookies: a browser that has logged in as an e-mail before is not throttled by others' failures.

After a successful login the browser gets a signed cookie naming (as hashes) the e-mails that have
logged in from it. Login attempts that carry it are counted per device instead of per IP address
and are exempt from the per-e-mail limit, so an attacker who knows a collector's e-mail (even from
the same office network) cannot lock the collector out of their own browser (OWASP, "Slow down
online guessing attacks with device cookies").
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Request, Response, current_app
from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "portal_device"
MAX_AGE = 180 * 24 * 3600
MAX_EMAILS = 10


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="portal.accounts.device")


def _email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:20]


def _read(request: Request) -> dict | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE)
    except BadData:  # forged, expired or unreadable: an unknown browser
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str) or not isinstance(data.get("e"), list):
        return None
    return data


def trusted_device(request: Request, email: str | None) -> str | None:
    """The device id when this browser has logged in as ``email`` before, else None."""
    data = _read(request)
    if data is None or not email:
        return None
    return data["d"] if _email_hash(email) in data["e"] else None


def login_client(request: Request, email: str | None) -> str:
    """Whom failures are counted against: the trusted device, else the IP address."""
    device = trusted_device(request, email)
    return f"device:{device}" if device else f"ip:{request.remote_addr}"


def remember_device(request: Request, response: Response, email: str) -> None:
    data = _read(request) or {"d": secrets.token_urlsafe(16), "e": []}
    others = [h for h in data["e"] if h != _email_hash(email)]
    emails = [*others[-(MAX_EMAILS - 1) :], _email_hash(email)]
    response.set_cookie(
        COOKIE,
        _serializer().dumps({"d": data["d"], "e": emails}),
        max_age=MAX_AGE,
        httponly=True,
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        samesite="Lax",
    )
