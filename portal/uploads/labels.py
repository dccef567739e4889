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
# Contract 5.4: why a row (or, at row 0, the whole file) was rejected.
ROW_ERROR = {
    "missing_field": _l("missing value"),
    "invalid_value": _l("invalid value"),
    "invalid_date": _l("invalid date"),
    "future_date": _l("date in the future"),
    "invalid_amount": _l("invalid amount"),
    "invalid_phone": _l("invalid phone number"),
    "unknown_case": _l("unknown case"),
    "case_not_assigned": _l("case not placed with you then"),
    "duplicate_payment_ref": _l("payment reference already used"),
    "exceeds_balance": _l("more than the balance"),
    "unreadable_file": _l("file cannot be read"),
    "unknown_format": _l("unknown file format"),
}
UPLOAD_SOURCE = {"web": _l("web page"), "api": _l("API"), "cli": _l("command line")}

VOCABULARIES = (
    Vocabulary("kind", KIND),
    Vocabulary("upload_status", UPLOAD_STATUS),
    Vocabulary("upload_source", UPLOAD_SOURCE),
    Vocabulary("row_error", ROW_ERROR),
)
