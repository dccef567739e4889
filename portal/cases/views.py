"""Case list and case page for every role, and the lender's import and placement page."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from portal import params
from portal.agencies.services import list_agencies
from portal.api.cases import case_filters, case_ref_of
from portal.cases import activity as case_page
from portal.cases import services
from portal.cases.flag_history import flag_history
from portal.cases.flags import FLAG_EDITORS, change_case_flag, debtor_zone
from portal.cases.forms import CasesImportForm, FlagClearForm, FlagSetForm, PlacementForm
from portal.cases.importing import import_cases
from portal.cases.labels import FLAG
from portal.cases.placing import place_cases
from portal.db import utcnow
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
    editor = actor.role in FLAG_EDITORS
    set_form = FlagSetForm(prefix="flag") if editor else None
    if set_form is not None and set_form.from_day.data is None:
        set_form.from_day.data = utcnow().astimezone(debtor_zone(case.customer)).date()
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
        flag_set_form=set_form,
        flag_clear_form=(lambda flag: FlagClearForm(formdata=None, flag=flag)) if editor else None,
        # Agencies see the flags in force only; lender staff see every spell.
        flag_history=None if actor.is_agency else flag_history(case),
        flag_reason=flag_reason_text,
    )


def flag_reason_text(reason: str | None) -> Markup | str:
    """A reason as people read it: a complaint's own (``complaint CP-7K3QX9AB``) as a link, in the viewer's language."""
    from portal.complaints.services import FLAG_REASON_PATTERN

    match = FLAG_REASON_PATTERN.match(reason or "")
    if match is None:
        return reason or ""
    reference = match.group(1)
    if match.group(2):
        text = _("complaint %(reference)s closed", reference=reference)
    else:
        text = _("complaint %(reference)s", reference=reference)
    return Markup('<a href="{}">{}</a>').format(url_for("complaints.detail", complaint_ref=reference), text)


@bp.post("/<case_ref>/flags")
@roles_required(*FLAG_EDITORS)
def set_flag(case_ref: str):
    form = FlagSetForm(prefix="flag")
    return _change_flag(case_ref, form, clear=False)


@bp.post("/<case_ref>/flags/clear")
@roles_required(*FLAG_EDITORS)
def clear_flag(case_ref: str):
    form = FlagClearForm()
    return _change_flag(case_ref, form, clear=True)


def _change_flag(case_ref: str, form, *, clear: bool):
    back = redirect(url_for("cases.detail", case_ref=case_ref, _anchor="flag-history"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(_("The flag was not changed: %(reason)s", reason=error), "error")
        return back
    try:
        change = change_case_flag(
            actor=current_actor(),
            case_ref=case_ref,
            flag=form.flag.data,
            reason=form.reason.data,
            from_day=None if clear else form.from_day.data,
            clear=clear,
        )
    except NotFoundError:
        abort(404)
    except PortalError as exc:
        flash(_("The flag was not changed: %(reason)s", reason=exc.message), "error")
        return back
    name = FLAG.get(change.flag, change.flag)
    if change.action == "set":
        flash(_("Flag “%(flag)s” set.", flag=name), "info")
    elif change.action == "cleared":
        flash(_("Flag “%(flag)s” cleared.", flag=name), "info")
    elif clear:
        flash(_("Flag “%(flag)s” was not in force; nothing changed.", flag=name), "error")
    else:
        flash(_("Flag “%(flag)s” is already in force; nothing changed.", flag=name), "error")
    return back


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
