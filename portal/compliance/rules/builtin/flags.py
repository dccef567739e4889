"""Rules that follow the case's flags as they stood at the contact's time, and a debtor's request to stop."""

from __future__ import annotations

from portal.compliance.rules.builtin import labels
from portal.compliance.rules.facts import Contact
from portal.compliance.rules.params import Parameter, PartiesKind
from portal.compliance.rules.rule import Rule, RuleContext
from portal.compliance.rules.verdicts import Explanation, Finding
from portal.plugins.records import N_


class CeaseCommunication(Rule):
    """After the debtor asked to stop (flag ``cease``, or an earlier contact ending ``cease_request``), letters only."""

    id = "cease_communication"
    severity = "high"
    title = N_("contact after a request to stop")
    parameters = (
        Parameter(
            "debtor_parties",
            PartiesKind(),
            {"CN": ("debtor",), "US": ("debtor", "spouse")},
            "whose cease_request stops contact with the debtor",
        ),
    )

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.channel == "letter":
            return None
        channel = labels.channel(contact.channel)
        if ctx.case.flag_at("cease", contact.contacted_at):
            return Finding(
                Explanation(
                    N_(
                        "contact by %(channel)s while the case is flagged cease (the debtor asked to stop); only "
                        "letters are allowed"
                    ),
                    {"channel": channel},
                )
            )
        requests = ctx.history.cease_requests(ctx.params.debtor_parties)
        if requests.position(contact) == 0:
            return None
        request = requests.items[0]
        full = Explanation(
            N_("contact by %(channel)s after the debtor asked to stop on %(day)s; only letters are allowed"),
            {"channel": channel, "day": ctx.days.day_of(request.contacted_at).isoformat()},
        )
        agency = None
        if not ctx.all_own(contact, [request]):
            agency = Explanation(
                N_("contact by %(channel)s after the debtor asked to stop being contacted; only letters are allowed"),
                {"channel": channel},
            )
        return Finding(full, agency, (request.key,))


class DisputeOpen(Rule):
    """While the debt is disputed, letters only (flag ``dispute`` at the contact's time)."""

    id = "dispute_open"
    severity = "high"
    title = N_("contact while the debt is disputed")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.channel == "letter" or not ctx.case.flag_at("dispute", contact.contacted_at):
            return None
        return Finding(
            Explanation(
                N_("contact by %(channel)s while the case is flagged dispute; only letters are allowed"),
                {"channel": labels.channel(contact.channel)},
            )
        )


class DeceasedOrBankrupt(Rule):
    """No contact with the debtor on a case flagged ``deceased`` or ``bankruptcy``."""

    id = "deceased_or_bankrupt"
    severity = "high"
    title = N_("contact with a deceased or bankrupt debtor")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.party != "debtor":
            return None
        for name in ("deceased", "bankruptcy"):
            if ctx.case.flag_at(name, contact.contacted_at):
                return Finding(
                    Explanation(
                        N_("contact with the debtor while the case is flagged %(flag)s"), {"flag": labels.flag(name)}
                    )
                )
        return None


class VulnerableCustomer(Rule):
    """Every contact with a debtor flagged ``vulnerable`` is raised for review."""

    id = "vulnerable_customer"
    severity = "low"
    title = N_("contact with a vulnerable customer")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if not ctx.case.flag_at("vulnerable", contact.contacted_at):
            return None
        return Finding(Explanation(N_("contact with a customer flagged vulnerable, for review"), {}))
