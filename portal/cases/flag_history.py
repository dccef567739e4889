"""A case's flag history as the case page shows it: every spell, newest first, with who set it and why.

``CaseFlag.reason`` keeps one reason (a clear overwrites the set's), so the reasons are read back from
the spell's own audit events, which keep both; the history itself is the append-only ``case_flags``.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.audit.tags import AuditTag
from portal.cases.models import Case
from portal.extensions import db


@dataclass(frozen=True)
class FlagSpell:
    flag: str
    effective_from: datetime | None
    effective_to: datetime | None
    source: str
    set_reason: str | None
    clear_reason: str | None

    @property
    def is_open(self) -> bool:
        return self.effective_to is None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def flag_history(case: Case) -> list[FlagSpell]:
    """Every spell of every flag on the case: open ones first, then newest start first (then latest set)."""
    events = db.session.execute(
        select(AuditEvent.action, AuditEvent.details)
        .where(
            AuditEvent.object_type == "case",
            AuditEvent.object_id == str(case.id),
            AuditEvent.action.in_([str(AuditTag.CASE_FLAG_SET), str(AuditTag.CASE_FLAG_CLEAR)]),
        )
        .order_by(AuditEvent.seq)
    ).all()
    # Two spells can share a start (set, cleared and set again the same day): events and spells are
    # both in creation order, so each spell takes the first unclaimed event with its key.
    set_reasons: dict[tuple[str, str | None], deque[str]] = defaultdict(deque)
    clear_reasons: dict[tuple[str, str | None], deque[str]] = defaultdict(deque)
    for action, details in events:
        if not isinstance(details, dict) or not details.get("reason"):
            continue
        if action == AuditTag.CASE_FLAG_SET:
            set_reasons[(details.get("flag"), details.get("effective_from"))].append(details["reason"])
        else:
            clear_reasons[(details.get("flag"), details.get("effective_to"))].append(details["reason"])

    def take(reasons: dict[tuple[str, str | None], deque[str]], key: tuple[str, str | None]) -> str | None:
        queue = reasons.get(key)
        return queue.popleft() if queue else None

    spells = [
        FlagSpell(
            flag=f.flag,
            effective_from=f.effective_from,
            effective_to=f.effective_to,
            source=f.source,
            set_reason=take(set_reasons, (f.flag, _iso(f.effective_from))),
            clear_reason=None if f.effective_to is None else take(clear_reasons, (f.flag, _iso(f.effective_to))),
        )
        for f in sorted(case.flags, key=lambda flag: flag.id)
    ]

    def order(item: tuple[int, FlagSpell]) -> tuple[bool, float, int]:
        number, spell = item
        start = spell.effective_from.timestamp() if spell.effective_from else float("-inf")
        return (not spell.is_open, -start, -number)

    return [spell for _, spell in sorted(enumerate(spells), key=order)]
