"""Labels of the audit trail's codes (every action tag, outcomes, sources, object types) and of its details' fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.audit.tags import AuditTag
from portal.labels import Vocabulary, label

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
    AuditTag.COMPLAINT_REGISTER: _l("complaint registered"),
    AuditTag.COMPLAINT_RESPOND: _l("complaint answered by the agency"),
    AuditTag.COMPLAINT_CLOSE: _l("complaint closed"),
    AuditTag.RESTRICTED_PERIOD_ADD: _l("restricted period added"),
    AuditTag.RESTRICTED_PERIOD_END: _l("restricted period ended"),
    AuditTag.RESTRICTED_PERIOD_CANCEL: _l("restricted period cancelled"),
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
    "manual": _l("set by hand"),
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
    "complaint": _l("complaint"),
    "restricted_period": _l("restricted period"),
    "audit_trail": _l("audit trail"),
}

# The keys services write into events' details; a key not listed here is shown as it is.
FIELD = {
    "adapter": _l("adapter"),
    "adapter_version": _l("adapter version"),
    "agency": _l("agency"),
    "all_or_nothing": _l("all or nothing"),
    "amount": _l("amount"),
    "bucket": _l("bucket"),
    "by_agency": _l("by agency"),
    "capacity": _l("capacity"),
    "case_id": _l("case"),
    "case_ref": _l("case"),
    "complaint_category": _l("category"),
    "complaint_channel": _l("received through"),
    "complaint_outcome": _l("outcome"),
    "closed_on": _l("closed on"),
    "collector_id": _l("collector"),
    "flag_cleared": _l("flag cleared"),
    "flag_set": _l("flag set"),
    "response_due_on": _l("response due"),
    "received_on": _l("received on"),
    "response_id": _l("response"),
    "length": _l("length (characters)"),
    "start": _l("first day"),
    "end": _l("last day"),
    "planned_end": _l("planned last day"),
    "regions": _l("provinces or states"),
    "changed": _l("changed"),
    "channels": _l("allowed channels"),
    "checkpoints": _l("checkpoints checked"),
    "code": _l("code"),
    "commission": _l("commission schedule"),
    "cursor": _l("page cursor"),
    "email_sha256": _l("e-mail (SHA-256)"),
    "effective_from": _l("in force from"),
    "effective_to": _l("in force until"),
    "events": _l("events"),
    "expires_at": _l("expires"),
    "failed_logins": _l("failed logins"),
    "fields": _l("fields"),
    "filename": _l("file name"),
    "filters": _l("filters"),
    "findings_total": _l("findings"),
    "first_bad_seq": _l("first bad event"),
    "flag": _l("flag"),
    "format": _l("format"),
    "full": _l("full check"),
    "inserted": _l("inserted"),
    "kind": _l("kind"),
    "label": _l("name"),
    "locale": _l("language"),
    "locked_until": _l("locked until"),
    "ok": _l("intact"),
    "outstanding_balance": _l("outstanding balance"),
    "payment_ref": _l("payment reference"),
    "phones_in_full": _l("phone numbers in full"),
    "placed": _l("placed"),
    "placed_at": _l("placed"),
    "placement_id": _l("placement"),
    "placement_term_days": _l("placement term (days)"),
    "reason": _l("reason"),
    "previous_from": _l("previously in force from"),
    "rejected": _l("rejected"),
    "role": _l("role"),
    "root": _l("root hash"),
    "root_hash": _l("root hash"),
    "row": _l("row"),
    "rows_accepted": _l("rows accepted"),
    "rows_duplicate": _l("rows already held"),
    "rows_rejected": _l("rows rejected"),
    "rows_total": _l("rows"),
    "settlement_id": _l("settlement"),
    "sha256": _l("SHA-256"),
    "since": _l("from"),
    "size": _l("size (bytes)"),
    "source": _l("source"),
    "tree_size": _l("events in the tree"),
    "type": _l("type"),
    "unchanged": _l("unchanged"),
    "until": _l("until"),
    "updated": _l("updated"),
    "upload_id": _l("upload"),
    "user_id": _l("user"),
    "view": _l("page"),
    "waiver_amount": _l("waiver"),
}
# Why something was refused or ended: login failures, rejected files, ended placements (contract 3).
REASON = {
    "unknown_email": _l("unknown e-mail"),
    "bad_password": _l("wrong password"),
    "inactive": _l("user deactivated"),
    "locked": _l("account locked"),
    "wrong_current_password": _l("wrong current password"),
    "unknown_format": _l("unknown file format"),
    "unreadable_file": _l("unreadable file"),
}
# Which reading of the trail an ``audit:events:read`` event records.
VIEW = {
    "search": _l("search"),
    "event": _l("event page"),
    "case_timeline": _l("case timeline"),
    "api": _l("API"),
    "dashboard": _l("dashboard"),
}

VOCABULARIES = (
    Vocabulary("audit_action", {str(tag): text for tag, text in ACTION.items()}),
    Vocabulary("audit_outcome", OUTCOME),
    Vocabulary("audit_source", SOURCE, closed=False),
    Vocabulary("object_type", OBJECT_TYPE, closed=False),
    Vocabulary("audit_field", FIELD, closed=False),
    Vocabulary("audit_reason", REASON, closed=False),
    Vocabulary("audit_view", VIEW, closed=False),
)

# A field whose value is a code of a vocabulary; "reason" depends on the event (a placement's end reason).
VALUE_VOCABULARY = {
    "kind": "kind",
    "flag": "flag",
    "type": "settlement_type",
    "role": "role",
    "view": "audit_view",
    "reason": "audit_reason",
    "source": "audit_source",
    "complaint_category": "complaint_category",
    "complaint_channel": "complaint_channel",
    "complaint_outcome": "complaint_outcome",
}
MONEY_FIELDS = frozenset({"amount", "outstanding_balance", "waiver_amount"})
TIME_FIELDS = frozenset(
    {"placed_at", "expires_at", "locked_until", "since", "until", "effective_from", "effective_to", "previous_from"}
)


@dataclass
class DetailField:
    """One labelled field of an event's details: ``text`` for a value, ``fields`` for a nested object."""

    key: str
    label: str
    known: bool
    text: str = ""
    fields: list[DetailField] = field(default_factory=list)


