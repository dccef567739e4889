"""What a rule declares (id, profiles, parameters, severity, version) and the context it judges in."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from portal.compliance.rules.facts import PROFILES, Case, Contact, RestrictedPeriod
from portal.compliance.rules.history import History, LocalDays
from portal.compliance.rules.params import Parameter, Params
from portal.compliance.rules.verdicts import Finding

if TYPE_CHECKING:
    from portal.compliance.rules.wordlists import WordLists

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
RULE_ID = re.compile(r"[a-z][a-z0-9_]{1,63}")


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule may look at besides the contact: all of it plain data, nothing from Flask or the database."""

    profile: str
    params: Params
    case: Case
    history: History
    days: LocalDays
    calendar: tuple[RestrictedPeriod, ...] = ()
    wordlists: WordLists | None = None

    @staticmethod
    def all_own(contact: Contact, others: Iterable[Contact]) -> bool:
        """True when every one of ``others`` was made by the agency that made ``contact``."""
        return all(other.agency_id == contact.agency_id for other in others)


class Rule:
    """A conduct rule. Subclass it (or build an instance with these attributes) and return it from ``rule_definitions``.

    ``id``: a contract 8 id, or a new one matching ``[a-z][a-z0-9_]{1,63}``; unique across plugins.
    ``profiles``: the profiles (``CN``, ``US``) it runs under. ``severity``: ``low``, ``medium``
    or ``high``. ``version``: bump it when the evaluation changes meaning, so stored verdicts say
    which version decided them. ``parameters``: typed, with a default per profile.
    ``title``: a short label marked with ``N_``. ``timing``: waiting can lift the verdict (the
    pre-contact check then asks ``lifts_at``). ``judges_record``: it judges what a record says
    (notes, a recording reference), so the pre-contact check leaves it out. ``evaluates_contacts``
    False: the id is raised elsewhere (the pipeline, the money domain) and ``evaluate`` is never called.
    """

    id: ClassVar[str]
    profiles: ClassVar[tuple[str, ...]] = PROFILES
    severity: ClassVar[str] = "medium"
    version: ClassVar[str] = "1"
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    title: ClassVar[str] = ""
    timing: ClassVar[bool] = False
    judges_record: ClassVar[bool] = False
    evaluates_contacts: ClassVar[bool] = True

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        """The finding on ``contact`` (a pure function of it, ``ctx`` and nothing else), or None."""
        raise NotImplementedError

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        """For a timing rule that finds ``contact``: the earliest later moment the same contact might not be found.

        The pre-contact check moves the proposed contact there and asks again, so an answer
        too early costs a step and one too late is a wrong ``next_allowed_at``. None: waiting
        does not help.
        """
        return None

    def __repr__(self) -> str:
        return f"<rule {self.id} v{self.version}>"


def check_rule(rule: object, plugin: str) -> str | None:
    """Why ``rule`` does not fit the contract (None when it does)."""
    if not isinstance(rule, Rule):
        return f"{rule!r} is not a portal.compliance.rules.Rule"
    rule_id = getattr(rule, "id", None)
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        return f"rule id {rule_id!r} must match {RULE_ID.pattern}"
    if not rule.profiles or not set(rule.profiles) <= set(PROFILES):
        return f"rule {rule_id!r} has profiles {rule.profiles!r}; allowed: {', '.join(PROFILES)}"
    if rule.severity not in SEVERITIES:
        return f"rule {rule_id!r} has severity {rule.severity!r}; allowed: {', '.join(SEVERITIES)}"
    for parameter in rule.parameters:
        missing = [profile for profile in rule.profiles if profile not in parameter.defaults]
        if missing:
            return f"rule {rule_id!r}: parameter {parameter.name!r} has no default for {', '.join(missing)}"
    return None


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Host configuration handed to rule plugins: the active profile and the extra word-list directories."""

    profile: str = "CN"
    wordlist_dirs: tuple[str, ...] = ()
