"""Processing a queued upload: parse as a stream, validate against the portal's data, store in batches."""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select, update

from portal.accounts.models import User
from portal.agencies.models import Agency
from portal.audit.receipts import receipt_for
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.models import Case, Placement
from portal.compliance.services import (
    NewFinding,
    StoredContactView,
    evaluate_contacts,
    placement_inactive,
    store_findings,
)
from portal.contacts.services import ROW_INDEX, ContactRow, ContactStore, StoredBatch
from portal.db import in_values, utcnow
from portal.extensions import db
from portal.money.models import Settlement
from portal.money.services import balance_issue
from portal.plugins import N_, ContactRecord, ParseContext, ParsedRow, RowIssue, SettlementRecord
from portal.security import Actor, Role
from portal.streams import ReadTap
from portal.uploads.jobs import confirm_lease, is_database_fault
from portal.uploads.models import Upload, UploadError
from portal.uploads.services import plugin_manager, storage_root
from portal.uploads.storage import blob_path

log = logging.getLogger(__name__)

BATCH = 5000
# Agencies' clocks drift; a contact a few minutes "in the future" is not an error.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Tally:
    rows_total: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    file_error: RowIssue | None = None
    errors_pending: list[dict[str, Any]] = field(default_factory=list)
    findings: int = 0
    last_row: int = 0

    def see(self, row: int) -> None:
        if row > self.last_row:
            self.rows_total += row - self.last_row
            self.last_row = row

    def reject(self, issue: RowIssue) -> None:
        if issue.row == 0:
            self.file_error = self.file_error or issue
        else:
            self.see(issue.row)
            self.rejected_rows.add(issue.row)
        self.errors_pending.append(error_values(issue))


def error_values(issue: RowIssue) -> dict[str, Any]:
    """An issue as the values of one upload_errors row (every key always present: one bulk insert)."""
    return {
        "row": issue.row,
        "field": issue.field,
        "code": issue.code,
        "message": issue.message,
        "column": issue.column,
        "line": issue.line,
        "template": issue.template,
        "params": dict(issue.params) or None,
    }


@dataclass(frozen=True, slots=True)
class CaseWindow:
    """A case's placements with the uploading agency, to decide unknown_case vs case_not_assigned."""

    case_id: int
    balance: Decimal
    windows: tuple[tuple[datetime, datetime], ...]

    def placed_at(self, moment: datetime) -> bool:
        # A loop, not any(<generator>): this runs once a row, and the generator costs twice as much.
        for start, end in self.windows:  # noqa: SIM110
            if start <= moment < end:
                return True
        return False


ProgressCallback = Callable[[int, int, int], None]