def detail_fields(
    details: Any, *, action: str = "", names: dict[tuple[str, str], str] | None = None
) -> list[DetailField]:
    """An event's details as labelled, formatted fields, in the viewer's language.

    ``names`` maps ``(object_type, id)`` to what people call the object (a case ref, a file name).
    """
    if not isinstance(details, dict):
        return []
    names = names or {}
    return [_field(str(key), value, action=action, names=names) for key, value in details.items()]


def _field(key: str, value: Any, *, action: str, names: dict[tuple[str, str], str]) -> DetailField:
    known = key in FIELD
    entry = DetailField(key=key, label=label("audit_field", key), known=known)
    if isinstance(value, dict):
        entry.fields = [_field(str(k), v, action=action, names=names) for k, v in value.items()]
        return entry
    entry.text = _value_text(key, value, action=action, names=names)
    return entry


def _value_text(key: str, value: Any, *, action: str, names: dict[tuple[str, str], str]) -> str:
    from portal.i18n import money, number, when

    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_value_text(key, item, action=action, names=names) for item in value) or "—"
    if key in ("upload_id", "case_id", "user_id"):
        object_type = key.removesuffix("_id")
        return names.get((object_type, str(value)), str(value))
    if key == "channels" and isinstance(value, str):
        return ", ".join(label("channel", c) for c in value.split(",") if c)
    if key == "reason" and action == AuditTag.PLACEMENT_END:
        return label("end_reason", value)
    if key in VALUE_VOCABULARY:
        return label(VALUE_VOCABULARY[key], value)
    if key in MONEY_FIELDS:
        try:
            return money(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if key in TIME_FIELDS and isinstance(value, str):
        try:
            return when(datetime.fromisoformat(value.replace("Z", "+00:00")), "long")
        except ValueError:
            return value
    if isinstance(value, int):
        return number(value)
    return str(value)
