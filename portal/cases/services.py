"""Cases as each role may see them: the one agency-scoped way to load cases, lists and a case's detail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, exists, or_, select, tuple_
from sqlalchemy.orm import aliased, selectinload

from portal.agencies.models import Agency
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.masking import mask_id_number, mask_name, mask_phone
from portal.cases.models import CASE_STATUSES, Case, CaseFlag, Customer, Placement
from portal.db import utcnow
from portal.errors import NotFoundError, ValidationError, _l
from portal.extensions import db
from portal.money.balances import CaseBalance, case_balances
from portal.params import cursor_integer, open_cursor, seal_cursor
from portal.security import Actor

if TYPE_CHECKING:
    from portal.cases.activity import CaseActivity

PLACEMENT_VIEWS = ("current", "ended", "any", "unplaced")
BUCKET_CHOICES = ("M0", "M1", "M2", "M3", "M4+")
# sort key -> (column, descending)
SORTS: dict[str, tuple[Any, bool]] = {
    "case_ref": (Case.case_ref, False),
    "-days_past_due": (Case.days_past_due, True),
    "-outstanding_balance": (Case.outstanding_balance, True),
    "expires_at": (Placement.expires_at, False),
}
# The keyset tie-breaker: for expiry it is the placement's case_id (the same value as cases.id
# through the join) so that the open-placement index can serve the whole cursor condition.
TIE_BREAKERS: dict[str, Any] = {"expires_at": Placement.case_id}
MAX_PAGE_SIZE = 500


def case_scope(actor: Actor) -> Select[tuple[Case]]:
    """Every case ``actor`` may see. Agency users: cases ever placed with their agency.

    Web views, the API and the CLI all load cases through this (or ``require_case``),
    so another agency's case is indistinguishable from one that does not exist.
    """
    query = select(Case)
    if actor.is_agency:
        query = query.where(exists().where(Placement.case_id == Case.id, Placement.agency_id == actor.agency_id))
    return query


def require_case(*, actor: Actor, case_ref: str) -> Case:
    case = db.session.execute(
        case_scope(actor)
        .where(Case.case_ref == case_ref)
        .options(
            selectinload(Case.customer).selectinload(Customer.phones),
            selectinload(Case.flags),
            selectinload(Case.placements).selectinload(Placement.agency),
        )
    ).scalar_one_or_none()
    if case is None:
        raise NotFoundError(f"no case {case_ref}")
    return case


@dataclass
class CaseFilters:
    q: str = ""
    bucket: str = ""
    status: str = ""
    agency: str = ""
    placement: str = ""
    expiring: bool = False
    sort: str = "case_ref"


@dataclass
class CasePage:
    rows: list[tuple[Case, Placement | None]]
    next_cursor: str | None
    filters: CaseFilters = field(default_factory=CaseFilters)
    # Per case id of ``rows``: its current flags and its balance as the viewer may read it.
    flags: dict[int, list[CurrentFlag]] = field(default_factory=dict)
    balances: dict[int, CaseBalance] = field(default_factory=dict)


def encode_cursor(values: list[Any], *, purpose: str = "cases") -> str:
    """``values`` sealed (encrypted and signed): a client can neither forge a cursor nor read ids from one."""
    return seal_cursor(values, purpose=purpose)


def decode_cursor(cursor: str, *, purpose: str = "cases") -> list[Any]:
    values = open_cursor(cursor, purpose=purpose)
    if len(values) != 2:
        raise ValidationError(_l("the cursor is not one this server issued"), field="cursor")
    return values


def _cursor_value(sort: str, case: Case, placement: Placement | None) -> Any:
    if sort == "case_ref":
        return case.case_ref
    if sort == "-days_past_due":
        return case.days_past_due
    if sort == "-outstanding_balance":
        return f"{case.outstanding_balance:f}"
    return placement.expires_at.isoformat() if placement else None


def _parse_cursor_value(sort: str, value: Any) -> Any:
    # Sealed by this server, but maybe for another sort order: each value is checked for its own.
    try:
        if sort == "-outstanding_balance" and isinstance(value, str):
            amount = Decimal(value)
            if amount.is_finite() and abs(amount) < Decimal(10) ** 16:
                return amount
        elif sort == "expires_at" and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment
        elif sort == "-days_past_due":
            return cursor_integer(value)
        elif sort == "case_ref" and isinstance(value, str):
            return value
    except (TypeError, ValueError, ArithmeticError):
        pass
    raise ValidationError(_l("the cursor is not one this server issued"), field="cursor")


def _normalise(actor: Actor, filters: CaseFilters) -> CaseFilters:
    placement = filters.placement or ("current" if actor.is_agency else "any")
    if placement not in PLACEMENT_VIEWS or (actor.is_agency and placement == "unplaced"):
        raise ValidationError(_l("unknown placement view '%(value)s'", value=placement), field="placement")
    if filters.bucket and filters.bucket not in BUCKET_CHOICES:
        raise ValidationError(_l("unknown bucket '%(value)s'", value=filters.bucket), field="bucket")
    if filters.status and filters.status not in CASE_STATUSES:
        raise ValidationError(_l("unknown status '%(value)s'", value=filters.status), field="status")
    if filters.sort not in SORTS:
        raise ValidationError(_l("unknown sort '%(value)s'", value=filters.sort), field="sort")
    expiring = filters.expiring
    if expiring or filters.sort == "expires_at":
        placement = "current"
    return CaseFilters(
        q=filters.q.strip()[:60],
        bucket=filters.bucket,
        status=filters.status,
        agency="" if actor.is_agency else filters.agency.strip().upper(),
        placement=placement,
        expiring=expiring,
        sort=filters.sort,
    )


def list_cases(
    *, actor: Actor, filters: CaseFilters, cursor: str | None = None, limit: int = 50, expiring_days: int = 14
) -> CasePage:
    """One page of cases in keyset order; ``next_cursor`` continues after the last row.

    Keyset pagination keeps a deep page as fast as the first one on a million cases.
    """
    filters = _normalise(actor, filters)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    open_placement = and_(Placement.case_id == Case.id, Placement.ended_at.is_(None))
    query: Select[Any]
    if filters.placement == "current":
        query = select(Case, Placement).join(Placement, open_placement)
        if actor.is_agency:
            query = query.where(Placement.agency_id == actor.agency_id)
    else:
        query = select(Case, Placement).outerjoin(Placement, open_placement)
        # The joined Placement is the open one; the history checks need their own alias.
        history = aliased(Placement)
        if actor.is_agency:
            query = query.where(exists().where(history.case_id == Case.id, history.agency_id == actor.agency_id))
            if filters.placement == "ended":
                # Cases this agency once had and no longer has.
                query = query.where(or_(Placement.id.is_(None), Placement.agency_id != actor.agency_id))
        elif filters.placement == "ended":
            query = query.where(Placement.id.is_(None), exists().where(history.case_id == Case.id))
        elif filters.placement == "unplaced":
            query = query.where(Placement.id.is_(None))
    if filters.agency:
        query = query.join(Agency, Agency.id == Placement.agency_id).where(Agency.code == filters.agency)
    if filters.bucket:
        query = query.where(Case.bucket == filters.bucket)
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.expiring:
        query = query.where(Placement.expires_at <= utcnow() + timedelta(days=expiring_days))
    if filters.q:
        query = _search(actor, query, filters.q)
    column, descending = SORTS[filters.sort]
    tie = TIE_BREAKERS.get(filters.sort, Case.id)
    if cursor:
        value, last_id = decode_cursor(cursor)
        key = (_parse_cursor_value(filters.sort, value), cursor_integer(last_id))
        if filters.sort == "case_ref":
            query = query.where(Case.case_ref > key[0])
        elif descending:
            query = query.where(tuple_(column, tie) < key)
        else:
            query = query.where(tuple_(column, tie) > key)
    if filters.sort == "case_ref":
        query = query.order_by(Case.case_ref)
    elif descending:
        query = query.order_by(column.desc(), tie.desc())
    else:
        query = query.order_by(column, tie)
    query = query.options(selectinload(Case.customer))
    rows = [
        # Agency users never learn which other agency holds a case now, nor its terms.
        (case, None if actor.is_agency and placement and placement.agency_id != actor.agency_id else placement)
        for case, placement in db.session.execute(query.limit(limit + 1)).all()
    ]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_case, last_placement = rows[-1]
        next_cursor = encode_cursor([_cursor_value(filters.sort, last_case, last_placement), last_case.id])
    case_ids = [case.id for case, _ in rows]
    return CasePage(
        rows=rows,
        next_cursor=next_cursor,
        filters=filters,
        flags=current_flags(case_ids),
        balances=case_balances(
            [(case.id, case.outstanding_balance) for case, _ in rows],
            agency_id=actor.agency_id if actor.is_agency else None,
        ),
    )


@dataclass(frozen=True)
class CurrentFlag:
    flag: str
    # None: from before the case's first contact (an undated flag of the lender's file).
    since: datetime | None


def _in_force(history: list[CaseFlag], now: datetime) -> list[CurrentFlag]:
    """Flags whose history holds them at ``now``, each once with the start of its current spell."""
    held: dict[str, CurrentFlag] = {}
    for flag in sorted(history, key=lambda f: (f.effective_from is not None, f.effective_from or now)):
        if flag.holds_at(now):
            held.setdefault(flag.flag, CurrentFlag(flag.flag, flag.effective_from))
    return sorted(held.values(), key=lambda f: f.flag)


def current_flags(case_ids: list[int], *, now: datetime | None = None) -> dict[int, list[CurrentFlag]]:
    """The flags in force now on each case, from its flag history, in one query (a list page's worth)."""
    now = now or utcnow()
    history: dict[int, list[CaseFlag]] = {case_id: [] for case_id in case_ids}
    if case_ids:
        for flag in db.session.execute(
            select(CaseFlag).where(
                CaseFlag.case_id.in_(case_ids), or_(CaseFlag.effective_to.is_(None), CaseFlag.effective_to > now)
            )
        ).scalars():
            history[flag.case_id].append(flag)
    return {case_id: _in_force(flags, now) for case_id, flags in history.items()}


def case_flags(case: Case, *, now: datetime | None = None) -> list[CurrentFlag]:
    """The flags in force now on a case loaded with its flag history (``require_case``)."""
    return _in_force(case.flags, now or utcnow())


def _search(actor: Actor, query: Select[Any], q: str) -> Select[Any]:
    if q.isascii():
        return query.where(Case.case_ref.startswith(q.upper(), autoescape=True))
    # Agency users see only the family name, so they may search by nothing more than that.
    needle = q[0] if actor.is_agency else q
    condition = Customer.name.startswith(needle, autoescape=True)
    if not actor.is_agency:
        condition = Customer.name.contains(needle, autoescape=True)
    return query.join(Customer, Customer.id == Case.customer_id).where(condition)


def placement_for_viewer(actor: Actor, case: Case) -> Placement | None:
    """The placement a viewer cares about: agency users their own (open, else latest); lenders the open one."""
    if actor.is_agency:
        own = [p for p in case.placements if p.agency_id == actor.agency_id]
        return next((p for p in own if p.ended_at is None), own[-1] if own else None)
    return case.open_placement


def is_placed_with(case: Case, agency_id: int | None) -> bool:
    placement = case.open_placement
    return placement is not None and placement.agency_id == agency_id


def debtor_view(actor: Actor, case: Case) -> dict[str, Any]:
    """The debtor's personal data as ``actor`` may see it (contract section 7)."""
    customer = case.customer
    if not actor.is_agency:
        return {
            "name": customer.name,
            "id_number": customer.id_number,
            "customer_id": customer.customer_ref,
            "province": customer.province,
            "timezone": customer.timezone,
        }
    return {
        "name": mask_name(customer.name),
        "id_number": mask_id_number(customer.id_number),
        "province": customer.province,
        "timezone": customer.timezone,
    }


def debtor_name_for(actor: Actor, customer: Customer) -> str:
    return mask_name(customer.name) if actor.is_agency else customer.name


def phones_view(actor: Actor, case: Case) -> list[dict[str, str]]:
    full = not actor.is_agency or is_placed_with(case, actor.agency_id)
    return [
        {"number": phone.number if full else mask_phone(phone.number), "party": phone.party}
        for phone in case.customer.phones
    ]


def open_case_record(*, actor: Actor, case_ref: str) -> Case:
    """Load a case for its detail page and record that ``actor`` viewed its personal data."""
    case = require_case(actor=actor, case_ref=case_ref)
    record_event(
        actor=actor,
        action=AuditTag.CASE_PII_VIEW,
        object_type="case",
        object_id=case.id,
        details={
            "case_ref": case.case_ref,
            "phones_in_full": not actor.is_agency or is_placed_with(case, actor.agency_id),
        },
    )
    db.session.commit()
    return case


def case_summary(
    actor: Actor, case: Case, placement: Placement | None, *, flags: list[CurrentFlag], balance: CaseBalance
) -> dict[str, Any]:
    """The contract 4.1 case object, with the case's current flags and its balance after reported payments."""
    return {
        "case_ref": case.case_ref,
        "status": case.status,
        "bucket": case.bucket,
        "days_past_due": case.days_past_due,
        "outstanding_balance": f"{case.outstanding_balance:.2f}",
        "currency": case.currency,
        "placed_at": placement.placed_at.isoformat() if placement else None,
        "placement_expires_at": placement.expires_at.isoformat() if placement else None,
        "agency": placement.agency.code if placement else None,
        "balance_after_reported": f"{balance.after_reported:.2f}",
        "flags": [f.flag for f in flags],
    }


def page_summaries(actor: Actor, page: CasePage) -> list[dict[str, Any]]:
    return [
        case_summary(actor, case, placement, flags=page.flags[case.id], balance=page.balances[case.id])
        for case, placement in page.rows
    ]


def case_balance(actor: Actor, case: Case) -> CaseBalance:
    """The case's balance as ``actor`` may read it (docs/cases.md: what an agency sees)."""
    return case_balances([(case.id, case.outstanding_balance)], agency_id=actor.agency_id if actor.is_agency else None)[
        case.id
    ]


def case_detail(actor: Actor, case: Case, activity: CaseActivity | None = None) -> dict[str, Any]:
    """The contract 4.1 case object with debtor, phones, placement, contacts, settled amount and balances.

    ``settled_amount`` is what the viewer may see reported (an agency: its own settlements);
    ``balance_after_reported`` counts every agency's, as the settlement check does (docs/cases.md).
    """
    # The case page's module builds on this one, so it is imported where it is needed.
    from portal.cases.activity import case_activity

    activity = activity or case_activity(actor, case)
    placement = placement_for_viewer(actor, case)
    summary = case_summary(actor, case, placement, flags=activity.flags, balance=activity.balance)
    summary.update(
        {
            "loan_ref": case.loan_ref,
            "product": case.product,
            "principal": f"{case.principal:.2f}",
            "flags_since": {f.flag: None if f.since is None else f.since.isoformat() for f in activity.flags},
            "debtor": debtor_view(actor, case),
            "phones": phones_view(actor, case),
            "placement": None
            if placement is None
            else {
                "agency": placement.agency.code,
                "placed_at": placement.placed_at.isoformat(),
                "expires_at": placement.expires_at.isoformat(),
                "ended_at": placement.ended_at.isoformat() if placement.ended_at else None,
                "end_reason": placement.end_reason,
            },
            "contacts_count": activity.contacts,
            "settled_amount": f"{activity.balance.reported:.2f}",
        }
    )
    return summary
