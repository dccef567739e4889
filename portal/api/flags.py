"""``/api/v1/cases/{case_ref}/flags``: a case's flag history, and setting or clearing a flag (issue 10).

Lender staff read the history with its reasons. Agencies see the flags in force only, on the case
itself (``flags``, ``flags_since``), never the history or its reasons (docs/cases.md): for an agency
user of the holding agency the history answers 403, for any other agency 404 (as for no such case).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import g, jsonify, request

from portal import params
from portal.api import bp, require_roles
from portal.api.cases import case_ref_of
from portal.cases.flag_history import flag_history
from portal.cases.flags import FLAG_EDITORS, REASON_MAX, change_case_flag
from portal.cases.models import FLAGS
from portal.cases.services import require_case
from portal.errors import PermissionDeniedError, ValidationError, _l
from portal.security import Role

LENDER_READERS = (Role.LENDER_OPS, Role.COMPLIANCE, Role.ADMIN)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat()


def _visible_case(case_ref: str):
    """The case, 404 when the caller may not see it; 403 for an agency user who may see it."""
    case = require_case(actor=g.actor, case_ref=case_ref_of(case_ref))
    if g.actor.role not in LENDER_READERS:
        raise PermissionDeniedError(_l("your role may not use this endpoint"))
    return case


@bp.get("/cases/<case_ref>/flags")
def case_flags(case_ref: str):
    case = _visible_case(case_ref)
    items = [
        {
            "flag": spell.flag,
            "effective_from": _iso(spell.effective_from),
            "effective_to": _iso(spell.effective_to),
            "source": spell.source,
            "reason": spell.set_reason,
            "clear_reason": spell.clear_reason,
        }
        for spell in flag_history(case)
    ]
    return jsonify({"items": items})


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise params.ParameterError(_l("send a JSON object"), name="body")
    return body


def _string(body: dict[str, Any], name: str, max_length: int) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise params.ParameterError(_l("%(name)s must be text", name=name), name=name)
    return params.check_text(value, name, max_length=max_length) if name != "reason" else value


def _day(body: dict[str, Any]) -> date | None:
    value = _string(body, "from", 10)
    if not value:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise params.ParameterError(_l("%(name)s must be a date (YYYY-MM-DD)", name="from"), name="from") from exc
    if not params.MIN_YEAR <= day.year <= params.MAX_YEAR:
        raise params.ParameterError(_l("%(name)s is out of range", name="from"), name="from")
    return day


@bp.post("/cases/<case_ref>/flags")
def change_flag(case_ref: str):
    case = _visible_case(case_ref)
    require_roles(*FLAG_EDITORS)
    body = _body()
    flag = params.choice("flag", FLAGS, args={"flag": _string(body, "flag", 20)})
    if not flag:
        raise ValidationError(_l("a flag is required"))
    reason = _string(body, "reason", 10 * REASON_MAX)
    clear = body.get("clear", False)
    if not isinstance(clear, bool):
        raise params.ParameterError(_l("%(name)s must be true or false", name="clear"), name="clear")
    change = change_case_flag(
        actor=g.actor, case_ref=case.case_ref, flag=flag, reason=reason, from_day=_day(body), clear=clear
    )
    return jsonify(change.as_dict())
