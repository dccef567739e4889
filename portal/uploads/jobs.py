"""Running uploads: on RQ workers when PORTAL_REDIS_URL is set, in the same process otherwise.

An attempt at an upload holds a lease (``uploads.lease_owner``/``lease_expires_at``) that a
heartbeat renews; a worker that dies stops renewing it, and the reaper hands the upload to
another attempt, up to ``PORTAL_UPLOAD_MAX_ATTEMPTS``, then rejects it with a reason the agency
can read. Processing writes in one transaction, so an attempt that dies leaves nothing stored
and the next one starts from the beginning. See docs/uploads.md ("When a worker dies").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.db import utcnow
from portal.errors import _l
from portal.extensions import db
from portal.plugins import N_
from portal.security import Actor
from portal.uploads.models import Upload, UploadError

log = logging.getLogger(__name__)

QUEUE = "uploads"
JOB_TIMEOUT = 4 * 3600
_apps: dict[int, Flask] = {}
# The `flask worker` process; a work-horse RQ forked from it must not reuse its database connections.
_worker_pid: int | None = None
# What the database failing looks like through SQLAlchemy (as opposed to the file): retried, not rejected.
DATABASE_FAULTS = (OperationalError, InterfaceError)
# The agency reads this on the upload (row 0) when every attempt failed: stored as a template with its
# parameters, and translated when shown, like the adapters' row messages.
EXHAUSTED = N_("processing failed %(attempts)s times; send the file again or contact the lender")
# What a client reads (HTTP 503) when the database itself cannot be reached.
DATABASE_UNAVAILABLE = _l("the portal's database cannot be reached at the moment; send the file again shortly")


class LeaseLostError(RuntimeError):
    """The upload's lease is no longer this attempt's: another attempt took the upload over."""


@dataclass(frozen=True)
class JobSettings:
    """The job settings of one app (docs/uploads.md), read once and passed down."""

    redis_url: str | None
    queue: str = QUEUE
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 10.0
    reap_seconds: float = 30.0
    max_attempts: int = 3

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JobSettings:
        return cls(
            redis_url=config.get("PORTAL_REDIS_URL") or None,
            queue=config.get("PORTAL_UPLOAD_QUEUE") or QUEUE,
            lease_seconds=float(config.get("PORTAL_UPLOAD_LEASE_SECONDS", 60)),
            heartbeat_seconds=float(config.get("PORTAL_UPLOAD_HEARTBEAT_SECONDS", 10)),
            reap_seconds=float(config.get("PORTAL_UPLOAD_REAP_SECONDS", 30)),
            max_attempts=int(config.get("PORTAL_UPLOAD_MAX_ATTEMPTS", 3)),
        )

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


def is_database_fault(error: BaseException) -> bool:
    """Whether ``error`` is the database failing (connection lost, server gone, locked) rather than the file.

    The driver's own errors count as well as SQLAlchemy's: the contact store copies rows on a raw
    driver connection (portal/contacts/services.py), whose errors SQLAlchemy never wraps.
    """
    if isinstance(error, DATABASE_FAULTS) or (isinstance(error, DBAPIError) and error.connection_invalidated):
        return True
    driver = db.engine.dialect.loaded_dbapi
    return isinstance(error, (driver.OperationalError, driver.InterfaceError))


def current_settings() -> JobSettings:
    return JobSettings.from_config(current_app.config)


def redis_connection(url: str):
    from redis import Redis

    # Short timeouts: a dead Redis must fail a request in a moment, not hang it.
    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)


# --- the lease ------------------------------------------------------------------------------


def _stranded(now: datetime, settings: JobSettings) -> ColumnElement[bool]:
    """``processing`` uploads whose attempt is gone: the lease ran out (or, from before leases, none)."""
    return and_(
        Upload.status == "processing",
        or_(
            Upload.lease_expires_at < now,
            and_(
                Upload.lease_expires_at.is_(None),
                or_(Upload.started_at.is_(None), Upload.started_at < now - settings.lease),
            ),
        ),
    )


def _owner_name() -> str:
    # Host and pid say which process holds the upload (operators, and the fault tests, read it).
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def claim_upload(upload_id: int, settings: JobSettings) -> str | None:
    """Take the upload's lease for a new attempt; the lease token, or None when it is not to be had.

    One UPDATE decides: on PostgreSQL a second claimer waits on the row lock and then finds the
    condition no longer holds; on SQLite writers take turns. Progress starts again from zero:
    a dead attempt stored nothing.
    """
    now = utcnow()
    token = _owner_name()
    result = db.session.execute(
        update(Upload)
        .where(
            Upload.id == upload_id,
            Upload.attempts < settings.max_attempts,
            or_(Upload.status == "queued", _stranded(now, settings)),
        )
        .values(
            status="processing",
            lease_owner=token,
            lease_expires_at=now + settings.lease,
            attempts=Upload.attempts + 1,
            started_at=now,
            rows_processed=0,
            bytes_processed=0,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return token if result.rowcount == 1 else None


def confirm_lease(upload_id: int, token: str) -> None:
    """Lock the upload row and check the lease is still ``token``'s, before an attempt commits its work.

    Called by ``process_upload`` in its final transaction: an attempt that lost its lease (its
    heartbeat could not reach the database for a whole lease) must not store what the attempt
    that took over stores too.
    """
    owner = db.session.execute(
        select(Upload.lease_owner).where(Upload.id == upload_id).with_for_update()
    ).scalar_one_or_none()
    if owner != token:
        raise LeaseLostError(f"upload {upload_id}: the lease is no longer this attempt's")


def _release(engine: Engine, upload_id: int, token: str, *, requeue: bool) -> None:
    """Give the lease back: cleared once finished, or the upload ``queued`` again for the reaper."""
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
    if requeue:
        values["status"] = "queued"
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Upload).where(Upload.id == upload_id, Upload.lease_owner == token).values(**values)
            )
    except DATABASE_FAULTS:
        # The database is still away: the lease runs out by itself and the reaper retries.
        log.warning("upload %s: could not release its lease; it expires by itself", upload_id)


class Heartbeat(threading.Thread):
    """Renews an attempt's lease on a connection of its own while the attempt runs."""

    def __init__(self, engine: Engine, upload_id: int, token: str, settings: JobSettings) -> None:
        super().__init__(name=f"upload-{upload_id}-heartbeat", daemon=True)
        self.engine, self.upload_id, self.token, self.settings = engine, upload_id, token, settings
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.settings.heartbeat_seconds):
            try:
                with self.engine.begin() as connection:
                    renewed = connection.execute(
                        update(Upload)
                        .where(Upload.id == self.upload_id, Upload.lease_owner == self.token)
                        .values(lease_expires_at=utcnow() + self.settings.lease)
                    ).rowcount
            except Exception:  # a missed beat; a lease outlasts several
                log.warning("upload %s: heartbeat failed", self.upload_id, exc_info=True)
                continue
            if not renewed:
                # Finished (the lease ends with the work's commit), or taken over: then it will not commit.
                log.info("upload %s: the lease is no longer this attempt's; heartbeat stops", self.upload_id)
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.settings.heartbeat_seconds + 30)