class UploadProcessor:
    """Runs one upload through its adapter and the portal's checks, in one transaction."""

    def __init__(self, upload: Upload, on_progress: ProgressCallback | None = None) -> None:
        self.upload = upload
        self.on_progress = on_progress
        self.stream: ReadTap | None = None
        self.findings_pending: list[NewFinding] = []
        self.case_windows: dict[str, CaseWindow | None] = {}
        self.agency: Agency = upload.agency
        self.zone = ZoneInfo(self.agency.timezone)
        self.tally = Tally()
        self.now = utcnow()
        uploader = db.session.get(User, upload.user_id) if upload.user_id else None
        self.actor = Actor(
            user_id=upload.user_id,
            role=Role(uploader.role) if uploader else None,
            agency_id=upload.agency_id,
            source=upload.source,
        )

    # --- shared -----------------------------------------------------------------------------

    def items(self) -> Iterator[ParsedRow | RowIssue]:
        context = ParseContext(
            kind=self.upload.kind,
            timezone=self.agency.timezone,
            filename=self.upload.filename,
            agency_code=self.agency.code,
        )
        from flask import current_app

        from portal.plugins.isolation import Isolation, isolated_parse

        # The adapter runs in a child process: a file that crashes it or runs away rejects itself, not the worker.
        isolation = Isolation.from_config(current_app.config)
        with blob_path(storage_root(), self.upload.sha256).open("rb") as raw:
            self.stream = ReadTap(raw)
            stream = io.BufferedReader(self.stream)
            yield from isolated_parse(plugin_manager(), self.upload.format_key, stream, context, isolation=isolation)

    def moment(self, value: datetime) -> datetime:
        """Naive times in agency files are the agency's wall clock (contract 5.1)."""
        return value.replace(tzinfo=self.zone) if value.tzinfo is None else value

    def windows(self, case_refs: set[str], reads: Connection | None = None) -> dict[str, CaseWindow | None]:
        """Each case named so far: its placements with this agency, or None (unknown_case).

        Kept across batches: an agency's file names the same cases again and again. ``reads``
        is a connection of its own while a ContactStore thread holds the session's.
        """
        missing = case_refs - self.case_windows.keys()
        if missing:
            execute = reads.execute if reads is not None else db.session.execute
            # One query: a case never placed with this agency has no row here, which is unknown_case.
            placed = execute(
                select(
                    Case.case_ref,
                    Case.id,
                    Case.outstanding_balance,
                    Placement.placed_at,
                    Placement.ended_at,
                    Placement.expires_at,
                )
                .join(Placement, Placement.case_id == Case.id)
                .where(in_values(Case.case_ref, missing, db.engine.dialect.name), Placement.agency_id == self.agency.id)
            ).all()
            spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
            for case_ref, _, _, placed_at, ended_at, expires_at in placed:
                spans[case_ref].append((placed_at, min(ended_at, expires_at) if ended_at else expires_at))
            self.case_windows.update(dict.fromkeys(missing))
            for case_ref, case_id, balance, *_ in placed:
                if case_ref in spans:
                    self.case_windows[case_ref] = CaseWindow(
                        case_id=case_id, balance=balance, windows=tuple(spans.pop(case_ref))
                    )
        return self.case_windows

    def reject_row(self, item: ParsedRow, field_name: str, code: str, template: str, **params: str | int) -> None:
        """Reject a parsed row, naming the file's own column and line for it."""
        self.tally.reject(
            RowIssue.of(item.row, field_name, code, template, column=item.column(field_name), line=item.line, **params)
        )

    def check_case(
        self,
        item: ParsedRow,
        case_ref: str,
        moment: datetime,
        field_name: str,
        windows: dict[str, CaseWindow | None],
        what: str,
    ) -> CaseWindow | None:
        row = item.row
        window = windows.get(case_ref)
        if window is None:
            self.reject_row(
                item, "case_ref", "unknown_case", N_("no case %(case_ref)s is placed with you"), case_ref=case_ref
            )
            return None
        if moment > self.now + CLOCK_SKEW:
            self.reject_row(
                item, field_name, "future_date", N_("%(column)s %(value)s is in the future"), value=moment.isoformat()
            )
            return None
        if not window.placed_at(moment):
            self.reject_row(
                item,
                field_name,
                "case_not_assigned",
                N_("case %(case_ref)s was not placed with you at %(moment)s"),
                case_ref=case_ref,
                moment=moment.isoformat(),
            )
            self.findings_pending.append(
                placement_inactive(
                    agency_id=self.agency.id,
                    case_id=window.case_id,
                    upload_id=self.upload.id,
                    row=row,
                    occurred_at=moment,
                    what=what,
                )
            )
            return None
        return window

    def flush_errors(self) -> None:
        """Rejected rows and findings so far go to the database in bulk (Core inserts, no unit of work)."""
        if self.tally.errors_pending:
            db.session.execute(
                UploadError.__table__.insert(), [dict(e, upload_id=self.upload.id) for e in self.tally.errors_pending]
            )
            self.tally.errors_pending.clear()
        self.tally.findings += store_findings(self.findings_pending)
        self.findings_pending.clear()

    def report_progress(self) -> None:
        """Progress goes through its own connection so that pollers see it before the commit."""
        read = self.stream.bytes_read if self.stream else 0
        if self.on_progress:
            self.on_progress(self.tally.rows_total, read, self.upload.size)
        if db.engine.dialect.name != "postgresql":
            return  # SQLite allows one writer: the processing transaction holds it
        with db.engine.begin() as connection:
            connection.execute(
                update(Upload)
                .where(Upload.id == self.upload.id)
                .values(rows_processed=self.tally.rows_total, bytes_processed=read)
            )

    # --- contacts ---------------------------------------------------------------------------

    def run_contacts(self) -> None:
        # While the store's thread holds the transaction's connection, placements are read on another.
        reads = db.engine.connect() if db.engine.dialect.name == "postgresql" else None
        try:
            with ContactStore() as store:
                batch: list[ParsedRow] = []
                for item in self.items():
                    if isinstance(item, RowIssue):
                        self.tally.reject(item)
                        continue
                    self.tally.see(item.row)
                    batch.append(item)
                    if len(batch) >= BATCH:
                        self.store_contacts(store, batch, reads)
                        batch = []
                if batch:
                    self.store_contacts(store, batch, reads)
                self.stored(store.drain())
                self.flush_errors()
        finally:
            if reads is not None:
                reads.close()

    def store_contacts(self, store: ContactStore, batch: list[ParsedRow], reads: Connection | None) -> None:
        windows = self.windows({item.record.case_ref for item in batch}, reads)
        rows: list[ContactRow] = []
        upload_id, agency_id, now = self.upload.id, self.agency.id, self.now
        rejected, latest = self.tally.rejected_rows, self.now + CLOCK_SKEW
        for item in batch:
            record: ContactRecord = item.record  # type: ignore[assignment]
            if item.row in rejected:
                continue
            local = self.moment(record.contacted_at)
            # Converted once: comparisons between UTC times skip the zone lookups mixed ones make.
            moment = local.astimezone(UTC)
            window = windows.get(record.case_ref)
            # The common case inline; check_case words every rejection (in the row's own time).
            if window is None or moment > latest or not window.placed_at(moment):
                window = self.check_case(item, record.case_ref, local, "contacted_at", windows, "contact")
                if window is None:
                    continue
            rows.append(
                (
                    upload_id,
                    agency_id,
                    window.case_id,
                    item.row,
                    moment,
                    record.channel,
                    record.party,
                    record.phone or "",
                    record.outcome,
                    record.is_conversation,
                    record.duration_s,
                    record.promise_amount,
                    record.promise_date,
                    record.collector_id,
                    record.recording_ref,
                    record.notes,
                    now,
                )
            )
        self.stored(store.submit(rows))
        if self.tally.errors_pending or self.findings_pending:
            # Rejections and findings go through the session, which the store's thread must release first.
            self.stored(store.drain())
            self.flush_errors()
        self.report_progress()

    def stored(self, batches: list[StoredBatch]) -> None:
        """Count what the store inserted and what it skipped as held already; run the compliance step."""
        for rows, inserted in batches:
            self.tally.accepted += len(inserted)
            self.tally.duplicate += len(rows) - len(inserted)
            self.findings_pending += evaluate_contacts(
                agency_id=self.agency.id, upload_id=self.upload.id, contacts=stored_views(rows, inserted)
            )

    # --- settlements ------------------------------------------------------------------------

    def run_settlements(self) -> list[Settlement]:
        """All or nothing: every row is checked; any problem rejects the file and stores none of it."""
        parsed: list[ParsedRow] = []
        for item in self.items():
            if isinstance(item, RowIssue):
                self.tally.reject(item)
            else:
                self.tally.see(item.row)
                parsed.append(item)
        refs = {item.record.case_ref for item in parsed}
        windows = self.windows(refs)
        case_ids = sorted({w.case_id for w in windows.values() if w is not None})
        # Lock the cases first: two uploads settling the same case must take turns.
        db.session.execute(select(Case.id).where(Case.id.in_(case_ids)).order_by(Case.id).with_for_update()).all()
        settled = dict(
            db.session.execute(
                select(Settlement.case_id, func.sum(Settlement.amount))
                .where(Settlement.case_id.in_(case_ids))
                .group_by(Settlement.case_id)
            ).all()
        )
        refs_taken = set(
            db.session.execute(
                select(Settlement.payment_ref).where(
                    Settlement.agency_id == self.agency.id,
                    Settlement.payment_ref.in_({item.record.payment_ref for item in parsed}),
                )
            ).scalars()
        )
        seen_refs: dict[str, int] = {}
        settlements: list[Settlement] = []
        for item in parsed:
            record: SettlementRecord = item.record  # type: ignore[assignment]
            if item.row in self.tally.rejected_rows:
                continue
            moment = self.moment(record.paid_at)
            window = self.check_case(item, record.case_ref, moment, "paid_at", windows, "settlement")
            if window is None:
                continue
            if record.payment_ref in refs_taken:
                self.reject_row(
                    item,
                    "payment_ref",
                    "duplicate_payment_ref",
                    N_("%(column)s %(value)s was reported in an earlier upload"),
                    value=record.payment_ref,
                )
                continue
            if record.payment_ref in seen_refs:
                self.reject_row(
                    item,
                    "payment_ref",
                    "duplicate_payment_ref",
                    N_("%(column)s %(value)s already appears in row %(first)s"),
                    value=record.payment_ref,
                    first=seen_refs[record.payment_ref],
                )
                continue
            seen_refs[record.payment_ref] = item.row
            remaining = window.balance - settled.get(window.case_id, Decimal("0"))
            issue = balance_issue(item.row, record, remaining, line=item.line, columns=item.columns)
            if issue:
                self.tally.reject(issue)
                continue
            settled[window.case_id] = settled.get(window.case_id, Decimal("0")) + record.amount
            settlements.append(
                Settlement(
                    upload_id=self.upload.id,
                    agency_id=self.agency.id,
                    case_id=window.case_id,
                    row=item.row,
                    paid_at=moment,
                    amount=record.amount,
                    method=record.method,
                    payment_ref=record.payment_ref,
                    type=record.type,
                    waiver_amount=record.waiver_amount,
                    notes=record.notes,
                    created_at=self.now,
                )
            )
        return settlements


