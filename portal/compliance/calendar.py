"""The lender's calendar of restricted periods: kept on a page and in a configuration file, merged for the rules.

Periods on the page are never deleted: ending one early moves its last day, cancelling one that has
not started keeps it as ``cancelled``; both are audit events. Periods from the file
(``PORTAL_RESTRICTED_PERIODS_FILE``, TOML; ``examples/restricted_periods.toml``) change with the file.
``restricted_periods()`` gives the rule engine both as ``RestrictedPeriod`` values.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.compliance.calendar_models import CalendarPeriod
from portal.compliance.rules.facts import RestrictedPeriod
from portal.db import utcnow
from portal.errors import ConflictError, NotFoundError, PermissionDeniedError, PortalError, ValidationError, _l
from portal.extensions import db
from portal.security import Actor, Role
from portal.textsafety import bounded_text

# Who keeps the calendar: compliance (it decides when contact must stop), lender operations and admins.
EDITORS = (Role.COMPLIANCE, Role.LENDER_OPS, Role.ADMIN)
NAME_MAX = 200
REASON_MAX = 2000
# Provinces or states typed on the page: separated by commas (ASCII or Chinese), semicolons or 、.
_REGION_SPLIT = re.compile(r"[,，;；、\n]+")


class CalendarFileError(PortalError):
    """The configured restricted-periods file cannot be read; the rules must not run without it."""

    code = "invalid_calendar_file"
    status = 500


@dataclass(frozen=True)
class FilePeriod:
    """One ``[[period]]`` of the configuration file."""

    name: str
    start: date
    end: date
    regions: tuple[str, ...]
    reason: str


def parse_regions(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"河南, 湖北、湖南"`` -> ``["河南", "湖北", "湖南"]``; empty means nationwide."""
    items = _REGION_SPLIT.split(text) if isinstance(text, str) else list(text or ())
    seen: list[str] = []
    for item in (str(i).strip() for i in items):
        if item and item.casefold() not in {s.casefold() for s in seen}:
            seen.append(item)
    return seen


def _file_error(path: str, problem: Any) -> CalendarFileError:
    return CalendarFileError(_l("restricted periods file %(path)s: %(problem)s", path=path, problem=problem))


_FILE_CACHE: dict[str, tuple[float, list[FilePeriod]]] = {}


