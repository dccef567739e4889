"""Rules that judge what a record says (recording, notes), and the ids raised outside contact evaluation."""

from __future__ import annotations

from portal.compliance.rules.builtin import labels
from portal.compliance.rules.facts import Contact
from portal.compliance.rules.rule import Rule, RuleContext
from portal.compliance.rules.verdicts import Explanation, Finding
from portal.plugins.records import N_

CATEGORY = {
    "threats": N_("threats"),
    "insults": N_("insults"),
    "impersonation": N_("impersonating courts, police or lawyers"),
    "disclosure": N_("disclosing the debt to others"),
}


class RecordingMissing(Rule):
    """CN: a conversation by call, or a visit, must have a recording reference."""

    id = "recording_missing"
    profiles = ("CN",)
    severity = "medium"
    judges_record = True
    title = N_("recording missing")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.recording_ref and contact.recording_ref.strip():
            return None
        if contact.channel == "visit":
            return Finding(Explanation(N_("visit without a recording reference"), {}))
        if contact.is_call and contact.is_conversation:
            return Finding(Explanation(N_("conversation by call without a recording reference"), {}))
        return None


class ProhibitedLanguage(Rule):
    """Notes with threatening, insulting, authority-impersonating or debt-disclosing words (data files)."""

    id = "prohibited_language"
    severity = "high"
    judges_record = True
    title = N_("prohibited language")

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if ctx.wordlists is None or not contact.notes:
            return None
        matches = ctx.wordlists.find(contact.notes)
        if not matches:
            return None
        categories: list[str] = list(dict.fromkeys(match.category for match in matches))
        return Finding(
            Explanation(
                N_("the notes contain prohibited words (%(categories)s): %(terms)s"),
                {
                    "categories": labels.joined([Explanation(CATEGORY.get(c, c)) for c in categories]),
                    "terms": ", ".join(f"“{match.term}”" for match in matches),
                },
            )
        )


class PlacementInactive(Rule):
    """Raised by the upload pipeline when a row's case was not placed with the agency at the row's time."""

    id = "placement_inactive"
    severity = "high"
    evaluates_contacts = False
    title = N_("outside the agency's placement")


class WaiverOverLimit(Rule):
    """Raised by the money domain when a settlement's waiver exceeds the agency's authority."""

    id = "waiver_over_limit"
    severity = "high"
    evaluates_contacts = False
    title = N_("waiver over the agency's authority")
