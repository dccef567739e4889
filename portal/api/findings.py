"""``GET /api/v1/findings`` (contract 4.3)."""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api import bp
from portal.compliance.queries import list_findings
from portal.errors import PortalError, _l


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit():
        raise PortalError(_l("%(name)s must be a whole number", name=name), code="invalid_parameter")
    return int(raw)


@bp.get("/findings")
def findings():
    try:
        items, after = list_findings(
            actor=g.actor,
            upload_id=_int_arg("upload_id"),
            case_ref=request.args.get("case_ref") or None,
            rule=request.args.get("rule") or None,
            status=request.args.get("status") or None,
            after_id=_int_arg("cursor"),
            limit=_int_arg("limit") or 100,
        )
    except PortalError as exc:
        raise PortalError(exc.text, code="invalid_parameter") from exc
    return jsonify({"items": items, "next": str(after) if after else None})
