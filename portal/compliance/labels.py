"""Labels of the compliance domain's codes: rule ids (contract 8), severities, finding statuses."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

RULE = {
    "contact_hours": _l("contact outside allowed hours"),
    "daily_conversation_cap": _l("too many conversations in a day"),
    "unanswered_attempt_cap": _l("too many unanswered attempts in a day"),
    "call_frequency_7in7": _l("more than 7 calls in 7 days"),
    "call_after_conversation": _l("call within 7 days of a conversation"),
    "third_party_contact": _l("contact with a third party"),
    "unlisted_number": _l("number not listed on the case"),
    "cease_communication": _l("contact after a request to stop"),
    "dispute_open": _l("contact while the debt is disputed"),
    "deceased_or_bankrupt": _l("contact with a deceased or bankrupt debtor"),
    "vulnerable_customer": _l("contact with a vulnerable customer"),
    "placement_inactive": _l("outside the agency's placement"),
    "channel_not_allowed": _l("channel not allowed by the contract"),
    "recording_missing": _l("recording missing"),
    "prohibited_language": _l("prohibited language"),
    "waiver_over_limit": _l("waiver over the agency's authority"),
    "restricted_period": _l("contact in a restricted period"),
    "attempt_interval": _l("attempt too soon after the previous one"),
}
SEVERITY = {"low": _l("low"), "medium": _l("medium"), "high": _l("high")}
FINDING_STATUS = {
    "open": _l("open"),
    "acknowledged": _l("acknowledged"),
    "confirmed": _l("confirmed"),
    "dismissed": _l("dismissed"),
    "superseded": _l("superseded"),
}

VOCABULARIES = (
    Vocabulary("rule", RULE),
    Vocabulary("severity", SEVERITY),
    Vocabulary("finding_status", FINDING_STATUS),
)
