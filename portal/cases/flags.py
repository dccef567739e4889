"""Case flags as history: what the lender's file says, and what a person sets or clears by hand.

A flag holds from ``effective_from`` (None: from before the case's first contact) until
``effective_to``. The compliance rules ask whether a flag stood at a contact's time
(``CaseFlag.holds_at``), so a call made before a dispute was raised is judged as it was.
Dates are the debtor's local calendar days (the customer's timezone, else the lender's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.models import FLAGS, Case, CaseFlag, Customer
from portal.db import utcnow
from portal.errors import NotFoundError, PermissionDeniedError, ValidationError, _l
from portal.extensions import db
from portal.security import Actor, Role

REASON_MAX = 500
# Who may change a flag by hand: the lender's operations and compliance, and the system (CLI).
FLAG_EDITORS = (Role.LENDER_OPS, Role.COMPLIANCE, Role.ADMIN)


def debtor_zone(customer: Customer | None) -> ZoneInfo:
    """The debtor's own timezone where the lender's file gives one, else the lender's."""
    name = (customer.timezone if customer is not None else None) or current_app.config["PORTAL_TIMEZONE"]
    return ZoneInfo(name)


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in ``zone``, in UTC (DST-safe: the zone decides the offset)."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _event(actor: Actor, action: AuditTag, case: Case, flag: CaseFlag, **extra: Any) -> None:
    # No effective_from: the flag holds from before the case's first contact.
    details: dict[str, Any] = {"case_ref": case.case_ref, "flag": flag.flag, **extra}
    if flag.effective_from is not None:
        details["effective_from"] = flag.effective_from.isoformat()
    if flag.effective_to is not None:
        details["effective_to"] = flag.effective_to.isoformat()
    record_event(actor=actor, action=action, object_type="case", object_id=case.id, details=details)


def sync_imported_flags(actor: Actor, case: Case, wanted: dict[str, date | None], now: datetime) -> bool:
    """Make the case's open flags what the lender's file lists; return whether anything changed.

    A listed flag opens from its date (the debtor's midnight) or, undated, from before the first
    contact; a dated flag already open from another moment moves to the file's date (the lender's
    system is the record). A flag set by the file that the file no longer lists ends now; one a
    person set by hand stays until a person clears it.
    """
    zone = debtor_zone(case.customer)
    open_flags = {flag.flag: flag for flag in case.flags if flag.effective_to is None}
    changed = False
    for name in sorted(wanted):
        start = None if wanted[name] is None else start_of_day(wanted[name], zone)
        current = open_flags.get(name)
        if current is None:
            flag = CaseFlag(flag=name, effective_from=start, source="import")
            case.flags.append(flag)
            _event(actor, AuditTag.CASE_FLAG_SET, case, flag, source="import")
            changed = True
        elif current.source == "import" and current.effective_from != start:
            previous = current.effective_from
            current.effective_from = start
            _event(
                actor,
                AuditTag.CASE_FLAG_SET,
                case,
                current,
                source="import",
                **({} if previous is None else {"previous_from": previous.isoformat()}),
            )
            changed = True
    for name in sorted(open_flags.keys() - wanted.keys()):
        flag = open_flags[name]
        if flag.source != "import":
            continue
        flag.effective_to = now
        _event(actor, AuditTag.CASE_FLAG_CLEAR, case, flag, source="import")
        changed = True
    return changed


@dataclass(frozen=True)
class FlagChange:
    """What ``change_case_flag`` did: ``action`` is ``set``, ``cleared`` or ``unchanged``."""

    case_ref: str
    flag: str
    action: str
    effective_from: datetime | None
    effective_to: datetime | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_ref": self.case_ref,
            "flag": self.flag,
            "action": self.action,
            "effective_from": None if self.effective_from is None else self.effective_from.isoformat(),
            "effective_to": None if self.effective_to is None else self.effective_to.isoformat(),
            "reason": self.reason,
        }


def change_case_flag(
    *,
    actor: Actor,
    case_ref: str,
    flag: str,
    reason: str,
    from_day: date | None = None,
    clear: bool = False,
    now: datetime | None = None,
) -> FlagChange:
    """Set a flag on a case from a day (default: today, the debtor's day), or clear it; audited.

    Setting a flag that is already open, or clearing one that is not, changes nothing. A clear
    takes effect at the start of ``from_day`` when given, else now.
    """
    if not (actor.is_system or actor.role in FLAG_EDITORS):
        raise PermissionDeniedError(_l("only lender staff change case flags"))
    if flag not in FLAGS:
        raise ValidationError(_l("unknown flag %(flag)s", flag=flag))
    # The years a database stores everywhere (docs/parameters.md); 0001-01-01 in Shanghai is before UTC's first day.
    if from_day is not None and not 1900 <= from_day.year <= 9000:
        raise ValidationError(_l("the day must fall between the years 1900 and 9000"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_l("a reason is required"))
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise ValidationError(_l("the reason must be at most %(count)s characters of text", count=REASON_MAX))
    case = db.session.execute(
        select(Case)
        .where(Case.case_ref == case_ref)
        .options(selectinload(Case.flags), selectinload(Case.customer))
        .with_for_update()
    ).scalar_one_or_none()
    if case is None:
        raise NotFoundError(_l("no case %(case_ref)s", case_ref=case_ref))
    now = now or utcnow()
    zone = debtor_zone(case.customer)
    moment = start_of_day(from_day, zone) if from_day is not None else None
    current = next((f for f in case.flags if f.flag == flag and f.effective_to is None), None)
    if clear:
        if current is None:
            return FlagChange(case.case_ref, flag, "unchanged", None, None, reason)
        end = moment or now
        if current.effective_from is not None and end < current.effective_from:
            raise ValidationError(_l("the flag cannot end before it took effect"))
        current.effective_to = end
        current.reason = reason
        _event(actor, AuditTag.CASE_FLAG_CLEAR, case, current, source="manual", reason=reason)
        result = FlagChange(case.case_ref, flag, "cleared", current.effective_from, end, reason)
    else:
        if current is not None:
            return FlagChange(case.case_ref, flag, "unchanged", current.effective_from, None, reason)
        start = moment or start_of_day(now.astimezone(zone).date(), zone)
        created = CaseFlag(flag=flag, effective_from=start, source="manual", reason=reason)
        case.flags.append(created)
        db.session.flush()
        _event(actor, AuditTag.CASE_FLAG_SET, case, created, source="manual", reason=reason)
        result = FlagChange(case.case_ref, flag, "set", start, None, reason)
    db.session.commit()
    return result
