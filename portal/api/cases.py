"""``/api/v1/cases``: the case list and a case (contract 4.1)."""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api import bp
from portal.cases import activity as case_page
from portal.cases import services
from portal.errors import PortalError, ValidationError, _l


def _limit() -> int:
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= services.MAX_PAGE_SIZE:
        raise ValidationError(
            _l("limit must be a whole number from 1 to %(max)s", max=services.MAX_PAGE_SIZE), field="limit"
        )
    return int(raw)


@bp.get("/cases")
def list_cases():
    filters = services.CaseFilters(
        q=request.args.get("q", ""),
        bucket=request.args.get("bucket", ""),
        status=request.args.get("status", ""),
        agency=request.args.get("agency", ""),
        placement=request.args.get("placement", ""),
        sort=request.args.get("sort", "case_ref"),
    )
    try:
        page = services.list_cases(
            actor=g.actor, filters=filters, cursor=request.args.get("cursor") or None, limit=_limit()
        )
    except ValidationError as exc:
        # A bad query parameter is a malformed request, not invalid content.
        raise PortalError(exc.text, code="invalid_parameter") from exc
    return jsonify(
        {
            "items": services.page_summaries(g.actor, page),
            "next": page.next_cursor,
        }
    )


@bp.get("/cases/<case_ref>")
def get_case(case_ref: str):
    case = services.open_case_record(actor=g.actor, case_ref=case_ref)
    return jsonify(services.case_detail(g.actor, case))


@bp.get("/cases/<case_ref>/contacts")
def list_case_contacts(case_ref: str):
    """The case's contacts the caller may see, newest first; phones masked as on the case page."""
    case = services.open_case_record(actor=g.actor, case_ref=case_ref)
    try:
        page = case_page.case_contacts(
            actor=g.actor, case=case, before=request.args.get("cursor") or None, limit=_limit()
        )
    except ValidationError as exc:
        raise PortalError(exc.text, code="invalid_parameter") from exc
    return jsonify({"items": [case_page.contact_record(line, case) for line in page.lines], "next": page.next_cursor})
