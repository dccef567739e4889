"""The audit tail: events newer than the newest checkpoint get one within PORTAL_AUDIT_CHECKPOINT_INTERVAL.

No daemon is needed. After a commit that appended events, the committing process signs at once
when the newest checkpoint is older than the interval; otherwise it arms one timer (a daemon
thread, one per app and process) for the moment the interval runs out, so a burst of events
followed by silence still gets its tail signed while the process lives. Short-lived processes
(CLI commands, RQ work-horses) may exit before their timer: ``flask audit checkpoint`` from cron
covers them. A witness that failed is retried by the same timer (docs/audit.md, "The tail").
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.audit.witness import Published, file_name
from portal.db import utcnow
from portal.extensions import db

_STATE = "portal.audit_tail"


class TailState:
    """Per app and process: the armed timer, and whether the witness URL missed a checkpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        self.url_failed = False
        self.dir_failed = False

    def note_published(self, size: int, published: Published, *, to_url: bool = True) -> None:
        """Remember whether the last publication missed a witness, so that the timer retries it."""
        if to_url:
            self.url_failed = any(e.startswith("checkpoint URL") for e in published.errors)
        self.dir_failed = any(e.startswith("checkpoint directory") for e in published.errors)

    def delivered(self, size: int, config: Any) -> bool:
        """Whether checkpoint ``size`` is where the settings want it (as far as this process knows)."""
        directory = config.get("PORTAL_AUDIT_CHECKPOINT_DIR")
        try:
            if directory and not (Path(directory) / file_name(size)).exists():
                return False
        except OSError:
            return False
        return not (config.get("PORTAL_AUDIT_CHECKPOINT_URL") and self.url_failed)

    @property
    def armed(self) -> bool:
        return self.timer is not None

    def arm(self, app: Flask, delay: float) -> None:
        """Run ``checkpoint_if_due`` in ``delay`` seconds, unless a timer is armed already."""
        with self.lock:
            if self.timer is not None:
                return
            self.timer = threading.Timer(max(delay, 0.0), _fire, args=(app,))
            self.timer.daemon = True
            self.timer.start()

    def cancel(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None


def tail_state(app: Flask) -> TailState:
    state = app.extensions.get(_STATE)
    if state is None:
        state = app.extensions[_STATE] = TailState()
    return state


def interval_of(app: Flask) -> int:
    return int(app.config.get("PORTAL_AUDIT_CHECKPOINT_INTERVAL") or 0)


def _fire(app: Flask) -> None:
    state = tail_state(app)
    with state.lock:
        state.timer = None
    try:
        with app.app_context():
            checkpoint_if_due(app, background=True)
            db.session.remove()
    except Exception:  # a timer thread has no caller to raise to; the next commit or cron retries
        app.logger.exception("audit tail checkpoint failed")


def checkpoint_if_due(app: Flask, *, background: bool = False) -> None:
    """Sign (and publish) a checkpoint when events are newer than the newest one and the interval has passed,
    else arm the timer for when it will have; publish the newest again when a witness missed it."""
    from portal.audit.checkpoints import checkpoint_quietly, latest_checkpoint, publish_latest_quietly, tree_size

    interval = interval_of(app)
    if interval <= 0:
        return
    state = tail_state(app)
    try:
        with Session(db.engine) as session:
            latest = latest_checkpoint(session)
            size = tree_size(session)
            latest_size = latest.tree_size if latest is not None else None
            due_at = latest.signed_at + timedelta(seconds=interval) if latest is not None else utcnow()
    except SQLAlchemyError:
        app.logger.exception("audit tail: the trail could not be read; the next commit or cron retries")
        return
    pending = latest_size is None or latest_size < size
    wait = (due_at - utcnow()).total_seconds()
    if pending and wait <= 0:
        checkpoint_quietly(app, background=background)  # signs the tail and publishes it
    elif latest_size is not None and not state.delivered(latest_size, app.config):
        publish_latest_quietly(app, background=background)
    if pending and wait > 0:
        state.arm(app, wait)
    elif state.url_failed or state.dir_failed:
        state.arm(app, interval)


def after_events_committed(app: Flask, first: int, last: int) -> None:
    """The commit hook: seqs ``first``..``last`` were just committed by this process."""
    from portal.audit.checkpoints import checkpoint_quietly

    every = int(app.config.get("PORTAL_AUDIT_CHECKPOINT_EVERY") or 0)
    state = tail_state(app)
    if every > 0 and last // every > (first - 1) // every:
        checkpoint_quietly(app)
        if (state.url_failed or state.dir_failed) and interval_of(app) > 0:
            state.arm(app, interval_of(app))
    elif interval_of(app) > 0 and not state.armed:
        checkpoint_if_due(app)
