"""Labels of the cases domain's codes: case status, flags, placement end reasons, loan products."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

CASE_STATUS = {"open": _l("open"), "settled": _l("settled"), "closed": _l("closed")}
FLAG = {
    "cease": _l("cease contact"),
    "dispute": _l("dispute"),
    "bankruptcy": _l("bankruptcy"),
    "deceased": _l("deceased"),
    "vulnerable": _l("vulnerable customer"),
    "complaint": _l("complaint"),
}
END_REASON = {
    "recalled": _l("recalled"),
    "expired": _l("expired"),
    "settled": _l("settled"),
    "closed": _l("closed"),
    # contract 3's recall reasons
    "paid": _l("paid"),
    "complaint": _l("complaint"),
    "performance": _l("performance"),
    "mistake": _l("placed by mistake"),
    "customer_request": _l("customer's request"),
    "other": _l("other"),
}
# Products are the lender's own codes: the known ones get a name, others show as they are.
PRODUCT = {
    "personal_loan": _l("personal loan"),
    "auto_loan": _l("auto loan"),
    "card_instalment": _l("card instalment"),
    "consumer_durable": _l("consumer durables loan"),
}

VOCABULARIES = (
    Vocabulary("case_status", CASE_STATUS),
    Vocabulary("flag", FLAG),
    Vocabulary("end_reason", END_REASON),
    Vocabulary("product", PRODUCT, closed=False),
)
