"""Labels of the accounts domain's codes: roles."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

ROLE = {
    "agency_agent": _l("Agency agent"),
    "agency_admin": _l("Agency administrator"),
    "lender_ops": _l("Lender operations"),
    "compliance": _l("Compliance officer"),
    "admin": _l("System administrator"),
}

VOCABULARIES = (Vocabulary("role", ROLE),)
