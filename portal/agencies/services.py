"""Agencies: creating them and changing their contract terms."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from portal.agencies.models import BUCKETS, CHANNELS, Agency
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError, _l
from portal.extensions import db
from portal.security import Actor, Role


def parse_commission(text: str | None) -> dict[str, str]:
    """``"M1:0.08,M2:0.12"`` -> ``{"M1": "0.08", "M2": "0.12"}`` (rates between 0 and 1)."""
    schedule: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        bucket, _, rate = part.partition(":")
        bucket = bucket.strip()
        if bucket not in BUCKETS:
            raise ValidationError(
                _l(
                    "unknown bucket '%(bucket)s' in commission (use %(buckets)s)",
                    bucket=bucket,
                    buckets=", ".join(BUCKETS),
                ),
                field="commission",
            )
        try:
            value = Decimal(rate.strip())
        except InvalidOperation as exc:
            raise ValidationError(
                _l("commission rate '%(rate)s' for %(bucket)s is not a number", rate=rate.strip(), bucket=bucket),
                field="commission",
            ) from exc
        if not Decimal(0) <= value <= Decimal(1):
            raise ValidationError(
                _l("commission rate for %(bucket)s must be between 0 and 1", bucket=bucket), field="commission"
            )
        schedule[bucket] = f"{value:f}"
    return schedule


def parse_channels(text: str | list[str] | None) -> list[str]:
    items = text if isinstance(text, list) else (text or "").split(",")
    channels = [c.strip() for c in items if c.strip()]
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ValidationError(
            _l(
                "unknown channel(s) %(channels)s (use %(known)s)",
                channels=", ".join(unknown),
                known=", ".join(CHANNELS),
            ),
            field="channels",
        )
    return channels or list(CHANNELS)


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_l("unknown timezone '%(name)s'", name=name), field="timezone") from exc
    return name


def get_agency_by_code(code: str) -> Agency | None:
    return db.session.execute(select(Agency).where(Agency.code == code)).scalar_one_or_none()


def require_agency(code: str) -> Agency:
    agency = get_agency_by_code(code)
    if agency is None:
        raise NotFoundError(_l("unknown agency '%(code)s'", code=code))
    return agency


def list_agencies() -> list[Agency]:
    return list(db.session.execute(select(Agency).order_by(Agency.code)).scalars())


def _require_admin(actor: Actor) -> None:
    if not (actor.is_system or actor.role == Role.ADMIN):
        raise PermissionDeniedError(_l("only administrators manage agencies"))


def create_agency(
    *,
    actor: Actor,
    code: str,
    name: str,
    adapter: str | None = None,
    timezone: str = "Asia/Shanghai",
    capacity: int | None = None,
    commission: str | None = None,
    channels: str | list[str] | None = None,
    placement_term_days: int = 90,
) -> Agency:
    _require_admin(actor)
    code = code.strip().upper()
    if not code or not code.replace("_", "").isalnum() or len(code) > 20:
        raise ValidationError(_l("agency code must be 1-20 letters, digits or _"), field="code")
    if not name.strip():
        raise ValidationError(_l("agency name is required"), field="name")
    if capacity is not None and capacity < 0:
        raise ValidationError(_l("capacity must be 0 or more"), field="capacity")
    if placement_term_days < 1:
        raise ValidationError(_l("placement term must be at least one day"), field="placement_term_days")
    if get_agency_by_code(code) is not None:
        raise ConflictError(_l("agency %(code)s already exists", code=code))
    agency = Agency(
        code=code,
        name=name.strip(),
        default_adapter=adapter or None,
        timezone=_check_timezone(timezone),
        capacity=capacity,
        commission_schedule=parse_commission(commission),
        allowed_channels=parse_channels(channels),
        placement_term_days=placement_term_days,
    )
    db.session.add(agency)
    db.session.flush()
    record_event(
        actor=actor,
        action=AuditTag.AGENCY_CREATE,
        object_type="agency",
        object_id=agency.id,
        agency_id=agency.id,
        details={
            "code": code,
            "capacity": capacity,
            "channels": agency.allowed_channels,
            "commission": agency.commission_schedule,
            "placement_term_days": placement_term_days,
        },
    )
    db.session.commit()
    return agency


def update_agency(
    *,
    actor: Actor,
    code: str,
    name: str,
    status: str,
    adapter: str | None,
    timezone: str,
    capacity: int | None,
    commission: str | None,
    channels: str | list[str] | None,
    placement_term_days: int,
) -> Agency:
    _require_admin(actor)
    agency = require_agency(code)
    if status not in ("active", "suspended"):
        raise ValidationError(_l("status must be active or suspended"), field="status")
    new_values = {
        "name": name.strip(),
        "status": status,
        "default_adapter": adapter or None,
        "timezone": _check_timezone(timezone),
        "capacity": capacity,
        "commission_schedule": parse_commission(commission),
        "allowed_channels": parse_channels(channels),
        "placement_term_days": placement_term_days,
    }
    changes = {k: v for k, v in new_values.items() if getattr(agency, k) != v}
    if not changes:
        return agency
    for key, value in changes.items():
        setattr(agency, key, value)
    record_event(
        actor=actor,
        action=AuditTag.AGENCY_UPDATE,
        object_type="agency",
        object_id=agency.id,
        agency_id=agency.id,
        details={"changed": changes},
    )
    db.session.commit()
    return agency
