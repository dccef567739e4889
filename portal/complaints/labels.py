"""Labels of the complaints register's codes: categories, channels, outcomes, statuses."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

CATEGORY = {
    "harassment": _l("harassment"),
    "third_party_disclosure": _l("disclosure to third parties"),
    "threat": _l("threats"),
    "wrong_debt": _l("wrong debt or amount"),
    "fees": _l("fees and charges"),
    "privacy": _l("privacy"),
    "other": _l("other"),
}
CHANNEL = {
    "phone_hotline": _l("phone hotline"),
    "regulator": _l("via a regulator"),
    "letter": _l("letter"),
    "email": _l("e-mail"),
    "app": _l("app"),
    "in_person": _l("in person"),
}
OUTCOME = {
    "upheld": _l("upheld"),
    "partly_upheld": _l("partly upheld"),
    "not_upheld": _l("not upheld"),
    "withdrawn": _l("withdrawn"),
}
STATUS = {"open": _l("being handled"), "closed": _l("closed"), "overdue": _l("overdue")}

VOCABULARIES = (
    Vocabulary("complaint_category", CATEGORY),
    Vocabulary("complaint_channel", CHANNEL),
    Vocabulary("complaint_outcome", OUTCOME),
    Vocabulary("complaint_status", STATUS),
)
