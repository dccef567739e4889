"""Settlement rules: what a payment may be, given what the case still owes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from portal.plugins import N_, RowIssue, SettlementRecord
from portal.plugins.records import NO_COLUMNS


def balance_issue(
    row: int,
    record: SettlementRecord,
    remaining: Decimal,
    *,
    line: int | None = None,
    columns: Mapping[str, str] = NO_COLUMNS,
) -> RowIssue | None:
    """The row issue of a settlement that the remaining balance does not allow, or None.

    ``line`` and ``columns`` (field -> the file's header) come from the row's ParsedRow, so
    that the issue names the column the agency wrote.
    """
    amount, left = f"{record.amount}", f"{remaining}"
    if record.amount > remaining:
        return RowIssue.of(
            row,
            "amount",
            "exceeds_balance",
            N_("%(column)s %(amount)s is more than the case's remaining balance %(remaining)s"),
            column=columns.get("amount", ""),
            line=line,
            amount=amount,
            remaining=left,
        )
    if record.type == "full" and record.amount != remaining:
        return RowIssue.of(
            row,
            "type",
            "invalid_value",
            N_("a full payment must equal the remaining balance %(remaining)s, not %(amount)s"),
            column=columns.get("type", ""),
            line=line,
            amount=amount,
            remaining=left,
        )
    if record.type == "settlement" and record.amount + (record.waiver_amount or 0) != remaining:
        return RowIssue.of(
            row,
            "waiver_amount",
            "invalid_value",
            N_("%(amount_column)s + %(column)s must equal the remaining balance %(remaining)s"),
            column=columns.get("waiver_amount", ""),
            line=line,
            amount_column=columns.get("amount") or "amount",
            remaining=left,
        )
    return None
