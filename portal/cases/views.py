"""Case list and case page for every role, and the lender's import and placement page."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _

from portal import params
from portal.agencies.services import list_agencies
from portal.api.cases import case_filters, case_ref_of
from portal.cases import activity as case_page
from portal.cases import services
from portal.cases.forms import CasesImportForm, PlacementForm
from portal.cases.importing import import_cases
from portal.cases.placing import place_cases
from portal.errors import NotFoundError, PortalError
from portal.security import Role, current_actor, roles_required

bp = Blueprint("cases", __name__, url_prefix="/cases")

ALL_ROLES = tuple(Role)


@bp.get("/")
@roles_required(*ALL_ROLES)
def index():
    actor = current_actor()
    args = request.args
    try:
        filters = replace(case_filters(), expiring=args.get("expiring") == "1")
        page = services.list_cases(
            actor=actor,
            filters=filters,
            cursor=params.cursor(),
            limit=current_app.config["PORTAL_PAGE_SIZE"],
            expiring_days=current_app.config["PORTAL_EXPIRING_SOON_DAYS"],
        )
    except PortalError as exc:
        flash(exc.message, "error")
        page = services.list_cases(
            actor=actor, filters=services.CaseFilters(), limit=current_app.config["PORTAL_PAGE_SIZE"]
        )
    query = {k: v for k, v in args.items() if k != "cursor" and v}
    next_url = url_for("cases.index", **query, cursor=page.next_cursor) if page.next_cursor else None
    first_url = url_for("cases.index", **query) if args.get("cursor") else None
    return render_template(
        "cases/list.html",
        page=page,
        actor=actor,
        next_url=next_url,
        first_url=first_url,
        agencies=[] if actor.is_agency else list_agencies(),
        buckets=services.BUCKET_CHOICES,
        debtor_name=lambda customer: services.debtor_name_for(actor, customer),
    )


@bp.get("/<case_ref>")
@roles_required(*ALL_ROLES)
def detail(case_ref: str):
    actor = current_actor()
    try:
        case = services.open_case_record(actor=actor, case_ref=case_ref_of(case_ref))
    except NotFoundError:
        abort(404)
    before = params.cursor("contacts_before")
    try:
        contacts = case_page.case_contacts(actor=actor, case=case, before=before)
    except PortalError:
        # A cursor this server did not issue (edited by hand, or stale): start from the newest.
        flash(_("That page of contacts could not be found; showing the newest contacts."), "error")
        before = None
        contacts = case_page.case_contacts(actor=actor, case=case)
    activity = case_page.case_activity(actor, case)
    return render_template(
        "cases/detail.html",
        case=case,
        activity=activity,
        contacts=contacts,
        older_url=url_for(
            "cases.detail", case_ref=case.case_ref, contacts_before=contacts.next_cursor, _anchor="contacts"
        )
        if contacts.next_cursor
        else None,
        newest_url=url_for("cases.detail", case_ref=case.case_ref, _anchor="contacts") if before else None,
        detail=services.case_detail(actor, case, activity),
        placement=services.placement_for_viewer(actor, case),
        actor=actor,
    )


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.LENDER_OPS, Role.ADMIN)
def import_page():
    import_form = CasesImportForm(prefix="cases")
    place_form = PlacementForm(prefix="place")
    import_result = place_result = None
    if request.method == "POST" and request.form.get("action") == "import" and import_form.validate_on_submit():
        upload = import_form.file.data
        try:
            import_result = import_cases(
                actor=current_actor(),
                stream=upload.stream,
                filename=upload.filename or "",
                all_or_nothing=import_form.all_or_nothing.data,
            )
        except PortalError as exc:
            flash(_("The file was not imported: %(reason)s", reason=exc.message), "error")
    elif request.method == "POST" and request.form.get("action") == "place" and place_form.validate_on_submit():
        upload = place_form.file.data
        try:
            place_result = place_cases(
                actor=current_actor(), stream=upload.stream, lender_timezone=current_app.config["PORTAL_TIMEZONE"]
            )
        except PortalError as exc:
            flash(_("No case was placed: %(reason)s", reason=exc.message), "error")
    elif request.method == "POST":
        flash(_("Choose a file to upload."), "error")
    return render_template(
        "cases/import.html",
        import_form=import_form,
        place_form=place_form,
        import_result=import_result,
        place_result=place_result,
    )
