"""Names of parties, channels and flags as the built-in rules' messages show them (translated with the message)."""

from __future__ import annotations

from portal.compliance.rules.verdicts import Explanation
from portal.plugins.records import N_

_PARTY = {
    "debtor": N_("debtor"),
    "spouse": N_("spouse"),
    "parent": N_("parent"),
    "relative": N_("relative"),
    "colleague": N_("colleague"),
    "friend": N_("friend"),
    "emergency_contact": N_("emergency contact"),
    "third_party": N_("third party"),
    "unknown": N_("unknown"),
}
_CHANNEL = {
    "call": N_("call"),
    "sms": N_("SMS"),
    "visit": N_("visit"),
    "email": N_("email"),
    "letter": N_("letter"),
    "im": N_("instant message"),
}
_FLAG = {
    "cease": N_("cease"),
    "dispute": N_("dispute"),
    "bankruptcy": N_("bankruptcy"),
    "deceased": N_("deceased"),
    "vulnerable": N_("vulnerable"),
    "complaint": N_("complaint"),
}


def party(code: str) -> Explanation:
    return Explanation(_PARTY.get(code, code))


def channel(code: str) -> Explanation:
    return Explanation(_CHANNEL.get(code, code))


def flag(code: str) -> Explanation:
    return Explanation(_FLAG.get(code, code))


def joined(items: list[Explanation | str]) -> Explanation:
    """A comma-separated list whose items are translated one by one (the separator is not a msgid)."""
    names = {f"item{i}": item for i, item in enumerate(items)}
    return Explanation(", ".join(f"%({name})s" for name in names), names)
