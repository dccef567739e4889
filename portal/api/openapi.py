"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document of the API, every response object with all its fields.

Response objects are closed (``additionalProperties: false``) and list every key they always
carry as ``required``: tests/api/test_openapi.py calls each endpoint with real data and
validates the answer against this document, so a field added to a response without being
added here fails the suite, naming the endpoint and the field.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from portal.api import bp
from portal.api.audit import FILTER_LENGTHS
from portal.api.cases import MAX_CASE_REF, MAX_QUERY
from portal.api.findings import MAX_RULE
from portal.api.uploads import MAX_ADAPTER
from portal.cases.flags import REASON_MAX
from portal.cases.models import CASE_STATUSES, END_REASONS, FLAGS
from portal.cases.services import BUCKET_CHOICES, MAX_PAGE_SIZE, PLACEMENT_VIEWS, SORTS
from portal.compliance.models import FINDING_ID_PREFIX, FINDING_STATUSES
from portal.db import PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH
from portal.params import MAX_CURSOR, MAX_INT
from portal.plugins.records import CHANNELS, KINDS, OUTCOMES, PARTIES
from portal.uploads.models import UPLOAD_ID_PREFIX, UPLOAD_STATUSES

Schema = dict[str, Any]

MONEY: Schema = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "two decimals", "examples": ["1234.50"]}
TIME: Schema = {"type": "string", "format": "date-time"}
HEX: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
COUNT: Schema = {"type": "integer", "minimum": 0}
TEXT: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
CURSOR_NEXT: Schema = {"type": ["string", "null"], "description": "pass as `cursor` for the next page; null: last page"}
# Text parameters carry no control characters (a NUL, a tab, a newline): portal.params refuses them with a 400.
PLAIN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
UPLOAD_PUBLIC_ID: Schema = {
    "type": "string",
    "pattern": f"^{UPLOAD_ID_PREFIX}_[{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}}$",
    "description": "the upload's opaque public id",
    "examples": [f"{UPLOAD_ID_PREFIX}_" + PUBLIC_ID_ALPHABET[:PUBLIC_ID_LENGTH]],
}


