"""Labels of the uploads domain's codes: what a file holds, an upload's status, where it came from."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

KIND = {"contacts": _l("contact records"), "settlements": _l("settlements")}
UPLOAD_STATUS = {
    "queued": _l("queued"),
    "processing": _l("processing"),
    "completed": _l("completed"),
    "rejected": _l("rejected"),
}
UPLOAD_SOURCE = {"web": _l("web page"), "api": _l("API"), "cli": _l("command line")}

VOCABULARIES = (
    Vocabulary("kind", KIND),
    Vocabulary("upload_status", UPLOAD_STATUS),
    Vocabulary("upload_source", UPLOAD_SOURCE),
)
