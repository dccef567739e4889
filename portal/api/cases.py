"""``/api/v1/cases``: the case list and a case (contract 4.1)."""

from __future__ import annotations

from flask import g, jsonify

from portal import params
from portal.api import bp
from portal.cases import activity as case_page
from portal.cases import services
from portal.cases.models import CASE_STATUSES
from portal.errors import ValidationError

# A case reference is at most 40 characters (docs/reference/records.md); an agency code at most 20.
MAX_CASE_REF = 40
MAX_QUERY = 60


def case_filters() -> services.CaseFilters:
    """The list's filters from the query string, each checked for its kind (web pages read the same)."""
    return services.CaseFilters(
        q=params.text("q", max_length=MAX_QUERY),
        bucket=params.choice("bucket", services.BUCKET_CHOICES),
        status=params.choice("status", CASE_STATUSES),
        agency=params.text("agency", max_length=20),
        placement=params.choice("placement", services.PLACEMENT_VIEWS),
        sort=params.choice("sort", tuple(services.SORTS), default="case_ref"),
    )


def case_ref_of(value: str) -> str:
    """A case reference from the path: bounded, without control characters (a NUL breaks PostgreSQL)."""
    return params.check_text(value, "case_ref", max_length=MAX_CASE_REF)


def _page_limit() -> int:
    return params.limit(default=50, maximum=services.MAX_PAGE_SIZE)


@bp.get("/cases")
def list_cases():
    filters, size, cursor = case_filters(), _page_limit(), params.cursor()
    try:
        page = services.list_cases(actor=g.actor, filters=filters, cursor=cursor, limit=size)
    except ValidationError as exc:
        # A bad query parameter is a malformed request, not invalid content.
        raise params.ParameterError(exc.text, name=exc.field or "") from exc
    return jsonify({"items": services.page_summaries(g.actor, page), "next": page.next_cursor})


@bp.get("/cases/<case_ref>")
def get_case(case_ref: str):
    case = services.open_case_record(actor=g.actor, case_ref=case_ref_of(case_ref))
    return jsonify(services.case_detail(g.actor, case))


@bp.get("/cases/<case_ref>/contacts")
def list_case_contacts(case_ref: str):
    """The case's contacts the caller may see, newest first; phones masked as on the case page."""
    case = services.open_case_record(actor=g.actor, case_ref=case_ref_of(case_ref))
    size, cursor = _page_limit(), params.cursor()
    try:
        page = case_page.case_contacts(actor=g.actor, case=case, before=cursor, limit=size)
    except ValidationError as exc:
        raise params.ParameterError(exc.text, name=exc.field or "") from exc
    return jsonify({"items": [case_page.contact_record(line, case) for line in page.lines], "next": page.next_cursor})
