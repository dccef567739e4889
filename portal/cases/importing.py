"""``flask cases import`` and the import page: insert or update cases from a lender cases file (contract 5.3)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases import validation as v
from portal.cases.flags import sync_imported_flags
from portal.cases.models import Case, Customer, CustomerPhone, bucket_for
from portal.csvfiles import iter_csv_rows
from portal.db import utcnow
from portal.errors import Message, PermissionDeniedError, _l
from portal.extensions import db
from portal.security import Actor, Role
from portal.streams import ReadTap

CASE_COLUMNS = (
    "case_ref",
    "loan_ref",
    "customer_id",
    "debtor_name",
    "id_number",
    "phones",
    "province",
    "timezone",
    "product",
    "principal",
    "outstanding_balance",
    "currency",
    "days_past_due",
    "flags",
)
OPTIONAL_COLUMNS = ("province", "timezone", "flags", "phones")
REQUIRED_COLUMNS = tuple(c for c in CASE_COLUMNS if c not in OPTIONAL_COLUMNS)
CHUNK = 500


@dataclass(frozen=True)
class RowError:
    """A rejected row of a lender file: ``row`` is the data row (contract 4.4), ``line`` the line of
    the file where it starts (what a person sees in an editor); ``message`` is translated when shown."""

    row: int
    field: str
    code: str
    message: Message
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "field": self.field,
            "code": self.code,
            "message": str(self.message),
        }


@dataclass
class ImportResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "applied": self.applied,
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass(frozen=True)
class CaseRow:
    row: int
    case_ref: str
    loan_ref: str
    customer_ref: str
    name: str
    id_number: str
    phones: list[tuple[str, str]]
    province: str | None
    timezone: str | None
    product: str
    principal: Any
    outstanding_balance: Any
    currency: str
    days_past_due: int
    flags: dict[str, date | None]


def _parse_row(number: int, row: dict[str, str], jurisdiction: str) -> CaseRow:
    return CaseRow(
        row=number,
        case_ref=v.reference(row, "case_ref"),
        loan_ref=v.reference(row, "loan_ref"),
        customer_ref=v.reference(row, "customer_id"),
        name=v.required(row, "debtor_name", max_length=100),
        id_number=v.id_number(row, jurisdiction),
        phones=v.phones(row),
        province=row.get("province", "").strip() or None,
        timezone=v.timezone(row),
        product=v.required(row, "product", max_length=40),
        principal=v.amount(row, "principal"),
        outstanding_balance=v.amount(row, "outstanding_balance"),
        currency=v.currency(row),
        days_past_due=v.whole_number(row, "days_past_due"),
        flags=v.flags(row),
    )


def import_cases(*, actor: Actor, stream: BinaryIO, filename: str = "", all_or_nothing: bool = False) -> ImportResult:
    """Insert new cases and update changed ones, in one transaction.

    Bad rows are reported (row, field, code, message) and skipped; with ``all_or_nothing``
    one bad row means nothing is stored. Re-importing the same file changes nothing.
    Raises FileFormatError when the file cannot be read at all (encoding, columns).
    """
    if not (actor.is_system or actor.role in (Role.LENDER_OPS, Role.ADMIN)):
        raise PermissionDeniedError(_l("only lender operations import cases"))
    result = ImportResult()
    jurisdiction = current_app.config["PORTAL_JURISDICTION"]
    digest = hashlib.sha256()
    hashing = io.BufferedReader(ReadTap(stream, digest.update))
    seen: dict[str, int] = {}  # case_ref -> the line it first appears on
    batch: list[CaseRow] = []
    for number, line, row in iter_csv_rows(hashing, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS):
        try:
            parsed = _parse_row(number, row, jurisdiction)
        except v.RowProblem as problem:
            result.errors.append(RowError(number, problem.field, problem.code, problem.message, line))
            continue
        if parsed.case_ref in seen:
            result.errors.append(
                RowError(
                    number,
                    "case_ref",
                    "invalid_value",
                    _l(
                        "case %(case_ref)s already appears on line %(line)s",
                        case_ref=parsed.case_ref,
                        line=seen[parsed.case_ref],
                    ),
                    line,
                )
            )
            continue
        seen[parsed.case_ref] = line
        batch.append(parsed)
        if len(batch) >= CHUNK:
            _apply(actor, batch, result)
            batch = []
    if batch:
        _apply(actor, batch, result)
    result.rejected = len(result.errors)
    if all_or_nothing and result.errors:
        db.session.rollback()
        result.applied = False
        result.inserted = result.updated = result.unchanged = 0
    record_event(
        actor=actor,
        action=AuditTag.CASE_IMPORT,
        object_type="case_file",
        object_id=digest.hexdigest(),
        outcome="success" if result.applied else "failure",
        details={
            "filename": filename,
            "sha256": digest.hexdigest(),
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "rejected": result.rejected,
            "all_or_nothing": all_or_nothing,
        },
    )
    db.session.commit()
    return result


def _apply(actor: Actor, rows: list[CaseRow], result: ImportResult) -> None:
    cases = {
        c.case_ref: c
        for c in db.session.execute(
            select(Case)
            .where(Case.case_ref.in_([r.case_ref for r in rows]))
            .options(selectinload(Case.flags), selectinload(Case.customer).selectinload(Customer.phones))
        ).scalars()
    }
    customers = {
        c.customer_ref: c
        for c in db.session.execute(
            select(Customer)
            .where(Customer.customer_ref.in_({r.customer_ref for r in rows}))
            .options(selectinload(Customer.phones))
        ).scalars()
    }
    now = utcnow()
    for row in rows:
        customer = customers.get(row.customer_ref)
        customer_changes: list[str] = []
        if customer is None:
            customer = Customer(
                customer_ref=row.customer_ref,
                name=row.name,
                id_number=row.id_number,
                province=row.province,
                timezone=row.timezone,
            )
            customer.phones = [CustomerPhone(number=n, party=p) for n, p in row.phones]
            db.session.add(customer)
            customers[row.customer_ref] = customer
        else:
            customer_changes = _update_customer(customer, row)
        case = cases.get(row.case_ref)
        if case is None:
            case = Case(
                case_ref=row.case_ref,
                loan_ref=row.loan_ref,
                customer=customer,
                product=row.product,
                principal=row.principal,
                outstanding_balance=row.outstanding_balance,
                currency=row.currency,
                days_past_due=row.days_past_due,
                bucket=bucket_for(row.days_past_due),
                status="open",
                created_at=now,
                updated_at=now,
            )
            db.session.add(case)
            db.session.flush()
            record_event(
                actor=actor,
                action=AuditTag.CASE_CREATE,
                object_type="case",
                object_id=case.id,
                details={
                    "case_ref": case.case_ref,
                    "bucket": case.bucket,
                    "outstanding_balance": case.outstanding_balance,
                },
            )
            sync_imported_flags(actor, case, row.flags, now)
            result.inserted += 1
            continue
        changes = _update_case(case, row, customer)
        if customer_changes:
            changes["customer"] = {"fields": customer_changes}
        flag_changes = sync_imported_flags(actor, case, row.flags, now)
        if changes:
            case.updated_at = now
            record_event(
                actor=actor,
                action=AuditTag.CASE_UPDATE,
                object_type="case",
                object_id=case.id,
                details={"case_ref": case.case_ref, "changed": changes},
            )
        if changes or flag_changes:
            result.updated += 1
        else:
            result.unchanged += 1
    db.session.flush()


def _update_customer(customer: Customer, row: CaseRow) -> list[str]:
    """Apply the file's personal data; return the names (never the values) of what changed."""
    changed = []
    for attr, value in (
        ("name", row.name),
        ("id_number", row.id_number),
        ("province", row.province),
        ("timezone", row.timezone),
    ):
        if getattr(customer, attr) != value:
            setattr(customer, attr, value)
            changed.append(attr)
    current = {(p.number, p.party) for p in customer.phones}
    if current != set(row.phones):
        by_number = {p.number: p for p in customer.phones}
        wanted = dict(row.phones)
        for number, phone in by_number.items():
            if number not in wanted:
                customer.phones.remove(phone)
            elif phone.party != wanted[number]:
                phone.party = wanted[number]
        for number, party in row.phones:
            if number not in by_number:
                customer.phones.append(CustomerPhone(number=number, party=party))
        changed.append("phones")
    return changed


def _update_case(case: Case, row: CaseRow, customer: Customer) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for attr, value in (
        ("loan_ref", row.loan_ref),
        ("product", row.product),
        ("principal", row.principal),
        ("outstanding_balance", row.outstanding_balance),
        ("currency", row.currency),
        ("days_past_due", row.days_past_due),
    ):
        old = getattr(case, attr)
        if old != value:
            changes[attr] = {"from": old, "to": value}
            setattr(case, attr, value)
    if "days_past_due" in changes:
        case.set_days_past_due(row.days_past_due)
    if case.customer_id != customer.id or case.customer is not customer:
        changes["customer_id"] = {"from": case.customer.customer_ref, "to": customer.customer_ref}
        case.customer = customer
    return changes
