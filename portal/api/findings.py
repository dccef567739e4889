"""``GET /api/v1/findings`` (contract 4.3)."""

from __future__ import annotations

from flask import g, jsonify

from portal import params
from portal.api import bp
from portal.compliance.models import FINDING_STATUSES
from portal.compliance.queries import MAX_PAGE, list_findings
from portal.uploads.models import UPLOAD_ID_PREFIX

# Rule ids are snake_case words (docs/reference/rules.md).
MAX_RULE = 60


def _after() -> int | None:
    cursor = params.cursor()
    if cursor is None:
        return None
    values = params.open_cursor(cursor, purpose="findings")
    if len(values) != 1:
        raise params.ParameterError(params.CURSOR_REFUSED, name="cursor")
    return params.cursor_integer(values[0])


@bp.get("/findings")
def findings():
    upload = params.text("upload_id", max_length=64)
    items, after = list_findings(
        actor=g.actor,
        # Not shaped like a public upload id: no upload's findings match (an empty page, as for another agency's).
        upload_id=(params.public_id(upload, prefix=UPLOAD_ID_PREFIX) or "-") if upload else None,
        case_ref=params.text("case_ref", max_length=40) or None,
        rule=params.text("rule", max_length=MAX_RULE) or None,
        status=params.choice("status", FINDING_STATUSES) or None,
        after_id=_after(),
        limit=params.limit(default=100, maximum=MAX_PAGE),
    )
    return jsonify({"items": items, "next": params.seal_cursor([after], purpose="findings") if after else None})
