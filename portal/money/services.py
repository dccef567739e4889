"""Settlement rules: what a payment may be, given what the case still owes."""

from __future__ import annotations

from decimal import Decimal

from portal.plugins import RowIssue, SettlementRecord


def balance_issue(row: int, record: SettlementRecord, remaining: Decimal) -> RowIssue | None:
    """The row issue of a settlement that the remaining balance does not allow, or None."""
    if record.amount > remaining:
        return RowIssue(
            row,
            "amount",
            "exceeds_balance",
            f"amount {record.amount} is more than the case's remaining balance {remaining}",
        )
    if record.type == "full" and record.amount != remaining:
        return RowIssue(
            row,
            "type",
            "invalid_value",
            f"a full payment must equal the remaining balance {remaining}, not {record.amount}",
        )
    if record.type == "settlement" and record.amount + (record.waiver_amount or 0) != remaining:
        return RowIssue(
            row,
            "waiver_amount",
            "invalid_value",
            f"amount + waiver_amount must equal the remaining balance {remaining}",
        )
    return None