def run_upload(upload_id: int, on_progress=None, settings: JobSettings | None = None) -> str:
    """One attempt at an upload under a lease: ``processed``, ``retry`` (the attempt failed and the
    upload is ``queued`` again, or its lease runs out), ``lost`` (another attempt took over) or
    ``skipped`` (finished, or another attempt holds it).

    Never raises for a fault of the database or of processing: the attempt counts, the reaper
    retries it, and after ``max_attempts`` the upload is rejected (``reject_exhausted``).

    SQLite has no heartbeat: it allows one writer, and the attempt's transaction holds the write
    lock, so no other attempt can take the lease over while this one lives (docs/uploads.md).
    """
    settings = settings or current_settings()
    try:
        token = claim_upload(upload_id, settings)
        if token is None:
            reject_exhausted(upload_id, settings)
            return "skipped"
    except Exception as exc:
        if not is_database_fault(exc):
            raise
        # Not claimed: the upload stays as it was (queued), and the reaper hands it on.
        log.warning("upload %s: the database cannot be reached to start it (%s); the reaper retries", upload_id, exc)
        _discard_session()
        return "retry"
    engine = db.engine
    beat = Heartbeat(engine, upload_id, token, settings) if engine.dialect.name != "sqlite" else None
    if beat is not None:
        beat.start()
    from portal.uploads.processing import process_upload

    try:
        process_upload(upload_id, on_progress, lease=token)
    except LeaseLostError:
        log.warning("upload %s: lease lost; the attempt that took over finishes it", upload_id)
        _discard_session()
        return "lost"
    except Exception as exc:
        # The database failed (a lost connection, a restart), or something unforeseen: this attempt
        # is over and counted; the upload waits for the next one, up to the last.
        if is_database_fault(exc):
            log.warning("upload %s: the database failed during processing (%s); it will be retried", upload_id, exc)
        else:
            log.exception("upload %s: processing failed unexpectedly; it will be retried", upload_id)
        _discard_session()
        _release(engine, upload_id, token, requeue=True)
        return "retry"
    finally:
        if beat is not None:
            beat.stop()
    _release(engine, upload_id, token, requeue=False)
    return "processed"


