"""Labels of the agencies domain's codes: an agency's status."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

AGENCY_STATUS = {"active": _l("active"), "suspended": _l("suspended")}

VOCABULARIES = (Vocabulary("agency_status", AGENCY_STATUS),)
