"""Times in portal-client's output: the portal sends UTC, people read their agency's clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.client.transport import EXIT_USAGE, ClientError

TIMEZONE_ENV = "PORTAL_CLIENT_TIMEZONE"


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 date and time with an offset (``Z`` included); None for anything else, dates too."""
    if not isinstance(value, str) or ("T" not in value and " " not in value.strip()):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def _offset(moment: datetime) -> str:
    minutes = int(moment.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def human_time(moment: datetime, zone: tzinfo) -> str:
    """``2026-12-02 20:56:59 +08:00``: the wall clock people read, with the offset that makes it exact."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {_offset(local)}"


def iso_time(moment: datetime, zone: tzinfo) -> str:
    """``2026-12-02T20:56:59+08:00``: ISO 8601 in the agency's timezone, for CSV cells that programs read too."""
    return moment.astimezone(zone).isoformat()


def load_zone(name: str, *, source: str) -> tzinfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ClientError(
            None, f"{source}: unknown timezone {name!r} (an IANA name such as Asia/Shanghai or UTC)", EXIT_USAGE
        ) from exc


def override_zone(option: str | None) -> tzinfo | None:
    """``--timezone``, else ``PORTAL_CLIENT_TIMEZONE``, else None (ask the portal). Checked before any request."""
    if option:
        return load_zone(option, source="--timezone")
    raw = os.environ.get(TIMEZONE_ENV, "").strip()
    return load_zone(raw, source=TIMEZONE_ENV) if raw else None


class Clock:
    """The timezone to show times in, asked of the portal (``GET /api/v1/me``) only once a time is shown.

    The user's own timezone, else their agency's, else the lender's: what the portal's pages use.
    A portal that cannot say (an older version, a failing request) leaves the times in UTC, with a
    note on stderr, rather than losing the output of a command that has already done its work.
    """

    def __init__(self, zone: tzinfo | None, ask: Callable[[], Any] | None, err: TextIO) -> None:
        self._zone, self._ask, self._err = zone, ask, err

    @property
    def zone(self) -> tzinfo:
        if self._zone is None:
            self._zone = self._from_portal()
        return self._zone

    def _from_portal(self) -> tzinfo:
        name = None
        if self._ask is not None:
            try:
                account = self._ask()
            except ClientError as exc:
                reason = str(exc).removeprefix("error: ")
            else:
                name = account.get("timezone") if isinstance(account, dict) else None
                reason = "its answer names no timezone"
        else:
            reason = "no portal is asked offline"
        if isinstance(name, str):
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                reason = f"this machine does not know its timezone {name!r}"
        self._err.write(
            f"portal-client: times are shown in UTC: the portal's timezone is unknown ({reason}); "
            f"set {TIMEZONE_ENV} or pass --timezone\n"
        )
        return UTC

    def human(self, value: Any) -> Any:
        moment = parse_instant(value)
        return human_time(moment, self.zone) if moment else value

    def iso(self, value: Any) -> Any:
        moment = parse_instant(value)
        return iso_time(moment, self.zone) if moment else value

    def human_fields(self, record: dict[str, Any]) -> dict[str, Any]:
        """A copy of an API object with its ``*_at`` times on the local clock (nested objects untouched:
        a receipt is signed data and is shown as it was signed)."""
        return {key: self.human(value) if key.endswith("_at") else value for key, value in record.items()}
