"""Parameters read at the edge (query strings, paths, form fields): one parser per kind.

Every API handler and every web view that reads a parameter goes through these, so that nothing a
client sends reaches a service or the database unchecked: whole numbers are ASCII digits within
64 bits, text is bounded and free of control characters (a NUL breaks PostgreSQL), choices are
checked against their list, and cursors are sealed (encrypted and authenticated with a key derived
from the app's secret), so that a forged or edited cursor is refused before anything reads it and
no cursor tells a client an internal id. A bad value raises ``ParameterError``: the API answers
400 ``invalid_parameter``, a web page answers its 400 page; the message names the parameter in
the reader's language. See docs/parameters.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from datetime import UTC
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, request

from portal.db import PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH, REFERENCE_ALPHABET, REFERENCE_LENGTH
from portal.errors import Message, PortalError, _l

# The largest whole number a parameter may carry: what a signed 64-bit column holds.
MAX_INT = 2**63 - 1
# Text parameters (search terms, filters, codes): longer than any real one, short enough to bound the work.
MAX_TEXT = 200
MAX_CURSOR = 512
# Times outside these years are no real event's, and near the ends of datetime's range arithmetic overflows.
MIN_YEAR, MAX_YEAR = 1900, 9000
_DIGITS = re.compile(r"[0-9]{1,19}")
# C0 controls, DEL and the C1 controls; a tab, a newline or a NUL is never part of a parameter.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]+")
CURSOR_REFUSED = _l("the cursor is not one this server issued")


class ParameterError(PortalError):
    """A query, path or form parameter that is missing, malformed or out of range (HTTP 400)."""

    code = "invalid_parameter"
    status = 400

    def __init__(self, message: Message | str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


def _args(args: Mapping[str, str] | None) -> Mapping[str, str]:
    return request.args if args is None else args


def check_text(value: str, name: str, *, max_length: int = MAX_TEXT) -> str:
    """``value`` itself when it is at most ``max_length`` characters without control characters."""
    if len(value) > max_length:
        raise ParameterError(_l("%(name)s must be at most %(max)s characters", name=name, max=max_length), name=name)
    if _CONTROL.search(value):
        raise ParameterError(_l("%(name)s must not contain control characters", name=name), name=name)
    return value


def text(name: str, *, default: str = "", max_length: int = MAX_TEXT, args: Mapping[str, str] | None = None) -> str:
    """A text parameter (``default`` when absent)."""
    value = _args(args).get(name)
    return default if value is None else check_text(value, name, max_length=max_length)


def check_integer(raw: str, name: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """``raw`` as a whole number from ``minimum`` to ``maximum``: ASCII digits only (``'³'.isdigit()`` is true)."""
    raw = raw.strip()
    if not _DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        if maximum == MAX_INT:
            message = _l("%(name)s must be a whole number of at least %(min)s", name=name, min=minimum)
        else:
            message = _l("%(name)s must be a whole number from %(min)s to %(max)s", name=name, min=minimum, max=maximum)
        raise ParameterError(message, name=name)
    return int(raw)


def integer(
    name: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = MAX_INT,
    required: bool = False,
    args: Mapping[str, str] | None = None,
) -> int | None:
    """A whole-number parameter; absent or empty gives ``default`` (or, when ``required``, an error)."""
    raw = _args(args).get(name, "")
    if not raw.strip():
        if required:
            raise ParameterError(_l("%(name)s is required", name=name), name=name)
        return default
    return check_integer(raw, name, minimum=minimum, maximum=maximum)


def limit(*, default: int, maximum: int, name: str = "limit", args: Mapping[str, str] | None = None) -> int:
    """A page size from 1 to ``maximum``."""
    value = integer(name, default=default, minimum=1, maximum=maximum, args=args)
    assert value is not None
    return value


def choice(name: str, choices: Collection[str], *, default: str = "", args: Mapping[str, str] | None = None) -> str:
    """One of ``choices``; absent or empty gives ``default``."""
    value = _args(args).get(name) or default
    if value and value not in choices:
        check_text(value, name)
        raise ParameterError(
            _l("%(name)s must be one of %(choices)s", name=name, choices=", ".join(sorted(choices))), name=name
        )
    return value


def cursor(name: str = "cursor", *, args: Mapping[str, str] | None = None) -> str | None:
    """A cursor as the client sent it (shape only: ``open_cursor`` checks that this server sealed it)."""
    value = _args(args).get(name) or None
    if value is not None and (len(value) > MAX_CURSOR or not _CURSOR_CHARS.fullmatch(value)):
        raise ParameterError(CURSOR_REFUSED, name=name)
    return value


def public_id(value: str, *, prefix: str) -> str | None:
    """``value`` when it has the shape of a public id with ``prefix`` (see ``portal.db.new_public_id``), else None."""
    if len(value) != len(prefix) + 1 + PUBLIC_ID_LENGTH or not value.startswith(prefix + "_"):
        return None
    return value if all(c in PUBLIC_ID_ALPHABET for c in value[len(prefix) + 1 :]) else None


def reference(value: str, *, prefix: str) -> str | None:
    """``value`` in capitals when it has the shape of a reference with ``prefix`` (see
    ``portal.db.new_reference``; read out on the phone, so small letters are taken too), else None."""
    if not value.isascii() or len(value) != len(prefix) + 1 + REFERENCE_LENGTH:
        return None
    value = value.upper()
    if not value.startswith(prefix + "-"):
        return None
    return value if all(c in REFERENCE_ALPHABET for c in value[len(prefix) + 1 :]) else None


# --- sealed cursors --------------------------------------------------------------------------


def _fernet(secret: str | bytes) -> Fernet:
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    key = hashlib.sha256(b"portal cursor key\x00" + secret_bytes).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_cursor(values: list[Any], *, purpose: str) -> str:
    """``values`` (JSON) encrypted and authenticated for ``purpose``: what a client passes back as ``cursor``."""
    payload = json.dumps([purpose, values], separators=(",", ":")).encode()
    return _fernet(current_app.secret_key).encrypt(payload).decode().rstrip("=")


def open_cursor(token: str, *, purpose: str, name: str = "cursor") -> list[Any]:
    """The values ``seal_cursor`` sealed for ``purpose``; ParameterError for anything else."""
    refused = ParameterError(CURSOR_REFUSED, name=name)
    if len(token) > MAX_CURSOR or not _CURSOR_CHARS.fullmatch(token):
        raise refused
    try:
        payload = _fernet(current_app.secret_key).decrypt(token + "=" * (-len(token) % 4))
        sealed_for, values = json.loads(payload)
    except (InvalidToken, ValueError, TypeError) as exc:
        raise refused from exc
    if sealed_for != purpose or not isinstance(values, list):
        raise refused
    return values


def cursor_integer(value: Any, *, name: str = "cursor") -> int:
    """A whole number read back from a cursor (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise ParameterError(CURSOR_REFUSED, name=name)
    return value


def clean_filename(value: str | None, *, default: str = "upload") -> str:
    """A file's name as the client sent it, without control characters (kept to show, never to open a path)."""
    return _CONTROL.sub("", value or "").strip() or default


def when(name: str, timezone: str, *, end_of_day: bool = False, args: Mapping[str, str] | None = None):
    """An ISO 8601 date or time (``portal.audit.trail.parse_when``), within the years a database stores."""
    from portal.audit.trail import parse_when
    from portal.errors import ValidationError

    value = text(name, max_length=40, args=args)
    try:
        moment = parse_when(value, timezone, field_name=name, end_of_day=end_of_day)
        if moment is not None:
            moment.astimezone(UTC)  # 0001-01-01T00:00+01:00 is before the first representable moment
    except ValidationError as exc:
        raise ParameterError(exc.text, name=name) from exc
    except OverflowError as exc:  # 9999-12-31 with end_of_day
        raise ParameterError(_l("%(name)s is out of range", name=name), name=name) from exc
    if moment is not None and not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ParameterError(_l("%(name)s is out of range", name=name), name=name)
    return moment


# A NUL or a lone surrogate can be stored nowhere (PostgreSQL refuses both); other controls are the parsers' business.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def refuse_unstorable_text() -> None:
    """``before_request``: a NUL (or a lone surrogate) anywhere in the path, query, form or JSON is a 400.

    The parsers above check the parameters each view reads; this catches the fields they do not
    (a login e-mail, a form's text), before any of them reaches a query.
    """
    sources: list[tuple[str, Any]] = [(name, value) for name, value in (request.view_args or {}).items()]
    sources += list(request.args.items(multi=True))
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    ):
        sources += list(request.form.items(multi=True))
        sources += [(name, upload.filename or "") for name, upload in request.files.items(multi=True)]
    elif request.is_json:
        body = request.get_json(silent=True)
        sources.append(("body", body))
    for name, value in sources:
        if _unstorable(name) or _unstorable(value):
            raise ParameterError(_l("%(name)s must not contain control characters", name=name[:40]), name=name)