def stored_views(rows: list[ContactRow], inserted: list[tuple[int, int]]) -> Iterator[StoredContactView]:
    """What the compliance step sees of the contacts just inserted, in time order (built only if it looks)."""
    by_row = {row[ROW_INDEX]: row for row in rows}
    views = []
    for contact_id, row_number in inserted:
        (_, _, case_id, row, contacted_at, channel, party, phone, outcome, connected, *_, recording_ref, notes, _) = (
            by_row[row_number]
        )
        views.append(
            StoredContactView(
                contact_id=contact_id,
                case_id=case_id,
                row=row,
                contacted_at=contacted_at,
                channel=channel,
                party=party,
                phone=phone,
                outcome=outcome,
                connected=connected,
                recording_ref=recording_ref,
                notes=notes,
            )
        )
    yield from sorted(views, key=lambda view: view.contacted_at)


def process_upload(upload_id: int, on_progress: ProgressCallback | None = None, *, lease: str | None = None) -> Upload:
    """Process a queued upload to ``completed`` or ``rejected``; safe to call twice.

    With ``lease`` (an attempt ``portal.uploads.jobs.run_upload`` claimed), only while the upload
    holds that lease, and the work commits only if it still does. A database failure is raised,
    not taken for a bad file: the attempt is retried.
    """
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        raise LookupError(f"no upload {upload_id}")
    if lease is not None:
        if upload.status != "processing" or upload.lease_owner != lease:
            return upload
    elif upload.status != "queued":
        return upload
    else:
        upload.status = "processing"
        upload.started_at = utcnow()
        db.session.commit()
    processor = UploadProcessor(upload, on_progress)
    settlements: list[Settlement] = []
    try:
        if upload.kind == "contacts":
            processor.run_contacts()
        else:
            settlements = processor.run_settlements()
    except Exception as exc:
        if is_database_fault(exc):
            raise  # not the file's fault: the attempt is retried (portal/uploads/jobs.py)
        log.exception("upload %s failed while processing", upload_id)
        db.session.rollback()
        processor = UploadProcessor(upload)
        processor.tally.reject(RowIssue.of(0, "", "unreadable_file", N_("the file could not be processed")))
        settlements = []
    _finish(processor, settlements, lease)
    return upload


