"""Labels of the audit trail's codes: every action tag, outcomes, sources, object types."""

from flask_babel import lazy_gettext as _l

from portal.audit.tags import AuditTag
from portal.labels import Vocabulary

ACTION = {
    AuditTag.LOGIN_SUCCESS: _l("logged in"),
    AuditTag.LOGIN_FAILURE: _l("failed login"),
    AuditTag.LOGIN_LOCKED: _l("account locked"),
    AuditTag.LOGOUT: _l("logged out"),
    AuditTag.PASSWORD_CHANGE: _l("password changed"),
    AuditTag.PASSWORD_RESET: _l("password reset"),
    AuditTag.USER_CREATE: _l("user created"),
    AuditTag.USER_DEACTIVATE: _l("user deactivated"),
    AuditTag.USER_ACTIVATE: _l("user activated"),
    AuditTag.USER_LOCALE: _l("language changed"),
    AuditTag.TOKEN_CREATE: _l("API token created"),
    AuditTag.TOKEN_REVOKE: _l("API token revoked"),
    AuditTag.TOKEN_REFUSED: _l("API token refused"),
    AuditTag.AGENCY_CREATE: _l("agency created"),
    AuditTag.AGENCY_UPDATE: _l("agency changed"),
    AuditTag.CASE_CREATE: _l("case created"),
    AuditTag.CASE_UPDATE: _l("case changed"),
    AuditTag.CASE_FLAG_SET: _l("case flag set"),
    AuditTag.CASE_FLAG_CLEAR: _l("case flag cleared"),
    AuditTag.CASE_IMPORT: _l("cases file imported"),
    AuditTag.CASE_PII_VIEW: _l("personal data viewed"),
    AuditTag.PLACEMENT_CREATE: _l("case placed"),
    AuditTag.PLACEMENT_END: _l("placement ended"),
    AuditTag.PLACEMENT_BATCH: _l("placement batch"),
    AuditTag.UPLOAD_RECEIVE: _l("file received"),
    AuditTag.UPLOAD_DUPLICATE: _l("same file sent again"),
    AuditTag.UPLOAD_COMPLETE: _l("upload completed"),
    AuditTag.UPLOAD_REJECT: _l("upload rejected"),
    AuditTag.UPLOAD_DOWNLOAD: _l("original file downloaded"),
    AuditTag.SETTLEMENT_RECORD: _l("settlement recorded"),
    AuditTag.AUDIT_EVENTS_READ: _l("audit trail read"),
    AuditTag.AUDIT_PROOF_READ: _l("audit proof read"),
    AuditTag.AUDIT_TRAIL_VERIFY: _l("audit trail verified"),
    AuditTag.AUDIT_BUNDLE_EXPORT: _l("auditor's bundle exported"),
}
OUTCOME = {"success": _l("success"), "failure": _l("failure")}
SOURCE = {
    "web": _l("web page"),
    "api": _l("API"),
    "cli": _l("command line"),
    "import": _l("import"),
    "demo": _l("demo data"),
    "test": _l("test"),
    "worker": _l("background worker"),
    "system": _l("system"),
}
OBJECT_TYPE = {
    "user": _l("user"),
    "api_token": _l("API token"),
    "agency": _l("agency"),
    "case": _l("case"),
    "placement": _l("placement"),
    "case_file": _l("cases file"),
    "placement_file": _l("placements file"),
    "upload": _l("upload"),
    "settlement": _l("settlement"),
    "finding": _l("finding"),
    "audit_event": _l("audit event"),
    "audit_trail": _l("audit trail"),
}

VOCABULARIES = (
    Vocabulary("audit_action", {str(tag): text for tag, text in ACTION.items()}),
    Vocabulary("audit_outcome", OUTCOME),
    Vocabulary("audit_source", SOURCE, closed=False),
    Vocabulary("object_type", OBJECT_TYPE, closed=False),
)
