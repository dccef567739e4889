"""Password policy (zxcvbn, offline) and hashing (scrypt through Werkzeug)."""

from __future__ import annotations

from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from portal.errors import Message, ValidationError, _l

MIN_LENGTH = 12
# zxcvbn's scores: 0 too guessable ... 4 very unguessable; 3 is "safely unguessable" online.
MIN_SCORE = 3
# zxcvbn refuses longer input (its matching is quadratic); the first 72 characters judge the rest.
_ZXCVBN_MAX = 72


def _hash_method() -> str:
    # Tests lower the scrypt cost through config; production keeps Werkzeug's default cost.
    return current_app.config.get("PORTAL_PASSWORD_HASH_METHOD", "scrypt")


@cache
def _dummy_hash(method: str) -> str:
    """Checked when there is no user, with the users' own method, so that every login takes as long."""
    return generate_password_hash("timing-equaliser-not-a-password", method=method)


def _weakness(result: dict) -> Message:
    """Why zxcvbn finds a password guessable, from the longest pattern it recognised."""
    matches = [m for m in result.get("sequence", []) if m.get("pattern") != "bruteforce"]
    if not matches:
        return _l("it is short for the kinds of characters it uses")
    match = max(matches, key=lambda m: len(m.get("token", "")))
    pattern = match.get("pattern")
    if pattern == "dictionary":
        name = match.get("dictionary_name")
        if name == "passwords":
            return _l("a common password")
        if name == "user_inputs":
            return _l("it contains your e-mail address")
        if name in ("surnames", "male_names", "female_names"):
            return _l("common names")
        return _l("common words")
    return {
        "repeat": _l("repeated characters or words"),
        "sequence": _l("a sequence such as abcd or 1234"),
        "spatial": _l("a keyboard pattern such as qwerty"),
        "date": _l("a date or a year"),
        "regex": _l("a date or a year"),
    }.get(pattern, _l("a predictable pattern"))


def check_password_policy(password: str, *, email: str | None = None, min_length: int = MIN_LENGTH) -> None:
    """Raise ValidationError (field ``password``) when the password is too short or too easy to guess."""
    if len(password) < min_length:
        raise ValidationError(
            _l("password must be at least %(length)s characters", length=min_length), field="password"
        )
    name, _, domain = (email or "").lower().partition("@")
    if len(name) >= 4 and name in password.lower():
        raise ValidationError(_l("password must not contain your e-mail name"), field="password")
    from zxcvbn import zxcvbn  # loads its frequency lists (about 30,000 common passwords and words) on first use

    user_inputs = [part for part in [name, *domain.split(".")] if len(part) >= 3]
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=user_inputs)
    if result["score"] < MIN_SCORE:
        raise ValidationError(
            _l("password is too easy to guess: %(reason)s", reason=_weakness(result)), field="password"
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_hash_method())


def verify_password(password_hash: str | None, password: str) -> bool:
    return check_password_hash(password_hash or _dummy_hash(_hash_method()), password)
