"""portal-client's transport: the session with retries and timeouts, the streamed multipart body,
progress on stderr and the error type every command raises."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import requests

VERSION = "0.1.0"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_ROWS_REJECTED = 4
EXIT_AUTH = 5
EXIT_INTERRUPTED = 130
# The documented exit statuses (docs/client.md has the full table; a test keeps the two in step).
# 0-3 meant the same before 4 and 5 existed, except that a refused token was 1.
EXIT_STATUSES = {
    EXIT_OK: "success; an upload completed with no rejected rows (or with some, without --fail-on-rejected)",
    EXIT_FAILED: "the upload was rejected as a whole, the portal refused the request, or --wait-timeout ran out",
    EXIT_USAGE: "usage or configuration error, or an ambiguous format (choose with --adapter)",
    EXIT_UNREACHABLE: "the portal could not be reached, even after the retries",
    EXIT_ROWS_REJECTED: "with --fail-on-rejected: the upload completed, but some of its rows were rejected",
    EXIT_AUTH: "the token was refused (unauthorized) or its role may not do this (forbidden)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
AUTH_STATUSES = frozenset({401, 403})
RETRY_STATUSES = frozenset({502, 503, 504})
CHUNK = 64 * 1024
CONNECT_TIMEOUT = 10.0
MAX_DELAY = 30.0


class ClientError(Exception):
    """Printed as ``error: <code>: <message>`` (or ``error: <message>``) and turned into an exit code."""

    def __init__(self, code: str | None, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code, self.message, self.exit_code = code, message, exit_code

    def __str__(self) -> str:
        return f"error: {self.code}: {self.message}" if self.code else f"error: {self.message}"


# --- terminal progress ---------------------------------------------------------------------------


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


class Progress:
    """A bar redrawn in place on a terminal; on a pipe or a log file, a line per 10% step or state change."""

    WIDTH = 30
    open_line = False  # a terminal bar is mid-line: an error message starts on a new line

    def __init__(self, stream: TextIO, label: str, enabled: bool = True) -> None:
        self.stream, self.label, self.enabled = stream, label, enabled
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.last_draw = 0.0
        self.last_step: tuple[int, str] | None = None

    def show(self, percent: int, detail: str = "", state: str = "") -> None:
        if not self.enabled:
            return
        percent = max(0, min(100, percent))
        if self.tty:
            now = time.monotonic()
            if percent < 100 and now - self.last_draw < 0.1:
                return
            self.last_draw = now
            filled = percent * self.WIDTH // 100
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {percent:3d}% {detail}\033[K")
            Progress.open_line = percent < 100
            if percent == 100:
                self.stream.write("\n")
        else:
            step = (percent // 10, state)
            if step == self.last_step:
                return
            self.last_step = step
            self.stream.write(f"{self.label}: {percent}% {detail}".rstrip() + "\n")
        self.stream.flush()


# --- the multipart body, streamed ----------------------------------------------------------------


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """A multipart/form-data body read from disk in chunks, with a known length (so Content-Length,
    not chunked encoding). Each iteration starts again from the top, so a retry resends it whole."""

    def __init__(
        self, path: Path, fields: dict[str, str], on_progress: Callable[[int, int], None] | None = None
    ) -> None:
        self.path, self.on_progress = path, on_progress
        boundary = "portal-client-" + secrets.token_hex(16)
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = io.BytesIO()
        for name, value in fields.items():
            head.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            head.write(value.encode() + b"\r\n")
        head.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{_quote(path.name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        self.head = head.getvalue()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.file_size = path.stat().st_size
        self.length = len(self.head) + self.file_size + len(self.tail)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        self._report(sent)
        yield self.head
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                sent += len(chunk)
                if sent > self.file_size:
                    raise OSError(f"{self.path.name} grew while it was being sent")
                yield chunk
                self._report(sent)
        if sent != self.file_size:
            raise OSError(f"{self.path.name} shrank while it was being sent")
        yield self.tail

    def _report(self, sent: int) -> None:
        if self.on_progress:
            self.on_progress(sent, self.file_size)


# --- HTTP ----------------------------------------------------------------------------------------


def describe(exc: Exception) -> str:
    text = str(exc)
    for marker, short in (
        ("refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("getaddrinfo failed", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
        ("Connection reset", "connection reset"),
        ("Connection aborted", "connection aborted"),
    ):
        if marker in text:
            return short
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return text[:200]


def api_error(response: requests.Response) -> ClientError:
    """The contract's ``{"error": {"code", "message"}}``, or the HTTP status when a proxy answered.

    A refused token or role gets its own exit status: an unattended job then tells "fix the token"
    apart from "fix the file"."""
    exit_code = EXIT_AUTH if response.status_code in AUTH_STATUSES else EXIT_FAILED
    try:
        error = response.json()["error"]
        return ClientError(str(error["code"]), str(error["message"]), exit_code)
    except (ValueError, KeyError, TypeError):
        return ClientError(f"http_{response.status_code}", response.reason or "request failed", exit_code)


class Api:
    """A requests.Session with the token, timeouts on every request and retries with backoff."""

    def __init__(self, url: str, token: str, *, timeout: float, retries: int, backoff: float, err: TextIO) -> None:
        self.base = url.rstrip("/")
        if self.base.endswith("/api/v1"):
            self.base = self.base[: -len("/api/v1")]
        self.timeout, self.retries, self.backoff, self.err = timeout, retries, backoff, err
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": f"portal-client/{VERSION} python-requests/{requests.__version__}",
            }
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send, retrying connection errors, timeouts and 502/503/504 (a re-sent upload is safe:
        the server recognises identical bytes). The caller closes the response."""
        url = f"{self.base}/api/v1{path}"
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.request(method, url, timeout=(CONNECT_TIMEOUT, self.timeout), **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = describe(exc)
                if attempt == attempts:
                    raise ClientError(
                        "unreachable",
                        f"cannot reach {self.base}: {problem} (gave up after {attempts} attempts)",
                        EXIT_UNREACHABLE,
                    ) from exc
            else:
                if response.status_code not in RETRY_STATUSES or attempt == attempts:
                    return response
                problem = f"HTTP {response.status_code} {response.reason or ''}".strip()
                response.close()
            delay = min(MAX_DELAY, self.backoff * 2 ** (attempt - 1))
            self.err.write(f"portal-client: {problem}; retrying in {delay:g}s (attempt {attempt + 1} of {attempts})\n")
            self.err.flush()
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        with self.request("GET", path, params=params) as response:
            return json_body(response)


def json_body(response: requests.Response) -> Any:
    if not response.ok:
        raise api_error(response)
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("Content-Type", "no content type")
        raise ClientError("bad_response", f"expected JSON, got {kind} (HTTP {response.status_code})") from exc
