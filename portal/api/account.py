"""The API caller's own account: who they are, their agency and timezone (``GET /api/v1/me``)."""

from __future__ import annotations

from flask import current_app, g, jsonify

from portal.accounts.models import User
from portal.api import bp
from portal.i18n import api_locale


def timezone_of(user: User, *, lender_timezone: str) -> str:
    """The user's own timezone, else their agency's, else the lender's: the rule the web pages follow."""
    if user.timezone:
        return user.timezone
    if user.agency is not None and user.agency.timezone:
        return user.agency.timezone
    return lender_timezone


@bp.get("/me")
def me():
    """Every role may ask; a client needs the answer to show times as its user expects them."""
    user: User = g.api_user
    return jsonify(
        {
            "email": user.email,
            "role": user.role,
            "agency": user.agency.code if user.agency is not None else None,
            "timezone": timezone_of(user, lender_timezone=current_app.config["PORTAL_TIMEZONE"]),
            # The language this API answers the caller in (their saved choice, else Accept-Language),
            # spelled as the portal's locale setting is ("zh_CN", "en").
            "locale": api_locale(),
        }
    )
