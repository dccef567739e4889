"""Rules on whom and how: third parties, numbers not on the case, channels the contract does not allow."""

from __future__ import annotations

from portal.compliance.rules.builtin import labels
from portal.compliance.rules.facts import Contact
from portal.compliance.rules.params import CountKind, Parameter, PartiesKind
from portal.compliance.rules.rule import Rule, RuleContext
from portal.compliance.rules.verdicts import Explanation, Finding, mask_phone
from portal.plugins.records import N_


class ThirdPartyContact(Rule):
    """China Banking Association 2026 guideline and NIFA 2018: third parties only after the
    debtor could not be reached."""

    id = "third_party_contact"
    severity = "high"
    title = N_("contact with a third party")
    parameters = (
        Parameter(
            "debtor_parties",
            PartiesKind(),
            {"CN": ("debtor",), "US": ("debtor", "spouse")},
            "who counts as the debtor (US: the spouse too, 12 CFR 1006.6(a))",
        ),
        Parameter(
            "unanswered_first",
            CountKind(minimum=0, lower_is_stricter=False),
            {"CN": 3, "US": 0},
            "the last N call attempts to the debtor must all have gone unanswered first (0: no such condition)",
        ),
    )

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.party in ctx.params.debtor_parties:
            return None
        who = labels.party(contact.party)
        if contact.channel not in ("call", "sms"):
            return Finding(
                Explanation(
                    N_(
                        "contact with a third party (%(party)s) by %(channel)s: only a call or text message to a "
                        "number listed on the case for them is allowed"
                    ),
                    {"party": who, "channel": labels.channel(contact.channel)},
                )
            )
        if not contact.phone or ctx.case.phones.get(contact.phone) != contact.party:
            return Finding(
                Explanation(
                    N_("contact with a third party (%(party)s) at %(phone)s, a number not listed on the case for them"),
                    {"party": who, "phone": mask_phone(contact.phone)},
                )
            )
        required = ctx.params.unanswered_first
        if not required:
            return None
        last = ctx.history.last_attempts_to_debtor(ctx.params.debtor_parties, contact, required)
        answered = [attempt for attempt in last if not attempt.is_unanswered_attempt]
        if len(last) == required and not answered:
            return None
        if len(last) < required:
            full = Explanation(
                N_(
                    "contact with a third party (%(party)s) after only %(count)d call attempts to the debtor; "
                    "the last %(required)d must all have gone unanswered first"
                ),
                {"party": who, "count": len(last), "required": required},
            )
        else:
            full = Explanation(
                N_(
                    "contact with a third party (%(party)s) although %(answered)d of the last %(required)d "
                    "call attempts to the debtor were answered"
                ),
                {"party": who, "answered": len(answered), "required": required},
            )
        agency = None
        if not ctx.all_own(contact, last):
            agency = Explanation(
                N_(
                    "contact with a third party (%(party)s) before the last %(required)d call attempts to the "
                    "debtor had all gone unanswered"
                ),
                {"party": who, "required": required},
            )
        return Finding(full, agency, tuple(attempt.key for attempt in last))


class UnlistedNumber(Rule):
    """A call or SMS to a number that the lender did not list on the case."""

    id = "unlisted_number"
    severity = "medium"
    title = N_("number not listed on the case")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.channel not in ("call", "sms") or not contact.phone or contact.phone in ctx.case.phones:
            return None
        return Finding(
            Explanation(
                N_("%(channel)s to %(phone)s, a number not listed on the case"),
                {"channel": labels.channel(contact.channel), "phone": mask_phone(contact.phone)},
            )
        )


class ChannelNotAllowed(Rule):
    """A channel the placing agency's contract does not allow (``flask agencies create --channels``)."""

    id = "channel_not_allowed"
    severity = "medium"
    title = N_("channel not allowed by the contract")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        contract = ctx.case.contract
        if contract is None or contract.allowed_channels is None or contact.channel in contract.allowed_channels:
            return None
        return Finding(
            Explanation(
                N_("%(channel)s is not a channel the agency's contract allows (allowed: %(allowed)s)"),
                {
                    "channel": labels.channel(contact.channel),
                    "allowed": labels.joined([labels.channel(c) for c in contract.allowed_channels]),
                },
            )
        )
