"""Password policy and hashing (scrypt through Werkzeug)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from portal.errors import ValidationError, _l

MIN_LENGTH = 12


@cache
def _dummy_hash() -> str:
    """Checked for unknown e-mails, so a login takes as long either way (made on first use: scrypt is slow)."""
    return generate_password_hash("timing-equaliser-not-a-password")


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("portal.data").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_password_policy(password: str, *, email: str | None = None, min_length: int = MIN_LENGTH) -> None:
    """Raise ValidationError (field ``password``) when the password is too weak."""
    if len(password) < min_length:
        raise ValidationError(
            _l("password must be at least %(length)s characters", length=min_length), field="password"
        )
    lowered = password.lower()
    if lowered in _common_passwords():
        raise ValidationError(_l("password is on a list of commonly used passwords"), field="password")
    if len(set(password)) < 4:
        raise ValidationError(_l("password repeats too few distinct characters"), field="password")
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        raise ValidationError(_l("password must not contain your e-mail name"), field="password")


def hash_password(password: str) -> str:
    # Tests lower the scrypt cost through config; production keeps Werkzeug's default cost.
    return generate_password_hash(password, method=current_app.config.get("PORTAL_PASSWORD_HASH_METHOD", "scrypt"))


def verify_password(password_hash: str | None, password: str) -> bool:
    return check_password_hash(password_hash or _dummy_hash(), password)