def load_period_file(path: str | os.PathLike[str]) -> list[FilePeriod]:
    """Read the TOML file (a list of ``[[period]]`` tables); re-read only when the file changes."""
    name = str(path)
    try:
        mtime = Path(name).stat().st_mtime
    except OSError as exc:
        raise _file_error(name, exc.strerror or "cannot be read") from exc
    cached = _FILE_CACHE.get(name)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        with open(name, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _file_error(name, exc) from exc
    entries = data.get("period", [])
    if not isinstance(entries, list):
        raise _file_error(name, "[[period]] must be a list of tables")
    periods = []
    for number, entry in enumerate(entries, start=1):
        where = f"period {number}"
        if not isinstance(entry, dict):
            raise _file_error(name, f"{where} is not a table")
        unknown = set(entry) - {"name", "start", "end", "regions", "reason"}
        if unknown:
            raise _file_error(name, f"{where}: unknown keys {', '.join(sorted(unknown))}")
        start, end, title = entry.get("start"), entry.get("end"), entry.get("name")
        if not isinstance(title, str) or not title.strip():
            raise _file_error(name, f"{where}: name is required")
        if not isinstance(start, date) or not isinstance(end, date) or hasattr(start, "hour") or hasattr(end, "hour"):
            raise _file_error(name, f"{where}: start and end must be dates (start = 2027-02-05)")
        if end < start:
            raise _file_error(name, f"{where}: end is before start")
        regions = entry.get("regions", [])
        if isinstance(regions, str):
            regions = [regions]
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise _file_error(name, f"{where}: regions must be a list of names")
        reason = str(entry.get("reason", ""))
        periods.append(FilePeriod(title.strip(), start, end, tuple(parse_regions(regions)), reason))
    _FILE_CACHE[name] = (mtime, periods)
    return periods


def _configured_file() -> str | None:
    from flask import current_app

    return current_app.config.get("PORTAL_RESTRICTED_PERIODS_FILE")


_FROM_CONFIG = object()


def restricted_periods(on: date | None = None, *, file: Any = _FROM_CONFIG) -> list[RestrictedPeriod]:
    """The lender's calendar for the rule engine: the page's periods (not cancelled) and the file's.

    With ``on``, only the periods that include that day (in any region). ``file`` defaults to
    ``PORTAL_RESTRICTED_PERIODS_FILE``; None reads no file.
    """
    path = _configured_file() if file is _FROM_CONFIG else file
    query = select(CalendarPeriod).where(CalendarPeriod.status != "cancelled")
    if on is not None:
        query = query.where(CalendarPeriod.start_on <= on, CalendarPeriod.end_on >= on)
    stored = [
        RestrictedPeriod(p.name, p.start_on, p.end_on, tuple(p.regions or ()))
        for p in db.session.execute(query.order_by(CalendarPeriod.start_on, CalendarPeriod.id)).scalars()
    ]
    configured = [
        RestrictedPeriod(p.name, p.start, p.end, p.regions)
        for p in (load_period_file(path) if path else [])
        if on is None or p.start <= on <= p.end
    ]
    return sorted(stored + configured, key=lambda p: (p.start, p.end, p.name))


def _require_editor(actor: Actor) -> None:
    if not (actor.is_system or actor.role in EDITORS):
        raise PermissionDeniedError(_l("only lender staff keep the restricted-periods calendar"))


def _event(actor: Actor, action: AuditTag, period: CalendarPeriod, **extra: Any) -> None:
    details: dict[str, Any] = {
        "label": period.name,
        "start": period.start_on.isoformat(),
        "end": period.end_on.isoformat(),
        "regions": list(period.regions or []),
        **extra,
    }
    record_event(actor=actor, action=action, object_type="restricted_period", object_id=period.id, details=details)


def add_period(
    *, actor: Actor, name: str, start_on: date, end_on: date, reason: str, regions: str | list[str] | None = None
) -> CalendarPeriod:
    """Add a period (inclusive local dates; no regions: nationwide); audited."""
    _require_editor(actor)
    title = bounded_text(name, NAME_MAX, field="name", required=True)
    why = bounded_text(reason, REASON_MAX, field="reason", required=True)
    if end_on < start_on:
        raise ValidationError(_l("the last day is before the first day"), field="end_on")
    areas = parse_regions(regions)
    if any(len(area) > 60 for area in areas):
        raise ValidationError(_l("a province or state name is at most %(count)s characters", count=60), field="regions")
    period = CalendarPeriod(
        name=title,
        start_on=start_on,
        end_on=end_on,
        planned_end_on=end_on,
        regions=areas,
        reason=why,
        status="active",
        created_by_user_id=actor.user_id,
    )
    db.session.add(period)
    db.session.flush()
    _event(actor, AuditTag.RESTRICTED_PERIOD_ADD, period, reason=why)
    db.session.commit()
    return period


def _require_period(period_id: int) -> CalendarPeriod:
    period = db.session.execute(
        select(CalendarPeriod).where(CalendarPeriod.id == period_id).with_for_update()
    ).scalar_one_or_none()
    if period is None:
        raise NotFoundError(_l("no restricted period %(id)s", id=period_id))
    return period


def end_period(*, actor: Actor, period_id: int, last_day: date, note: str) -> CalendarPeriod:
    """End a period early: ``last_day`` becomes its last day in force (from its first day to its planned end)."""
    _require_editor(actor)
    why = bounded_text(note, REASON_MAX, field="note", required=True)
    period = _require_period(period_id)
    if period.status == "cancelled":
        raise ConflictError(_l("the period was cancelled"))
    if last_day < period.start_on:
        raise ValidationError(_l("the last day is before the first day"), field="last_day")
    if last_day >= period.end_on:
        raise ValidationError(_l("the period already ends on %(day)s", day=period.end_on.isoformat()), field="last_day")
    period.end_on = last_day
    period.status = "ended"
    period.ended_by_user_id = actor.user_id
    period.ended_at = utcnow()
    period.end_note = why
    _event(actor, AuditTag.RESTRICTED_PERIOD_END, period, planned_end=period.planned_end_on.isoformat(), reason=why)
    db.session.commit()
    return period


def cancel_period(*, actor: Actor, period_id: int, note: str, today: date) -> CalendarPeriod:
    """Cancel a period that has not started yet: kept, with status ``cancelled``, and seen by no rule."""
    _require_editor(actor)
    why = bounded_text(note, REASON_MAX, field="note", required=True)
    period = _require_period(period_id)
    if period.status == "cancelled":
        raise ConflictError(_l("the period was cancelled"))
    if period.start_on <= today:
        raise ValidationError(_l("a period that has started can be ended, not cancelled"), field="note")
    period.status = "cancelled"
    period.ended_by_user_id = actor.user_id
    period.ended_at = utcnow()
    period.end_note = why
    _event(actor, AuditTag.RESTRICTED_PERIOD_CANCEL, period, reason=why)
    db.session.commit()
    return period


@dataclass(frozen=True)
class CalendarEntry:
    """A row of the calendar page: ``source`` ``page`` or ``file``; ``state`` a ``period_state`` code."""

    source: str
    state: str
    name: str
    start: date
    end: date
    regions: tuple[str, ...]
    reason: str
    period: CalendarPeriod | None = None


def _state(start: date, end: date, today: date, status: str = "active") -> str:
    if status == "cancelled":
        return "cancelled"
    if start <= today <= end:
        return "in_force"
    if today < start:
        return "upcoming"
    return "ended" if status == "ended" else "past"


def calendar_entries(*, today: date, file: str | None) -> list[CalendarEntry]:
    """Every period of both sources for the page, those in force today first, then upcoming, then the rest."""
    entries = [
        CalendarEntry(
            "page",
            _state(p.start_on, p.end_on, today, p.status),
            p.name,
            p.start_on,
            p.end_on,
            tuple(p.regions or ()),
            p.reason,
            p,
        )
        for p in db.session.execute(select(CalendarPeriod)).scalars()
    ]
    for p in load_period_file(file) if file else []:
        state = _state(p.start, p.end, today)
        entries.append(CalendarEntry("file", state, p.name, p.start, p.end, p.regions, p.reason))
    order = {"in_force": 0, "upcoming": 1, "ended": 2, "past": 2, "cancelled": 3}

    def key(entry: CalendarEntry) -> tuple[int, int, str]:
        # In force and upcoming: soonest first; the rest: most recent first.
        rank = order[entry.state]
        return rank, entry.start.toordinal() if rank < 2 else -entry.start.toordinal(), entry.name

    return sorted(entries, key=key)
