"""``GET /api/v1/openapi.json``: an OpenAPI 3.1 description of the API."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from portal.api import bp

_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["1234.50"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in statuses
    }


def _param(name: str, description: str, schema: dict[str, Any] | None = None, where: str = "query") -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_CHECKPOINT = {
    "type": "object",
    "description": "a signed tree head (contract section 9): Ed25519 over the JCS bytes without `signature`",
    "required": ["tree_size", "root_hash", "timestamp", "key_id", "public_key", "signature"],
    "properties": {
        "tree_size": {"type": "integer", "minimum": 0},
        "root_hash": _HEX,
        "timestamp": {"type": "string", "format": "date-time"},
        "key_id": {"type": "string"},
        "public_key": {"type": "string", "description": "base64 raw Ed25519"},
        "signature": {"type": "string", "description": "base64"},
    },
}
_AUDIT_EVENT = {
    "type": "object",
    "description": "the signed leaf object (its RFC 8785 bytes make the Merkle leaf) and its leaf hash",
    "required": ["seq", "occurred_at", "action", "outcome", "details", "leaf_hash"],
    "properties": {
        "seq": {"type": "integer", "minimum": 1},
        "occurred_at": {"type": "string", "format": "date-time"},
        "actor_user_id": {"type": ["integer", "null"]},
        "actor_role": {"type": ["string", "null"]},
        "agency_id": {"type": ["integer", "null"]},
        "source": {"type": "string"},
        "ip": {"type": ["string", "null"]},
        "user_agent": {"type": ["string", "null"]},
        "action": {"type": "string", "description": "an audit tag, source:subject:action"},
        "object_type": {"type": ["string", "null"]},
        "object_id": {"type": ["string", "null"]},
        "outcome": {"type": "string"},
        "details": {"type": "object"},
        "leaf_hash": _HEX,
    },
}


def _audit_paths() -> dict[str, Any]:
    """The audit trail endpoints: compliance and admin only (others 403); every read is itself audited."""
    verify = {
        "type": "object",
        "required": ["ok", "events", "first_bad_seq", "root"],
        "properties": {
            "ok": {"type": "boolean"},
            "events": {"type": "integer"},
            "first_bad_seq": {"type": ["integer", "null"]},
            "root": _HEX,
        },
    }
    inclusion = {
        "type": "object",
        "description": "RFC 9162 inclusion proof; leaf_index = seq - 1",
        "required": ["seq", "leaf_index", "tree_size", "leaf_hash", "inclusion_path", "root_hash", "checkpoint"],
        "properties": {
            "seq": {"type": "integer"},
            "leaf_index": {"type": "integer"},
            "tree_size": {"type": "integer"},
            "leaf_hash": _HEX,
            "inclusion_path": {"type": "array", "items": _HEX},
            "root_hash": _HEX,
            "checkpoint": {"oneOf": [{"$ref": "#/components/schemas/Checkpoint"}, {"type": "null"}]},
        },
    }
    consistency = {
        "type": "object",
        "description": "RFC 9162 consistency proof between the trees of tree_size_1 and tree_size_2 events",
        "required": ["tree_size_1", "tree_size_2", "first_hash", "second_hash", "consistency_path"],
        "properties": {
            "tree_size_1": {"type": "integer"},
            "tree_size_2": {"type": "integer"},
            "first_hash": _HEX,
            "second_hash": _HEX,
            "consistency_path": {"type": "array", "items": _HEX},
            "checkpoint_1": {"oneOf": [{"$ref": "#/components/schemas/Checkpoint"}, {"type": "null"}]},
            "checkpoint_2": {"oneOf": [{"$ref": "#/components/schemas/Checkpoint"}, {"type": "null"}]},
        },
    }
    size = {"type": "integer", "minimum": 1}
    return {
        "/audit/events": {
            "get": {
                "summary": "Audit events in seq order, filtered, in pages (compliance, admin)",
                "parameters": [
                    _param("since", "ISO date or time, inclusive; without an offset in the lender's timezone"),
                    _param("until", "ISO date or time, exclusive; a date includes that whole day"),
                    _param("action", "an audit tag, or a prefix ending in ':' (case:)"),
                    _param("agency", "agency code"),
                    _param("actor", "user e-mail, user id, or 'system'"),
                    _param("object_type", "e.g. case, user, upload"),
                    _param("object_id", "the object's id"),
                    _param("limit", "page size, at most 500", {"type": "integer", "minimum": 1, "maximum": 500}),
                    _param("cursor", "the `next` value of the previous page"),
                ],
                "responses": {
                    "200": _json(
                        "a page of events",
                        {
                            "type": "object",
                            "required": ["items", "next"],
                            "properties": {
                                "items": {"type": "array", "items": _AUDIT_EVENT},
                                "next": {"type": ["string", "null"]},
                            },
                        },
                    ),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/audit/verify": {
            "get": {
                "summary": "Recompute every leaf and the root, check every checkpoint (as `flask audit verify --json`)",
                "responses": {
                    "200": _json("the result; ok false names the first bad seq", verify),
                    **_errors(401, 403),
                },
            }
        },
        "/audit/checkpoint": {
            "get": {
                "summary": "The latest signed checkpoint, or the one of tree_size",
                "parameters": [_param("tree_size", "a signed tree size", size)],
                "responses": {
                    "200": _json("the checkpoint", {"$ref": "#/components/schemas/Checkpoint"}),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/audit/proof/inclusion": {
            "get": {
                "summary": "RFC 9162 inclusion proof of event seq (default tree: the latest checkpoint)",
                "parameters": [
                    _param("seq", "the event", size),
                    _param("tree_size", "the tree to prove against", size),
                ],
                "responses": {"200": _json("the proof", inclusion), **_errors(400, 401, 403)},
            }
        },
        "/audit/proof/consistency": {
            "get": {
                "summary": "RFC 9162 consistency proof from the tree of `from` events to the tree of `to`",
                "parameters": [_param("from", "the older tree size", size), _param("to", "the newer tree size", size)],
                "responses": {"200": _json("the proof", consistency), **_errors(400, 401, 403)},
            }
        },
    }


def _upload_paths() -> dict[str, Any]:
    error = {
        "type": "object",
        "properties": {
            "row": {"type": "integer"},
            "field": {"type": "string"},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    }
    count = {"type": "integer", "minimum": 0}
    upload = {
        "type": "object",
        "required": [
            "id",
            "kind",
            "adapter",
            "filename",
            "sha256",
            "status",
            "duplicate",
            "rows_total",
            "rows_accepted",
            "rows_rejected",
            "rows_duplicate",
            "findings_total",
            "created_at",
            "completed_at",
            "errors",
        ],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["contacts", "settlements"]},
            "adapter": {"type": ["string", "null"]},
            "format": {"type": ["string", "null"]},
            "adapter_version": {"type": ["string", "null"]},
            "filename": {"type": "string"},
            "sha256": _HEX,
            "status": {"type": "string", "enum": ["queued", "processing", "completed", "rejected"]},
            "duplicate": {"type": "boolean"},
            "rows_total": count,
            "rows_accepted": count,
            "rows_rejected": count,
            "rows_duplicate": count,
            "findings_total": count,
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "created_at": {"type": "string", "format": "date-time"},
            "completed_at": _TIME,
            "errors": {"type": "array", "maxItems": 100, "items": error},
            "receipt": {"type": "object", "description": "audit receipt of the completion event (docs/audit.md)"},
        },
    }
    as_json = {"application/json": {"schema": upload}}
    upload_id = _param("upload_id", "the upload's id", {"type": "integer"}, where="path")
    finding = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "rule": {"type": "string"},
            "severity": {"type": "string"},
            "case_ref": {"type": "string"},
            "upload_id": {"type": ["integer", "null"]},
            "row": {"type": ["integer", "null"]},
            "occurred_at": {"type": "string", "format": "date-time"},
            "message": {"type": "string"},
            "status": {"type": "string"},
        },
    }
    return {
        "/findings": {
            "get": {
                "summary": "Compliance findings the caller may see (agencies: their own), oldest first",
                "parameters": [
                    _param("upload_id", "only this upload's", {"type": "integer"}),
                    _param("case_ref", "only this case's"),
                    _param("rule", "a rule id (contract 8)"),
                    _param("status", "open, confirmed or dismissed"),
                    _param("limit", "page size, at most 500", {"type": "integer"}),
                    _param("cursor", "the `next` value of the previous page"),
                ],
                "responses": {
                    "200": {
                        "description": "a page of findings",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {"type": "array", "items": finding},
                                        "next": {"type": ["string", "null"]},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401),
                },
            }
        },
        "/uploads": {
            "post": {
                "summary": "Upload a contacts or settlements file (contract 4.2)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "kind"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "kind": {"type": "string", "enum": ["contacts", "settlements"]},
                                    "adapter": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {"description": "the upload, processed or queued", "content": as_json},
                    "200": {
                        "description": "the same bytes again: the first upload, duplicate true",
                        "content": as_json,
                    },
                    **_errors(400, 401, 403, 413, 422),
                },
            },
            "get": {
                "summary": "Uploads the caller may see, newest first",
                "parameters": [
                    _param("limit", "page size, at most 500", {"type": "integer"}),
                    _param("cursor", "the `next` value of the previous page"),
                ],
                "responses": {"200": {"description": "a page of uploads"}, **_errors(401)},
            },
        },
        "/uploads/{upload_id}": {
            "get": {
                "summary": "One upload (contract 4.4)",
                "parameters": [upload_id],
                "responses": {"200": {"description": "the upload", "content": as_json}, **_errors(401, 404)},
            },
        },
        "/uploads/{upload_id}/errors.csv": {
            "get": {
                "summary": "Every rejected row: row,field,code,message",
                "parameters": [upload_id],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, **_errors(401, 404)},
            },
        },
    }


def document() -> dict[str, Any]:
    case = {
        "type": "object",
        "required": [
            "case_ref",
            "status",
            "bucket",
            "days_past_due",
            "outstanding_balance",
            "currency",
            "placed_at",
            "placement_expires_at",
            "agency",
        ],
        "properties": {
            "case_ref": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "settled", "closed"]},
            "bucket": {"type": "string", "enum": ["M0", "M1", "M2", "M3", "M4+"]},
            "days_past_due": {"type": "integer", "minimum": 0},
            "outstanding_balance": _MONEY,
            "currency": {"type": "string"},
            "placed_at": _TIME,
            "placement_expires_at": _TIME,
            "agency": {"type": ["string", "null"]},
        },
    }
    case_detail = {
        "allOf": [
            {"$ref": "#/components/schemas/Case"},
            {
                "type": "object",
                "required": ["debtor", "phones", "placement", "contacts_count", "settled_amount"],
                "properties": {
                    "debtor": {"type": "object", "description": "masked for agency users (contract section 7)"},
                    "phones": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"number": {"type": "string"}, "party": {"type": "string"}},
                        },
                    },
                    "placement": {"type": ["object", "null"]},
                    "flags": {"type": "array", "items": {"type": "string"}},
                    "contacts_count": {"type": "integer"},
                    "settled_amount": _MONEY,
                },
            },
        ]
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Collection partner portal API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, "Case": case, "CaseDetail": case_detail, "Checkpoint": _CHECKPOINT},
        },
        "paths": {
            "/cases": {
                "get": {
                    "summary": "Cases the caller may see, in pages",
                    "parameters": [
                        _param("status", "open, settled or closed"),
                        _param("bucket", "M1, M2, M3 or M4+"),
                        _param("q", "case reference prefix, or the debtor's family name"),
                        _param("placement", "current (agency default), ended, any (lender default), unplaced"),
                        _param("sort", "case_ref, -days_past_due, -outstanding_balance, expires_at"),
                        _param("limit", "page size, at most 500", {"type": "integer", "minimum": 1, "maximum": 500}),
                        _param("cursor", "the `next` value of the previous page"),
                    ],
                    "responses": {
                        "200": {
                            "description": "a page of cases",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["items", "next"],
                                        "properties": {
                                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Case"}},
                                            "next": {"type": ["string", "null"]},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(400, 401),
                    },
                }
            },
            "/cases/{case_ref}": {
                "get": {
                    "summary": "One case with its debtor, phones and placement; the view is audited",
                    "parameters": [_param("case_ref", "the lender's case reference", where="path")],
                    "responses": {
                        "200": {
                            "description": "the case",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseDetail"}}},
                        },
                        **_errors(401, 404),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
            **_audit_paths(),
            **_upload_paths(),
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
