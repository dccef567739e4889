"""PostgreSQL only: the append-only triggers, and concurrent writers that can neither fork nor reorder the log."""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import uuid

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from portal.audit.checkpoints import make_checkpoint
from portal.audit.integrity import verify_trail
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.extensions import db
from portal.security import Actor
from tests.audit.conftest import append_events, postgres_only

pytestmark = [pytest.mark.postgres, postgres_only]

REFUSALS = [
    "UPDATE audit_events SET outcome = 'failure'",
    "DELETE FROM audit_events WHERE seq = 1",
    "TRUNCATE audit_events",
    "UPDATE audit_checkpoints SET root_hash = repeat('0', 64)",
    "DELETE FROM audit_checkpoints",
    "TRUNCATE audit_checkpoints",
]


@pytest.mark.parametrize("statement", REFUSALS)
def test_triggers_refuse_changing_or_removing_audit_rows(ctx, statement):
    append_events(2)
    make_checkpoint()
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == 2
    assert db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar() == 1
    assert verify_trail().ok


def test_the_migration_installs_the_same_triggers(database_url):
    from flask_migrate import upgrade

    from portal import create_app

    name = f"portal_audit_triggers_{uuid.uuid4().hex[:8]}"
    server = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade(revision="a1c0de0a0d17")
            with db.engine.connect() as conn:
                triggers = conn.execute(
                    text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")
                ).scalars()
                assert list(triggers) == ["audit_checkpoints_append_only", "audit_events_append_only"]
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(text("DELETE FROM audit_events"))
            db.engine.dispose()
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


WRITERS = 8
EVENTS_PER_WRITER = 30


def _write(app: Flask, writer: int, errors: list[BaseException]) -> None:
    """One writer with its own app context, session and connection; some transactions roll back."""
    rng = random.Random(writer)
    try:
        with app.app_context():
            actor = Actor.system(source=f"w{writer}")
            written = 0
            while written < EVENTS_PER_WRITER:
                batch = rng.choice((1, 1, 2, 3))
                for _ in range(batch):
                    record_event(actor=actor, action=AuditTag.AGENCY_UPDATE, details={"writer": writer})
                if rng.random() < 0.15:
                    db.session.rollback()  # a failed request: its seqs are reused, never skipped
                    continue
                db.session.commit()
                written += batch
            db.session.remove()
    except BaseException as exc:
        errors.append(exc)


def test_concurrent_threads_append_gap_free_and_verify(app, caplog):
    app.config["PORTAL_AUDIT_CHECKPOINT_EVERY"] = 25
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_write, args=(app, w, errors)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "an automatic checkpoint failed"
    with app.app_context():
        seqs = list(db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars())
        assert len(seqs) >= WRITERS * EVENTS_PER_WRITER and seqs == list(range(1, len(seqs) + 1))
        by_writer = dict(db.session.execute(select(AuditEvent.source, func.count()).group_by(AuditEvent.source)).all())
        assert set(by_writer) == {f"w{w}" for w in range(WRITERS)}
        assert min(by_writer.values()) >= EVENTS_PER_WRITER
        checkpoints = list(db.session.execute(select(AuditCheckpoint.tree_size)).scalars())
        assert checkpoints, "the writers crossed multiples of 25: automatic checkpoints were due"
        report = verify_trail()
        assert report.ok, report.describe()
        assert report.checkpoints == len(checkpoints)


def _process_writer(url: str, instance: str, writer: int, count: int) -> None:
    os.environ["PORTAL_INSTANCE_PATH"] = instance
    from portal import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PORTAL_AUDIT_CHECKPOINT_EVERY": 20})
    with app.app_context():
        actor = Actor.system(source=f"p{writer}")
        for i in range(count):
            record_event(actor=actor, action=AuditTag.AGENCY_UPDATE, details={"writer": writer, "i": i})
            db.session.commit()
        db.engine.dispose()


def test_concurrent_processes_append_gap_free_and_verify(app, database_url, instance_dir):
    """Like gunicorn or RQ workers: separate processes, engines and connections."""
    spawn = multiprocessing.get_context("spawn")
    processes = [spawn.Process(target=_process_writer, args=(database_url, str(instance_dir), w, 40)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    with app.app_context():
        seqs = list(db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars())
        assert seqs == list(range(1, 161))
        per_process = dict(
            db.session.execute(select(AuditEvent.source, func.count()).group_by(AuditEvent.source)).all()
        )
        assert per_process == {"p0": 40, "p1": 40, "p2": 40, "p3": 40}
        report = verify_trail()
        assert report.ok and report.events == 160 and report.checkpoints >= 1, report.describe()
