"""Labels of the restricted-period calendar's codes: where a period comes from and where it stands."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

PERIOD_STATE = {
    "in_force": _l("in force today"),
    "upcoming": _l("upcoming"),
    "past": _l("past"),
    "ended": _l("ended early"),
    "cancelled": _l("cancelled"),
}
PERIOD_SOURCE = {"page": _l("added on this page"), "file": _l("configuration file")}

VOCABULARIES = (
    Vocabulary("period_state", PERIOD_STATE),
    Vocabulary("period_source", PERIOD_SOURCE),
)
