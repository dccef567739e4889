"""Domain errors raised by services; views, the API and the CLI map them to a status or exit code."""

from __future__ import annotations


class PortalError(Exception):
    """Base of every error a service raises on purpose. ``code`` is the API's snake_case code."""

    code = "invalid_request"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFoundError(PortalError):
    code = "not_found"
    status = 404


class PermissionDeniedError(PortalError):
    code = "forbidden"
    status = 403


class ValidationError(PortalError):
    code = "invalid_content"
    status = 422

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class ConflictError(PortalError):
    code = "conflict"
    status = 409


class FileFormatError(PortalError):
    """A file that cannot be read at all: wrong encoding, missing columns, not a table."""

    code = "unreadable_file"
    status = 422
