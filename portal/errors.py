"""Domain errors raised by services; views, the API and the CLI map them to a status or exit code.

Their messages are ``Message`` values: an English msgid and its parameters, translated into the
viewer's language only when shown (see docs/messages.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import has_request_context
from flask_babel import force_locale, gettext

# The language of messages shown outside a request (commands, workers): see ``messages_in``.
_locale_outside_requests: ContextVar[str] = ContextVar("locale_outside_requests", default="en")


@contextmanager
def messages_in(locale: str) -> Iterator[None]:
    """Render messages in ``locale`` where no request says whose language to use (the CLI)."""
    token = _locale_outside_requests.set(locale)
    try:
        yield
    finally:
        _locale_outside_requests.reset(token)


class Message:
    """Text a person reads, translated each time it is turned into a ``str``.

    Services build it with ``_l("unknown agency %(code)s", code=code)``: pybabel extracts the
    msgid, and the values stay outside the translation (a case reference is never translated).
    Unlike Flask-Babel's LazyString it has no ``__html__``, so Jinja escapes it like any text,
    and it compares by msgid and values, so tests and callers can match on it.
    """

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, /, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def __str__(self) -> str:
        if has_request_context():
            return self._render()
        # No request to take the viewer's language from: the command's choice, else English.
        with force_locale(_locale_outside_requests.get()):
            return self._render()

    def _render(self) -> str:
        values = {name: str(value) if isinstance(value, Message) else value for name, value in self.params.items()}
        return gettext(self.msgid, **values)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return (self.msgid, self.params) == (other.msgid, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)


def _l(msgid: str, /, **params: Any) -> Message:
    """Mark ``msgid`` for extraction (``pybabel extract -k _l``) and translate it when shown."""
    return Message(msgid, **params)


class PortalError(Exception):
    """Base of every error a service raises on purpose. ``code`` is the API's snake_case code.

    ``message`` is the text in the current locale (a ``str``, for views, the API and the CLI);
    ``text`` keeps the untranslated ``Message`` for callers that render it later.
    """

    code = "invalid_request"
    status = 400

    def __init__(self, message: Message | str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.text = message
        if code:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.text)

    def __str__(self) -> str:
        return self.message


class NotFoundError(PortalError):
    code = "not_found"
    status = 404


class PermissionDeniedError(PortalError):
    code = "forbidden"
    status = 403


class ValidationError(PortalError):
    code = "invalid_content"
    status = 422

    def __init__(self, message: Message | str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class ConflictError(PortalError):
    code = "conflict"
    status = 409


class FileFormatError(PortalError):
    """A file that cannot be read at all: wrong encoding, missing columns, not a table."""

    code = "unreadable_file"
    status = 422