def nullable(schema: Schema) -> Schema:
    """``schema`` or JSON null."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    widened = {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}
    if "enum" in schema:
        widened["enum"] = [*schema["enum"], None]
    return widened


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(required: dict[str, Schema], optional: dict[str, Schema] | None = None, description: str = "") -> Schema:
    """An object with exactly these fields: ``required`` always present (maybe null), ``optional`` sometimes."""
    schema: Schema = {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }
    if description:
        schema["description"] = description
    return schema


def page_of(item: str) -> Schema:
    return closed({"items": {"type": "array", "items": ref(item)}, "next": CURSOR_NEXT})


def enum(values: tuple[str, ...] | frozenset[str] | list[str]) -> Schema:
    return {"type": "string", "enum": sorted(values) if isinstance(values, frozenset) else list(values)}


def text(max_length: int) -> Schema:
    """A text parameter: at most ``max_length`` characters, none of them a control character."""
    return {"type": "string", "maxLength": max_length, "pattern": PLAIN}


def param(name: str, description: str, schema: Schema | None = None, *, where: str = "query") -> Schema:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or text(200),
    }


def limit_param(default: int) -> Schema:
    return param(
        "limit",
        f"page size, 1 to {MAX_PAGE_SIZE} (default {default})",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": default},
    )


LIMIT = limit_param(50)
CURSOR = param(
    "cursor",
    "the `next` value of the previous page (opaque; sealed by the server)",
    {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR, "pattern": "^[A-Za-z0-9_-]+$"},
)
TREE_SIZE: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_INT}


def json_response(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_MEANINGS = {
    400: "a parameter is missing, malformed or out of range (`invalid_parameter`, naming it)",
    401: "no token, or an unknown or revoked one",
    403: "the caller's role may not use this endpoint",
    404: "not found, or not the caller's to see",
    405: "the method is not allowed here; `Allow` lists those that are",
    413: "the request body is too large",
    422: "the content is invalid",
    429: "rate limited; `Retry-After` says when to try again",
    503: "the database or queue cannot be reached for now (`service_unavailable`); send the same bytes again shortly",
}
# Every operation may answer these: a bad parameter, a missing token, a wrong method, a rate limit.
COMMON_ERRORS = (400, 401, 405, 429)


def errors(*statuses: int, public: bool = False) -> dict[str, Schema]:
    wanted = sorted({*statuses, *COMMON_ERRORS} - ({401} if public else set()))
    return {str(status): json_response(ERROR_MEANINGS[status], ref("Error")) for status in wanted}


# --- objects -------------------------------------------------------------------------------

ERROR = closed(
    {
        "error": closed(
            {
                "code": {"type": "string", "description": "snake_case; see docs/reference/http-api.md"},
                "message": {"type": "string", "description": "in the caller's language"},
            },
            {
                "candidates": {
                    "type": "array",
                    "description": "ambiguous_format only: the formats that read the file equally well",
                    "items": closed(
                        {"adapter": TEXT, "format": TEXT, "confidence": {"type": "number", "minimum": 0, "maximum": 1}}
                    ),
                }
            },
        )
    }
)

CASE_FIELDS: dict[str, Schema] = {
    "case_ref": TEXT,
    "status": enum(CASE_STATUSES),
    "bucket": enum(BUCKET_CHOICES),
    "days_past_due": COUNT,
    "outstanding_balance": MONEY,
    "currency": {"type": "string", "minLength": 3, "maxLength": 3},
    "placed_at": nullable(TIME),
    "placement_expires_at": nullable(TIME),
    "agency": nullable({"type": "string", "description": "the agency holding the case, as the caller may see it"}),
    "balance_after_reported": {**MONEY, "description": "outstanding balance less every settlement reported so far"},
    "flags": {"type": "array", "items": enum(FLAGS), "description": "the flags in force now"},
}
CASE = closed(CASE_FIELDS, description="a case as the caller may see it, with its balance after reported payments")

DEBTOR = closed(
    {
        "name": {"type": "string", "description": "agencies: the family name and '*' (张**)"},
        "id_number": {"type": "string", "description": "agencies: first 3 and last 4 characters"},
        "province": nullable(TEXT),
        "timezone": nullable(TEXT),
    },
    {"customer_id": {"type": "string", "description": "lender staff only"}},
)
PHONE = closed(
    {"number": {"type": "string", "description": "in full only while the case is placed with the caller's agency"}}
    | {"party": enum(PARTIES)}
)
PLACEMENT = closed(
    {
        "agency": TEXT,
        "placed_at": TIME,
        "expires_at": TIME,
        "ended_at": nullable(TIME),
        "end_reason": nullable(enum(END_REASONS)),
    }
)
CASE_DETAIL = closed(
    CASE_FIELDS
    | {
        "loan_ref": TEXT,
        "product": TEXT,
        "principal": MONEY,
        "flags_since": {
            "type": "object",
            "description": "flag -> when it took effect; null: from before the case's first contact",
            "propertyNames": enum(FLAGS),
            "additionalProperties": nullable(TIME),
        },
        "debtor": DEBTOR,
        "phones": {"type": "array", "items": PHONE},
        "placement": nullable(PLACEMENT),
        "contacts_count": COUNT,
        "settled_amount": {**MONEY, "description": "the settlements the caller may see (an agency: its own)"},
    },
    description="a case with its debtor (masked for agencies), phones, placement and activity; the view is audited",
)
CONTACT = closed(
    {
        "case_ref": TEXT,
        "contacted_at": TIME,
        "channel": enum(CHANNELS),
        "party": enum(PARTIES),
        "phone": nullable(TEXT),
        "outcome": enum(OUTCOMES),
        "connected": BOOL,
        "duration_s": nullable(COUNT),
        "promise_amount": nullable(MONEY),
        "promise_date": nullable({"type": "string", "format": "date"}),
        "collector_id": TEXT,
        "recording_ref": nullable(TEXT),
        "notes": nullable(TEXT),
        "upload_id": nullable(UPLOAD_PUBLIC_ID),
    },
    description="a stored contact (docs/reference/records.md)",
)
ROW_ERROR = closed(
    {
        "row": {"type": "integer", "minimum": 0, "description": "1-based data row; 0 for the whole file"},
        "field": nullable(TEXT),
        "code": TEXT,
        "message": {"type": "string", "description": "in the caller's language"},
        "column": nullable({"type": "string", "description": "the partner file's own column heading"}),
        "line": nullable({"type": "integer", "description": "the physical line (or sheet row) in the file"}),
    }
)
CHECKPOINT = closed(
    {
        "tree_size": COUNT,
        "root_hash": HEX,
        "timestamp": TIME,
        "key_id": TEXT,
        "public_key": {"type": "string", "description": "base64 raw Ed25519"},
        "signature": {"type": "string", "description": "base64 Ed25519 over the JCS bytes without `signature`"},
    },
    description="a signed tree head (docs/audit.md)",
)
AUDIT_EVENT = closed(
    {
        "seq": {"type": "integer", "minimum": 1},
        "occurred_at": TIME,
        "actor_user_id": nullable({"type": "integer"}),
        "actor_role": nullable(TEXT),
        "agency_id": nullable({"type": "integer"}),
        "source": TEXT,
        "ip": nullable(TEXT),
        "user_agent": nullable(TEXT),
        "action": {"type": "string", "description": "an audit tag, source:subject:action"},
        "object_type": nullable(TEXT),
        "object_id": nullable(TEXT),
        "outcome": TEXT,
        "details": {"type": "object", "additionalProperties": True, "description": "per tag (docs/audit.md)"},
        "leaf_hash": HEX,
    },
    description="the signed leaf object (its RFC 8785 bytes make the Merkle leaf) and its leaf hash",
)
RECEIPT = closed(
    {
        "format": {"type": "string", "const": "portal-audit-receipt/1"},
        "seq": {"type": "integer", "minimum": 1},
        "leaf_hash": HEX,
        "checkpoint": ref("Checkpoint"),
        "proof": closed(
            {"seq": {"type": "integer"}, "tree_size": {"type": "integer"}, "path": {"type": "array", "items": HEX}}
        ),
    },
    {"event": {**AUDIT_EVENT, "required": [f for f in AUDIT_EVENT["required"] if f != "leaf_hash"]}},
    description="proof that the upload's completion event is in the signed audit tree (docs/audit.md)",
)
UPLOAD = closed(
    {
        "id": UPLOAD_PUBLIC_ID,
        "kind": enum(KINDS),
        "adapter": nullable(TEXT),
        "adapter_version": nullable(TEXT),
        "format": nullable(TEXT),
        "agency": TEXT,
        "filename": TEXT,
        "sha256": HEX,
        "size": COUNT,
        "status": enum(UPLOAD_STATUSES),
        "duplicate": BOOL,
        "rows_total": COUNT,
        "rows_accepted": COUNT,
        "rows_rejected": COUNT,
        "rows_duplicate": COUNT,
        "rows_processed": COUNT,
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "findings_total": COUNT,
        "created_at": TIME,
        "completed_at": nullable(TIME),
        "errors": {"type": "array", "maxItems": 100, "items": ref("RowError"), "description": "the first 100"},
    },
    {
        "receipt": ref("Receipt"),
        "note": {
            "type": "string",
            "description": "how a fault left the upload (kept queued, to be retried); in the caller's language",
        },
    },
    description="an upload and its counts (receipt once completed; lists leave out errors and receipt)",
)
FINDING = closed(
    {
        "id": {
            "type": "string",
            "pattern": f"^{FINDING_ID_PREFIX}_[{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}}$",
            "description": "the finding's opaque public id",
        },
        "rule": {"type": "string", "description": "a rule id (docs/reference/rules.md)"},
        "severity": enum(("low", "medium", "high")),
        "case_ref": TEXT,
        "upload_id": nullable(UPLOAD_PUBLIC_ID),
        "row": nullable({"type": "integer"}),
        "occurred_at": TIME,
        "message": TEXT,
        "status": enum(FINDING_STATUSES),
    }
)
ME = closed(
    {
        "email": TEXT,
        "role": enum(("agency_agent", "agency_admin", "lender_ops", "compliance", "admin")),
        "agency": nullable(TEXT),
        "timezone": {"type": "string", "description": "IANA name: the user's, else the agency's, else the lender's"},
        "locale": {"type": "string", "description": "the language the API answers in: zh_CN or en"},
    }
)
PUBLIC_KEY = closed(
    {
        "key_id": TEXT,
        "public_key": {"type": "string", "description": "base64 raw Ed25519"},
        "algorithm": {"type": "string", "const": "Ed25519"},
        "previous_keys": {
            "type": "array",
            "description": "keys that signed stored checkpoints before, most recently used first",
            "items": closed({"key_id": TEXT, "public_key": TEXT, "algorithm": {"type": "string", "const": "Ed25519"}}),
        },
    }
)
VERIFY = closed(
    {
        "ok": BOOL,
        "events": COUNT,
        "first_bad_seq": nullable({"type": "integer"}),
        "root": HEX,
        "unproven_events": {
            **COUNT,
            "description": "events after the newest witnessed checkpoint (all events when none is witnessed): "
            "verify cannot yet prove they were not removed or rewritten",
        },
        "witnessed_tree_size": nullable(
            {**COUNT, "description": "the size of the newest checkpoint kept outside the database (file or witness)"}
        ),
    },
    description="as `flask audit verify --json`",
)
INCLUSION = closed(
    {
        "seq": {"type": "integer"},
        "leaf_index": {"type": "integer", "description": "seq - 1"},
        "tree_size": {"type": "integer"},
        "leaf_hash": HEX,
        "inclusion_path": {"type": "array", "items": HEX},
        "root_hash": HEX,
        "checkpoint": nullable(ref("Checkpoint")),
    },
    description="RFC 9162 inclusion proof",
)
CONSISTENCY = closed(
    {
        "tree_size_1": {"type": "integer"},
        "tree_size_2": {"type": "integer"},
        "first_hash": HEX,
        "second_hash": HEX,
        "consistency_path": {"type": "array", "items": HEX},
        "checkpoint_1": nullable(ref("Checkpoint")),
        "checkpoint_2": nullable(ref("Checkpoint")),
    },
    description="RFC 9162 consistency proof between the trees of tree_size_1 and tree_size_2 events",
)

FLAG_SPELL = closed(
    {
        "flag": enum(FLAGS),
        "effective_from": {**nullable(TIME), "description": "null: from before the case's first contact"},
        "effective_to": {**nullable(TIME), "description": "null: in force"},
        "source": enum(("import", "manual")),
        "reason": {**nullable(TEXT), "description": "the reason it was set (by hand or by the complaints register)"},
        "clear_reason": {**nullable(TEXT), "description": "the reason it was cleared by hand"},
    },
    description="one spell of a case flag (lender staff only)",
)
FLAG_CHANGE = closed(
    {
        "case_ref": TEXT,
        "flag": enum(FLAGS),
        "action": enum(("set", "cleared", "unchanged")),
        "effective_from": nullable(TIME),
        "effective_to": nullable(TIME),
        "reason": TEXT,
    },
    description="what setting or clearing a flag did (as `flask cases flag --json`)",
)
FLAG_REQUEST = closed(
    {"flag": enum(FLAGS), "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX}},
    {
        "from": {
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "the debtor's day it takes effect (years 1900 to 9000; default: today, or now for a clear)",
        },
        "clear": {"type": "boolean", "default": False},
    },
)

SCHEMAS: dict[str, Schema] = {
    "FlagSpell": FLAG_SPELL,
    "FlagChange": FLAG_CHANGE,
    "Error": ERROR,
    "Case": CASE,
    "CaseDetail": CASE_DETAIL,
    "Contact": CONTACT,
    "Upload": UPLOAD,
    "RowError": ROW_ERROR,
    "Receipt": RECEIPT,
    "Finding": FINDING,
    "Me": ME,
    "AuditEvent": AUDIT_EVENT,
    "Checkpoint": CHECKPOINT,
    "PublicKey": PUBLIC_KEY,
    "VerifyResult": VERIFY,
    "InclusionProof": INCLUSION,
    "ConsistencyProof": CONSISTENCY,
}


# --- paths ---------------------------------------------------------------------------------

CASE_REF = param("case_ref", "the lender's case reference", text(MAX_CASE_REF), where="path")
UPLOAD_ID = param("upload_id", "the upload's public id (anything else: 404)", UPLOAD_PUBLIC_ID, where="path")
AUDIT_ROLES = " Compliance and admin only (others 403); the read is itself an audit event."


def _cases_paths() -> dict[str, Schema]:
    return {
        "/cases": {
            "get": {
                "summary": "Cases the caller may see, in pages (agencies: those placed with them)",
                "parameters": [
                    param("status", "case status", enum(CASE_STATUSES)),
                    param("bucket", "delinquency bucket", enum(BUCKET_CHOICES)),
                    param("q", "case reference prefix, or the debtor's name (agencies: family name)", text(MAX_QUERY)),
                    param("agency", "agency code (lender staff only; agencies always see their own)", text(20)),
                    param(
                        "placement",
                        "current (agency default), ended, any (lender default), unplaced",
                        enum(PLACEMENT_VIEWS),
                    ),
                    param(
                        "sort", "order of the list (empty: the default)", {**enum(tuple(SORTS)), "default": "case_ref"}
                    ),
                    LIMIT,
                    CURSOR,
                ],
                "responses": {"200": json_response("a page of cases", page_of("Case")), **errors(400, 401)},
            }
        },
        "/cases/{case_ref}": {
            "get": {
                "summary": "One case with its debtor, phones and placement; the view of personal data is audited",
                "parameters": [CASE_REF],
                "responses": {"200": json_response("the case", ref("CaseDetail")), **errors(401, 404)},
            }
        },
        "/cases/{case_ref}/flags": {
            "get": {
                "summary": "The case's flag history with reasons (lender staff; an agency user of the holding agency"
                " 403, of any other 404: agencies see the flags in force on the case only)",
                "parameters": [CASE_REF],
                "responses": {
                    "200": json_response(
                        "every spell, open ones first, then newest first",
                        closed({"items": {"type": "array", "items": ref("FlagSpell")}}),
                    ),
                    **errors(401, 403, 404),
                },
            },
            "post": {
                "summary": "Set a flag from a day or clear it, with a reason (lender operations, compliance, admin);"
                " audited. An unknown flag or a malformed `from` is 400, a missing reason 422",
                "parameters": [CASE_REF],
                "requestBody": {"required": True, "content": {"application/json": {"schema": FLAG_REQUEST}}},
                "responses": {
                    "200": json_response("what was done", ref("FlagChange")),
                    **errors(401, 403, 404, 422),
                },
            },
        },
        "/cases/{case_ref}/contacts": {
            "get": {
                "summary": "The case's contacts the caller may see, newest first (phones masked as on the case)",
                "parameters": [CASE_REF, LIMIT, CURSOR],
                "responses": {"200": json_response("a page of contacts", page_of("Contact")), **errors(400, 401, 404)},
            }
        },
    }


def _upload_paths() -> dict[str, Schema]:
    upload = ref("Upload")
    return {
        "/uploads": {
            "post": {
                "summary": "Upload a contacts or settlements file (agency users)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "kind"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "kind": enum(KINDS),
                                    "adapter": {
                                        **text(MAX_ADAPTER),
                                        "description": "an adapter or format key; default: sniffed",
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": json_response("the upload, processed or queued", upload),
                    "200": json_response("the same bytes again: the first upload, duplicate true", upload),
                    **errors(400, 401, 403, 413, 422, 503),
                },
            },
            "get": {
                "summary": "Uploads the caller may see, newest first",
                "parameters": [LIMIT, CURSOR],
                "responses": {"200": json_response("a page of uploads", page_of("Upload")), **errors(401)},
            },
        },
        "/uploads/{upload_id}": {
            "get": {
                "summary": "One upload with its first 100 errors and its receipt",
                "parameters": [UPLOAD_ID],
                "responses": {"200": json_response("the upload", upload), **errors(401, 404)},
            },
        },
        "/uploads/{upload_id}/errors.csv": {
            "get": {
                "summary": "Every rejected row as UTF-8 CSV: row,field,code,message (and where to find it)",
                "parameters": [UPLOAD_ID],
                "responses": {
                    "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                    **errors(401, 404),
                },
            },
        },
        "/findings": {
            "get": {
                "summary": "Compliance findings the caller may see (agencies: their own), oldest first",
                "parameters": [
                    param("upload_id", "only this upload's (its public id)", text(64)),
                    param("case_ref", "only this case's", text(MAX_CASE_REF)),
                    param("rule", "a rule id (docs/reference/rules.md)", text(MAX_RULE)),
                    param("status", "finding status", enum(FINDING_STATUSES)),
                    limit_param(100),
                    CURSOR,
                ],
                "responses": {"200": json_response("a page of findings", page_of("Finding")), **errors(400, 401)},
            }
        },
    }


def _audit_paths() -> dict[str, Schema]:
    return {
        "/audit/events": {
            "get": {
                "summary": "Audit events in seq order, filtered, in pages." + AUDIT_ROLES,
                "parameters": [
                    param("since", "ISO date or time, inclusive; without an offset in the lender's timezone", text(40)),
                    param("until", "ISO date or time, exclusive; a date includes that whole day", text(40)),
                    param("action", "an audit tag, or a prefix ending in ':' (case:)", text(FILTER_LENGTHS["action"])),
                    param("agency", "agency code", text(FILTER_LENGTHS["agency"])),
                    param("actor", "user e-mail, user id, or 'system'", text(FILTER_LENGTHS["actor"])),
                    param("object_type", "e.g. case, upload, user", text(FILTER_LENGTHS["object_type"])),
                    param("object_id", "the object's id", text(FILTER_LENGTHS["object_id"])),
                    limit_param(100),
                    CURSOR,
                ],
                "responses": {"200": json_response("a page of events", page_of("AuditEvent")), **errors(400, 401, 403)},
            }
        },
        "/audit/verify": {
            "get": {
                "summary": "Recompute every leaf and the root, check every checkpoint." + AUDIT_ROLES,
                "responses": {
                    "200": json_response("ok false names the first bad seq", ref("VerifyResult")),
                    **errors(401, 403),
                },
            }
        },
        "/audit/checkpoint": {
            "get": {
                "summary": "The latest signed checkpoint, or the one of tree_size (compliance and admin)",
                "parameters": [param("tree_size", "a signed tree size", TREE_SIZE)],
                "responses": {"200": json_response("the checkpoint", ref("Checkpoint")), **errors(400, 401, 403, 404)},
            }
        },
        "/audit/public-key": {
            "get": {
                "summary": "The key that signs checkpoints (every role: agencies pin it to verify receipts)",
                "responses": {
                    "200": json_response("the signing key and the keys used before", ref("PublicKey")),
                    **errors(401),
                },
            }
        },
        "/audit/proof/inclusion": {
            "get": {
                "summary": "RFC 9162 inclusion proof of event seq (default tree: the latest checkpoint's)."
                + AUDIT_ROLES,
                "parameters": [
                    {**param("seq", "the event", TREE_SIZE), "required": True},
                    param("tree_size", "the tree to prove against", TREE_SIZE),
                ],
                "responses": {"200": json_response("the proof", ref("InclusionProof")), **errors(400, 401, 403)},
            }
        },
        "/audit/proof/consistency": {
            "get": {
                "summary": "RFC 9162 consistency proof from the tree of `from` events to the tree of `to`."
                + AUDIT_ROLES,
                "parameters": [
                    {**param("from", "the older tree size", TREE_SIZE), "required": True},
                    param("to", "the newer tree size (default: the latest checkpoint's)", TREE_SIZE),
                ],
                "responses": {"200": json_response("the proof", ref("ConsistencyProof")), **errors(400, 401, 403)},
            }
        },
    }


def document() -> Schema:
    """The whole document; ``python -m portal.reference`` writes it to ``docs/reference/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Collection partner portal API",
            "version": "1",
            "description": "Token auth, errors, pagination and money: docs/reference/http-api.md.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            **_cases_paths(),
            **_upload_paths(),
            **_audit_paths(),
            "/me": {
                "get": {
                    "summary": "The caller: e-mail, role, agency, timezone and the language answers come in",
                    "responses": {"200": json_response("the caller", ref("Me")), **errors(401)},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document (no token needed)",
                    "security": [],
                    "responses": {
                        "200": json_response("OpenAPI 3.1", {"type": "object", "additionalProperties": True}),
                        **errors(public=True),
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
