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
            "schemas": {"Error": _ERROR, "Case": case, "CaseDetail": case_detail},
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
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
