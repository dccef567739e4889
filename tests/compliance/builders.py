"""Plain-data builders for the rule tests: contacts, cases, an engine per profile, verdicts by contact."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from portal.compliance.rules import Case, Contact, History, RuleEngine, Verdict, build_rule_registry, builtin

DEBTOR_PHONE = "13800138007"
SPOUSE_PHONE = "13900139001"
COLLEAGUE_PHONE = "13700137002"
US_DEBTOR_PHONE = "+14155550123"
US_SPOUSE_PHONE = "+14155550199"
SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"

REGISTRY = build_rule_registry(load_entrypoints=False, plugins=[("builtin", builtin)])
_keys = itertools.count(1)


def at(text: str, zone: str = SHANGHAI) -> datetime:
    """``"2026-11-25 10:00"`` as an aware datetime in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def contact(when: datetime | str, **fields: object) -> Contact:
    if isinstance(when, str):
        when = at(when, str(fields.pop("zone", SHANGHAI)))
    values: dict[str, object] = {
        "key": next(_keys),
        "case_id": 1,
        "customer_id": 1,
        "agency_id": "ZC",
        "channel": "call",
        "party": "debtor",
        "outcome": "no_answer",
        "phone": DEBTOR_PHONE,
        "recording_ref": "rec-1",
    }
    values.update(fields)
    return Contact(contacted_at=when, **values)  # type: ignore[arg-type]


def cn_case(**fields: object) -> Case:
    values: dict[str, object] = {
        "case_id": 1,
        "customer_id": 1,
        "phones": {DEBTOR_PHONE: "debtor", SPOUSE_PHONE: "spouse", COLLEAGUE_PHONE: "colleague"},
        "timezone": SHANGHAI,
        "region": "Zhejiang",
    }
    values.update(fields)
    return Case(**values)  # type: ignore[arg-type]


def us_case(**fields: object) -> Case:
    values: dict[str, object] = {
        "phones": {US_DEBTOR_PHONE: "debtor", US_SPOUSE_PHONE: "spouse"},
        "timezone": NEW_YORK,
        "region": "NY",
    }
    values.update(fields)
    return cn_case(**values)


def engine(profile: str = "CN", **options: object) -> RuleEngine:
    return RuleEngine(REGISTRY.for_profile(profile), profile=profile, **options)  # type: ignore[arg-type]


def judge(
    rule_engine: RuleEngine, contacts: Iterable[Contact], case: Case | None = None
) -> dict[object, list[Verdict]]:
    """Every contact judged against the history of all of them (given in any order)."""
    contacts = list(contacts)
    case = case or cn_case()
    history = History(contacts)
    return {c.key: rule_engine.evaluate(c, case, history) for c in contacts}


def flagged(rule_engine: RuleEngine, contacts: Iterable[Contact], rule: str, case: Case | None = None) -> list[object]:
    """The keys of the contacts on which ``rule`` raised a verdict, in the given order."""
    found = judge(rule_engine, contacts, case)
    return [key for key, verdicts in found.items() if any(v.rule == rule for v in verdicts)]


def verdict(rule_engine: RuleEngine, contacts: list[Contact], rule: str, case: Case | None = None) -> Verdict | None:
    """The ``rule`` verdict on the last of ``contacts``, or None."""
    found = judge(rule_engine, contacts, case)[contacts[-1].key]
    return next((v for v in found if v.rule == rule), None)
