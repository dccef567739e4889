"""What a case still owes: the lender's balance less the settlements agencies reported.

One rule, used by the settlement check (an upload's amount may not exceed it) and by every
place a balance is shown (the case page, the case list, the API), so that what a collector
reads is what the next settlement upload will be checked against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select

from portal.extensions import db
from portal.money.models import Settlement

ZERO = Decimal("0.00")


def remaining_balance(outstanding: Decimal, settled: Decimal) -> Decimal:
    """The lender's ``outstanding`` balance less every reported settlement ``settled`` on the case.

    Waivers are not subtracted, exactly as the settlement check has it: after a settlement with
    a waiver, the waived part still counts as owed until the lender's next import (docs/cases.md).
    """
    return outstanding - settled


def settled_by_case(case_ids: Iterable[int]) -> dict[int, Decimal]:
    """The sum of reported settlement amounts per case, counting every agency's (the check's total)."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Settlement.case_id, func.sum(Settlement.amount))
        .where(Settlement.case_id.in_(ids))
        .group_by(Settlement.case_id)
    ).all()
    return {case_id: Decimal(total) for case_id, total in rows}


@dataclass(frozen=True)
class CaseBalance:
    """A case's balance as one viewer may read it.

    ``lender_balance``: the case's ``outstanding_balance`` from the lender's last cases import.
    ``reported``: the settlements the viewer may see (an agency: only its own; lender staff: all).
    ``after_reported``: ``lender_balance`` less every agency's settlements, the figure the
    settlement check allows; for an agency it is shown as one figure, never split by agency.
    """

    lender_balance: Decimal
    reported: Decimal
    after_reported: Decimal


def case_balances(cases: Iterable[tuple[int, Decimal]], *, agency_id: int | None) -> dict[int, CaseBalance]:
    """``CaseBalance`` per case of ``(case_id, outstanding_balance)`` pairs, in one query.

    ``agency_id``: the viewing agency (its own settlements are its ``reported``), or None for lender staff.
    """
    outstanding = dict(cases)
    if not outstanding:
        return {}
    own = (
        Settlement.amount
        if agency_id is None
        else case((Settlement.agency_id == agency_id, Settlement.amount), else_=0)
    )
    rows = db.session.execute(
        select(Settlement.case_id, func.sum(Settlement.amount), func.sum(own))
        .where(Settlement.case_id.in_(sorted(outstanding)))
        .group_by(Settlement.case_id)
    ).all()
    totals = {case_id: (Decimal(every), Decimal(visible)) for case_id, every, visible in rows}
    balances = {}
    for case_id, lender_balance in outstanding.items():
        every, visible = totals.get(case_id, (ZERO, ZERO))
        balances[case_id] = CaseBalance(
            lender_balance=lender_balance,
            reported=visible,
            after_reported=remaining_balance(lender_balance, every),
        )
    return balances