def _discard_session() -> None:
    """Roll the session back after a fault; the caller's objects stay in it, expired, to be read afresh."""
    for _ in range(2):
        try:
            db.session.rollback()
            return
        except Exception:
            # A rollback on a connection the server dropped fails once; SQLAlchemy then discards that
            # connection, and the next rollback succeeds.
            log.debug("rollback after a fault failed", exc_info=True)
    db.session.close()


def reject_exhausted(upload_id: int, settings: JobSettings) -> bool:
    """Reject an upload whose every attempt failed, with a row-0 reason the agency can read.

    Only an upload no attempt holds (``queued``, or ``processing`` with its lease run out) and
    whose attempts are used up; True when this call rejected it.
    """
    now = utcnow()
    row = db.session.execute(
        update(Upload)
        .where(
            Upload.id == upload_id,
            Upload.attempts >= settings.max_attempts,
            or_(Upload.status == "queued", _stranded(now, settings)),
        )
        .values(
            status="rejected",
            lease_owner=None,
            lease_expires_at=None,
            rows_total=0,
            rows_accepted=0,
            rows_rejected=0,
            rows_duplicate=0,
            rows_processed=0,
            findings_total=0,
            completed_at=now,
        )
        .returning(Upload.agency_id, Upload.sha256, Upload.kind, Upload.attempts, Upload.public_id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        db.session.rollback()
        return False
    agency_id, sha256, kind, attempts, public_id = row
    params = {"attempts": str(attempts)}
    db.session.add(
        UploadError(
            upload_id=upload_id,
            row=0,
            field="",
            code="unreadable_file",
            message=EXHAUSTED % params,
            template=EXHAUSTED,
            params=params,
        )
    )
    event = record_event(
        actor=Actor.system(source="worker"),
        action=AuditTag.UPLOAD_REJECT,
        object_type="upload",
        # The public id, as every upload event has: it is what the agency's receipt shows (contract 1).
        object_id=public_id,
        agency_id=agency_id,
        outcome="failure",
        details={"sha256": sha256, "kind": kind, "reason": "attempts_exhausted", "attempts": attempts},
    )
    db.session.execute(update(Upload).where(Upload.id == upload_id).values(completion_seq=event.seq))
    db.session.commit()
    log.warning("upload %s rejected after %s attempts", upload_id, attempts)
    return True


def requeue_stranded(upload_id: int, settings: JobSettings, now: datetime | None = None) -> bool:
    """A ``processing`` upload whose lease ran out goes back to ``queued``; True when this call did it."""
    now = now or utcnow()
    requeued = db.session.execute(
        update(Upload)
        .where(Upload.id == upload_id, _stranded(now, settings))
        .values(status="queued", lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if requeued:
        log.warning("upload %s: its attempt died (the lease ran out); queued again", upload_id)
    return bool(requeued)


def revive_upload(upload: Upload, settings: JobSettings) -> str | None:
    """What to do with an earlier upload of the same bytes when they are sent again.

    ``None``: it is alive (waiting its turn, being processed, or completed): the new send is a
    duplicate. ``"requeued"``: no attempt is working on it (the lease ran out, or it has waited
    queued longer than a lease): it is queued to be processed now. ``"rejected"``: its attempts
    are used up, so it is rejected and the new send becomes a new upload.
    """
    now = utcnow()
    if upload.status == "processing":
        expires = upload.lease_expires_at or ((upload.started_at or now) + settings.lease)
        if expires >= now:
            return None
    elif upload.status != "queued" or (upload.started_at or upload.created_at) >= now - settings.lease:
        return None
    if reject_exhausted(upload.id, settings):
        return "rejected"
    if upload.status == "processing" and not requeue_stranded(upload.id, settings, now):
        return None  # another request or the reaper revived it a moment ago
    return "requeued"


# --- queueing -------------------------------------------------------------------------------


def job_id(upload_id: int, queue: str = QUEUE) -> str:
    # Job ids are global in a Redis database: named by the queue too, two portals sharing it stay apart.
    # (RQ allows letters, digits, "_" and "-" in an id.)
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in queue)
    return f"{name}-upload-{upload_id}"


def enqueue_upload(upload_id: int, settings: JobSettings, connection=None) -> bool:
    """Put the upload on the RQ queue unless a job for it is waiting there; True when queued now.

    A job that failed, finished or was left ``started`` by a dead work-horse is replaced. Raises
    ``redis.exceptions.RedisError`` when Redis cannot be reached.
    """
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    assert settings.redis_url
    connection = connection or redis_connection(settings.redis_url)
    try:
        job = Job.fetch(job_id(upload_id, settings.queue), connection=connection)
    except NoSuchJobError:
        job = None
    if job is not None:
        if job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            return False
        job.delete()
    Queue(settings.queue, connection=connection).enqueue(
        process_upload_job,
        upload_id,
        job_id=job_id(upload_id, settings.queue),
        job_timeout=JOB_TIMEOUT,
        result_ttl=3600,
        failure_ttl=7 * 86400,
    )
    return True


def dispatch_upload(upload_id: int, on_progress=None) -> str:
    """Queue the upload on RQ, or process it now: ``queued``, ``deferred``, ``processed`` or ``retry``.

    ``deferred``: Redis cannot be reached. The upload stays ``queued`` in the database (the
    outbox) and the reaper of the next worker that runs enqueues it; nothing is lost.
    ``retry`` (in-process): the database failed mid-way; the upload is ``queued`` again (or its
    lease runs out) and the reaper retries it. Anything else ``run_upload`` says is ``processed``.
    """
    settings = current_settings()
    if settings.redis_url:
        from redis.exceptions import RedisError

        try:
            enqueue_upload(upload_id, settings)
        except RedisError as exc:
            log.warning("upload %s kept queued: Redis cannot be reached (%s)", upload_id, exc)
            return "deferred"
        return "queued"
    return "retry" if run_upload(upload_id, on_progress, settings) == "retry" else "processed"


def dispatch_note(outcome: str):
    """What the person who sent the file should know about how it was handed on, or None."""
    if outcome == "deferred":
        return _l("the job queue cannot be reached: the upload is kept and will be processed when it is back")
    if outcome == "retry":
        return _l("processing was interrupted: the upload is kept and will be retried automatically")
    return None


# --- the reaper -----------------------------------------------------------------------------


def reap_uploads(*, settings: JobSettings, now: datetime | None = None) -> dict[str, Any]:
    """Hand uploads no attempt is working on to a new attempt, or reject them after the last one.

    - ``processing`` with its lease run out: its attempt died (a killed work-horse, a lost
      database connection): back to ``queued``;
    - ``queued`` for longer than a lease with no job waiting for it (Redis was down when it was
      sent, or the job was lost): enqueued again (with Redis), or processed here (without);
    - either with every attempt used: ``rejected`` (``attempts_exhausted``).

    Returns ``{"requeued", "rejected", "dispatched", "deferred"}`` (upload ids).
    """
    now = now or utcnow()
    report: dict[str, list[int]] = {"requeued": [], "rejected": [], "dispatched": [], "deferred": []}
    stranded = list(db.session.execute(select(Upload.id).where(_stranded(now, settings))).scalars())
    for upload_id in stranded:
        if reject_exhausted(upload_id, settings):
            report["rejected"].append(upload_id)
            continue
        if requeue_stranded(upload_id, settings, now):
            report["requeued"].append(upload_id)
    # Queued longer than a lease: whatever was to run it (a job, a request) is not going to.
    waited = func.coalesce(Upload.started_at, Upload.created_at) < now - settings.lease
    waiting = list(
        db.session.execute(
            select(Upload.id)
            .where(Upload.status == "queued", or_(Upload.id.in_(report["requeued"]), waited))
            .order_by(Upload.id)
        ).scalars()
    )
    connection = None
    for upload_id in waiting:
        if reject_exhausted(upload_id, settings):
            report["rejected"].append(upload_id)
            continue
        if not settings.redis_url:
            run_upload(upload_id, settings=settings)
            report["dispatched"].append(upload_id)
            continue
        from redis.exceptions import RedisError

        try:
            connection = connection or redis_connection(settings.redis_url)
            if enqueue_upload(upload_id, settings, connection):
                report["dispatched"].append(upload_id)
        except RedisError:
            log.warning("upload %s stays queued: Redis cannot be reached", upload_id)
            report["deferred"].append(upload_id)
    return report


def reap_safely(app: Flask) -> dict[str, Any] | None:
    """One reap in ``app``'s context; a failure is logged, never raised (the next reap tries again)."""
    with app.app_context():
        try:
            return reap_uploads(settings=JobSettings.from_config(app.config))
        except Exception:
            log.exception("reaping uploads failed")
            return None
        finally:
            db.session.remove()


def _check_audit_tail(app: Flask) -> None:
    """Sign the audit tail if it is due: work-horses commit events and exit before their own timer fires."""
    from portal.audit.tail import checkpoint_if_due

    try:
        with app.app_context():
            checkpoint_if_due(app, background=True)
    except Exception:
        log.exception("checking the audit tail failed; the next reap or `flask audit checkpoint` retries")


# Held while a reaper thread reaps, and by `flask worker` while it forks a work-horse: a fork copies
# the locks other threads hold (SQLAlchemy's mapper configuration mutex, a pool's), and a work-horse
# forked mid-reap waited forever on one while its heartbeat kept its lease alive.
_reaping = threading.Lock()


class Reaper(threading.Thread):
    """Reaps every ``interval`` seconds (the first time at once) until stopped."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(name="upload-reaper", daemon=True)
        self.app, self.interval = app, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            with _reaping:
                reap_safely(self.app)
                _check_audit_tail(self.app)
            self.stopped.wait(self.interval)

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the reap in progress, if any (waiting up to ``timeout`` seconds for it)."""
        self.stopped.set()
        self.join(timeout)


_reapers: dict[tuple[int, int], Reaper] = {}
_reapers_lock = threading.Lock()


def start_reaper(app: Flask) -> Reaper | None:
    """Reap every ``PORTAL_UPLOAD_REAP_SECONDS`` in a daemon thread (one per app and process; 0: off)."""
    interval = float(app.config.get("PORTAL_UPLOAD_REAP_SECONDS", 30))
    if interval <= 0:
        return None
    # Keyed by process too: a process forked from this one (a work-horse, a gunicorn worker) has no thread.
    key = (id(app), os.getpid())
    with _reapers_lock:
        reaper = _reapers.get(key)
        if reaper is None or not reaper.is_alive():
            reaper = _reapers[key] = Reaper(app, interval)
            reaper.start()
        return reaper


# --- the worker -----------------------------------------------------------------------------


def _upload_worker_class():
    from rq import Worker

    class UploadWorker(Worker):
        """RQ's forking worker, forking only between two reaps (see ``_reaping``)."""

        def fork_work_horse(self, job, queue):
            # The work-horse never returns from here (it exits); the parent releases the lock.
            with _reaping:
                super().fork_work_horse(job, queue)

    return UploadWorker


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """``flask worker``: reap once, keep reaping in a thread, and work the queue."""
    global _worker_pid

    settings = JobSettings.from_config(app.config)
    assert settings.redis_url
    _worker_pid = os.getpid()
    # The reaper's thread reaps at once, then every PORTAL_UPLOAD_REAP_SECONDS.
    if burst or start_reaper(app) is None:
        reap_safely(app)
    worker = _upload_worker_class()([settings.queue], connection=redis_connection(settings.redis_url))
    worker.work(burst=burst)


def _worker_app() -> Flask:
    """One app per worker process (RQ forks a child per job: connections must not cross the fork)."""
    app = _apps.get(os.getpid())
    if app is None:
        from portal import create_app

        app = _apps[os.getpid()] = create_app()
    return app


def process_upload_job(upload_id: int) -> None:
    """The RQ job: one attempt at the upload."""
    try:
        current_app._get_current_object()
    except RuntimeError:
        with _worker_app().app_context():
            db.engine.dispose(close=False)
            run_upload(upload_id)
            db.session.remove()
        return
    if _worker_pid is not None and os.getpid() != _worker_pid:
        # A work-horse forked from `flask worker`: the parent's pooled connections are not ours.
        db.engine.dispose(close=False)
    run_upload(upload_id)