def _finish(processor: UploadProcessor, settlements: list[Settlement], lease: str | None = None) -> None:
    tally, upload = processor.tally, processor.upload
    rejected_whole = tally.file_error is not None or (upload.kind == "settlements" and tally.rejected_rows)
    if tally.file_error is not None:
        # A file that is unreadable part-way is rejected whole: drop what the batches stored.
        db.session.rollback()
        upload = db.session.get(Upload, upload.id)
        processor.upload = upload
        tally.errors_pending = [e for e in tally.errors_pending if e["row"] == 0] or [error_values(tally.file_error)]
        tally.findings = 0
        processor.findings_pending.clear()
    if lease is not None:
        confirm_lease(upload.id, lease)
        # The lease ends in the commit that finishes the upload: never completed and still leased.
        upload.lease_owner = upload.lease_expires_at = None
    processor.flush_errors()
    if rejected_whole:
        upload.status = "rejected"
        upload.rows_accepted = 0
        upload.rows_duplicate = 0
        upload.rows_rejected = tally.rows_total
    else:
        for settlement in settlements:
            db.session.add(settlement)
        db.session.flush()
        for settlement in settlements:
            record_event(
                actor=processor.actor,
                action=AuditTag.SETTLEMENT_RECORD,
                object_type="case",
                object_id=settlement.case_id,
                agency_id=upload.agency_id,
                details={
                    "upload_id": upload.id,
                    "settlement_id": settlement.id,
                    "row": settlement.row,
                    "amount": settlement.amount,
                    "type": settlement.type,
                    "waiver_amount": settlement.waiver_amount,
                    "payment_ref": settlement.payment_ref,
                },
            )
        upload.status = "completed"
        upload.rows_accepted = tally.accepted + len(settlements)
        upload.rows_duplicate = tally.duplicate
        upload.rows_rejected = len(tally.rejected_rows)
    upload.rows_total = tally.rows_total
    upload.rows_processed = tally.rows_total
    upload.findings_total = tally.findings
    upload.completed_at = utcnow()
    completion = record_event(
        actor=processor.actor,
        action=AuditTag.UPLOAD_COMPLETE if upload.status == "completed" else AuditTag.UPLOAD_REJECT,
        object_type="upload",
        object_id=upload.public_id,
        agency_id=upload.agency_id,
        outcome="success" if upload.status == "completed" else "failure",
        details={
            "sha256": upload.sha256,
            "kind": upload.kind,
            "adapter": upload.adapter,
            "format": upload.format_key,
            "rows_total": upload.rows_total,
            "rows_accepted": upload.rows_accepted,
            "rows_rejected": upload.rows_rejected,
            "rows_duplicate": upload.rows_duplicate,
            "findings_total": upload.findings_total,
        },
    )
    upload.completion_seq = completion.seq
    db.session.commit()
    try:
        # Sign a checkpoint covering the completion now, so the receipt exists when the agency asks.
        receipt_for(completion.seq, include_event=False)
    except Exception:  # the upload is done; a receipt can still be made on the next read
        log.exception("could not sign a checkpoint for upload %s", upload.id)
