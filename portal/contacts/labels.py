"""Labels of contact records' codes (contract 5.1): channel, party, outcome."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

CHANNEL = {
    "call": _l("call"),
    "sms": _l("SMS"),
    "visit": _l("visit"),
    "email": _l("e-mail"),
    "letter": _l("letter"),
    "im": _l("instant message"),
}
PARTY = {
    "debtor": _l("debtor"),
    "spouse": _l("spouse"),
    "parent": _l("parent"),
    "relative": _l("relative"),
    "colleague": _l("colleague"),
    "friend": _l("friend"),
    "emergency_contact": _l("emergency contact"),
    "third_party": _l("third party"),
    "unknown": _l("unknown"),
}
OUTCOME = {
    "no_answer": _l("no answer"),
    "busy": _l("busy"),
    "wrong_number": _l("wrong number"),
    "refused": _l("refused to pay"),
    "promise_to_pay": _l("promise to pay"),
    "paid": _l("paid"),
    "dispute": _l("disputes the debt"),
    "callback": _l("call back"),
    "left_message": _l("left a message"),
    "cease_request": _l("asked to stop contact"),
    "other": _l("other"),
}

VOCABULARIES = (Vocabulary("channel", CHANNEL), Vocabulary("party", PARTY), Vocabulary("outcome", OUTCOME))
