"""The rule engine: judge contacts against the profile's rules, and the pre-contact check (contract 4.5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portal.compliance.rules.facts import PROFILES, AgencyContract, Case, Contact, ProposedContact, RestrictedPeriod
from portal.compliance.rules.history import History, LocalDays
from portal.compliance.rules.params import Params, RuleParameterError, resolve_params
from portal.compliance.rules.registry import RuleRegistry
from portal.compliance.rules.rule import Rule, RuleContext
from portal.compliance.rules.verdicts import Verdict
from portal.compliance.rules.wordlists import WordLists
from portal.plugins.records import N_

CHECK_HORIZON = timedelta(days=60)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer of the pre-contact check: ``allowed``, the verdicts it would raise, ``next_allowed_at`` (UTC)."""

    allowed: bool
    verdicts: tuple[Verdict, ...]
    next_allowed_at: datetime | None


class RuleEngine:
    """The rules of one profile with their parameters resolved, ready to judge plain data.

    ``rules``: typically ``registry.for_profile(profile)``. ``parameters``: the lender's
    overrides, ``{rule_id: {parameter: value}}``, checked now (an unknown rule or parameter, or a
    value of the wrong type, raises RuleParameterError at once, so a bad configuration stops the
    portal at startup). ``lender_timezone``: for debtors whose own zone is unknown.
    ``calendar``: the lender's restricted periods. ``wordlists``: the prohibited words (the
    built-in lists when None).
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        profile: str = "CN",
        lender_timezone: str = "Asia/Shanghai",
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        calendar: Iterable[RestrictedPeriod] = (),
        wordlists: WordLists | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown rule profile {profile!r}; use one of {', '.join(PROFILES)}")
        self.profile = profile
        self.rules: tuple[Rule, ...] = tuple(rule for rule in rules if profile in rule.profiles)
        self.lender_days = LocalDays(lender_timezone)
        self.calendar = tuple(calendar)
        self.wordlists = wordlists if wordlists is not None else WordLists.load()
        self.configured: dict[str, Mapping[str, Any]] = {}
        known = {rule.id: rule for rule in self.rules}
        for rule_id, values in (parameters or {}).items():
            if rule_id not in known:
                raise RuleParameterError(
                    N_("no rule %(rule)s runs under the %(profile)s profile"), rule=rule_id, profile=profile
                )
            self.configured[rule_id] = values
        self._params: dict[tuple[str, AgencyContract | None], Params] = {}
        self._contexts: dict[tuple[int, int, int], tuple[Case, History, LocalDays, dict[str, RuleContext]]] = {}
        for rule in self.rules:
            self.params_for(rule)
        self._days: dict[str, LocalDays] = {}

    @classmethod
    def from_registry(
        cls,
        registry: RuleRegistry,
        *,
        lender_timezone: str = "Asia/Shanghai",
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        calendar: Iterable[RestrictedPeriod] = (),
    ) -> RuleEngine:
        """The engine for the registry's profile, with the word lists its plugins and configuration name."""
        profile = registry.settings.profile
        return cls(
            registry.for_profile(profile),
            profile=profile,
            lender_timezone=lender_timezone,
            parameters=parameters,
            calendar=calendar,
            wordlists=WordLists.load(registry.wordlist_dirs),
        )

    def params_for(self, rule: Rule, contract: AgencyContract | None = None) -> Params:
        """The rule's parameters under this profile, the lender's configuration and ``contract``."""
        key = (rule.id, contract)
        found = self._params.get(key)
        if found is None:
            overrides = contract.overrides.get(rule.id) if contract is not None else None
            found = resolve_params(rule.id, rule.parameters, self.profile, self.configured.get(rule.id), overrides)
            self._params[key] = found
        return found

    def validate_contract(self, contract: AgencyContract) -> None:
        """Raise RuleParameterError when an agency's overrides are unknown, ill-typed or looser than the lender's."""
        for rule_id in contract.overrides:
            if rule_id not in {rule.id for rule in self.rules}:
                raise RuleParameterError(
                    N_("no rule %(rule)s runs under the %(profile)s profile"), rule=rule_id, profile=self.profile
                )
        for rule in self.rules:
            self.params_for(rule, contract)

    def days_for(self, case: Case) -> LocalDays:
        """The debtor's local days: the case's timezone, else the lender's."""
        if not case.timezone:
            return self.lender_days
        days = self._days.get(case.timezone)
        if days is None:
            days = self._days[case.timezone] = LocalDays(case.timezone)
        return days

    def _context(self, rule: Rule, case: Case, history: History, days: LocalDays) -> RuleContext:
        # The pipeline judges a debtor's contacts one after another with the same case and
        # history: keep their contexts instead of building one per rule per contact.
        key = (id(case), id(history), id(days))
        memo = self._contexts.get(key)
        if memo is None:
            if len(self._contexts) >= 256:
                self._contexts.clear()
            # The entry holds the objects themselves, so their ids cannot be reused while it lives.
            memo = self._contexts[key] = (case, history, days, {})
        found = memo[3].get(rule.id)
        if found is None:
            found = memo[3][rule.id] = self._new_context(rule, case, history, days)
        return found

    def _new_context(self, rule: Rule, case: Case, history: History, days: LocalDays) -> RuleContext:
        return RuleContext(
            profile=self.profile,
            params=self.params_for(rule, case.contract),
            case=case,
            history=history,
            days=days,
            calendar=self.calendar,
            wordlists=self.wordlists,
        )

    def _judge(self, rule: Rule, contact: Contact, ctx: RuleContext) -> Verdict | None:
        found = rule.evaluate(contact, ctx)
        if found is None:
            return None
        return Verdict(
            rule=rule.id,
            severity=rule.severity,
            version=rule.version,
            contact_key=contact.key,
            agency_id=contact.agency_id,
            occurred_at=contact.contacted_at,
            message=found.message,
            agency_message=found.agency_message or found.message,
            parameters=ctx.params.as_json(),
            evidence=found.evidence,
        )

    def evaluate(
        self, contact: Contact, case: Case, history: History, *, rules: Iterable[Rule] | None = None
    ) -> list[Verdict]:
        """Every verdict on ``contact`` (a contact of ``case``; ``history`` the debtor's
        contacts, it may include ``contact``)."""
        days = self.days_for(case)
        verdicts = []
        for rule in self.rules if rules is None else rules:
            if rule.evaluates_contacts:
                verdict = self._judge(rule, contact, self._context(rule, case, history, days))
                if verdict is not None:
                    verdicts.append(verdict)
        return verdicts

    def evaluate_many(
        self, contacts: Iterable[Contact], cases: Mapping[Any, Case], history: History
    ) -> dict[Any, list[Verdict]]:
        """Verdicts for several contacts of one debtor, by contact key (contacts without verdicts left out)."""
        found: dict[Any, list[Verdict]] = {}
        for contact in contacts:
            verdicts = self.evaluate(contact, cases[contact.case_id], history)
            if verdicts:
                found[contact.key] = verdicts
        return found

    # The pre-contact check ---------------------------------------------------------------------------

    def check(
        self, proposed: ProposedContact, case: Case, history: History, *, horizon: timedelta = CHECK_HORIZON
    ) -> CheckResult:
        """What ``proposed`` would raise if made at its ``at``, and when it could be made instead.

        A call (or any contact) is judged both as unanswered and as a conversation: it is
        allowed only if neither would raise a verdict. Rules that judge what a record says
        (``recording_missing``, ``prohibited_language``) are left out. ``next_allowed_at`` is the
        earliest moment at or after ``at`` when no timing rule (hours, daily caps, 7-in-7,
        after a conversation, restricted periods, attempt interval) would raise one; None when
        allowed now, when a rule that waiting does not lift is raised (cease, dispute, deceased,
        an unlisted number ...), or when no moment within ``horizon`` is clear. It is found
        from the boundaries the raised rules name (window openings, local midnights, a call
        leaving the 7-day window, a period's end), never by stepping through time.
        """
        rules = [rule for rule in self.rules if rule.evaluates_contacts and not rule.judges_record]
        days = self.days_for(case)
        raised = self._check_at(proposed, proposed.at, case, history, rules, days)
        verdicts = tuple(verdict for verdict, _rule, _contact in raised)
        if not raised:
            return CheckResult(True, (), None)
        if any(not rule.timing for _verdict, rule, _contact in raised):
            return CheckResult(False, verdicts, None)
        timing = [rule for rule in rules if rule.timing]
        moment, limit = proposed.at, proposed.at + horizon
        while raised:
            later: list[datetime] = []
            for _verdict, rule, contact in raised:
                lift = rule.lifts_at(contact, self._context(rule, case, history, days))
                if lift is None or lift <= moment:
                    return CheckResult(False, verdicts, None)
                later.append(lift)
            # Every raised rule holds until its own boundary, so none is clear before the latest.
            moment = max(later)
            if moment > limit:
                return CheckResult(False, verdicts, None)
            raised = self._check_at(proposed, moment, case, history, timing, days)
        return CheckResult(False, verdicts, moment)

    def _check_at(
        self,
        proposed: ProposedContact,
        moment: datetime,
        case: Case,
        history: History,
        rules: list[Rule],
        days: LocalDays,
    ) -> list[tuple[Verdict, Rule, Contact]]:
        """The verdicts (one per rule) of either outcome of ``proposed`` made at ``moment``, with
        the variant that raised each."""
        found: dict[str, tuple[Verdict, Rule, Contact]] = {}
        for outcome, connected in _OUTCOMES[proposed.channel == "call"]:
            contact = proposed.as_contact(moment, outcome=outcome, connected=connected)
            for rule in rules:
                if rule.id not in found:
                    verdict = self._judge(rule, contact, self._context(rule, case, history, days))
                    if verdict is not None:
                        found[rule.id] = (verdict, rule, contact)
        return list(found.values())


# A proposed call may go unanswered (no_answer counts for every cap that busy counts for, and
# more) or be a conversation; a contact by another channel may reach the person or not.
_OUTCOMES = {
    True: (("no_answer", False), ("other", True)),
    False: (("other", False), ("other", True)),
}
