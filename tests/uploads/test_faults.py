"""Faults with the real services: a work-horse killed mid-upload, a dead Redis, a terminated
database connection, and uploads stranded or out of attempts. None may strand an upload."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from portal.audit.models import AuditEvent
from portal.contacts.models import Contact
from portal.extensions import db
from portal.uploads.models import Upload, UploadError
from tests.conftest import POSTGRES_URL, login, redis_or_skip
from tests.uploads.conftest import CONTACT_HEADER, actor_for_email

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PORTAL_TEST_FAULTS_REDIS_URL", "redis://127.0.0.1:6379/14")
ZC_CASES = [f"ZY2026{n:05d}" for n in range(1, 41, 2)]  # the sample cases placed with ZC
on_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set PORTAL_TEST_DATABASE_URL)")


def contacts_csv(rows: int) -> bytes:
    """``rows`` valid, distinct letters to ZC's cases in November 2026 (letters: no call rules to judge)."""
    start = datetime(2026, 11, 2, tzinfo=UTC)  # written without an offset: the agency's wall clock
    lines = [CONTACT_HEADER]
    for n in range(rows):
        moment = (start + timedelta(seconds=10 * n)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{ZC_CASES[n % len(ZC_CASES)]},{moment},letter,debtor,,other,,,,,ZC{n % 7:03d},,\n")
    return "".join(lines).encode()


def post_file(client, data: bytes, name: str = "c.csv", **headers):
    """POST /api/v1/uploads with the multipart body built here, in memory.

    (Werkzeug's test client spools a body over 500 KB to a temporary file it never closes.)
    """
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncontacts\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/api/v1/uploads", data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=headers
    )


def documented(client, response) -> list[str]:
    """What in the POST's answer the OpenAPI document does not declare for its status (empty: all of it)."""
    from jsonschema import Draft202012Validator

    doc = client.get("/api/v1/openapi.json").get_json()
    answer = doc["paths"]["/uploads"]["post"]["responses"][str(response.status_code)]
    schema = answer["content"]["application/json"]["schema"]
    validator = Draft202012Validator({"components": doc["components"], **schema})
    return [error.message for error in validator.iter_errors(response.get_json())]


def submit(app, world, data: bytes, name: str = "contacts.csv") -> int:
    from portal.uploads.services import submit_upload

    with app.app_context():
        submission = submit_upload(
            actor=actor_for_email(world["zc_agent"]), kind="contacts", stream=io.BytesIO(data), filename=name
        )
        assert not submission.duplicate
        return submission.upload.id


def internal_id(app, public_id: str) -> int:
    """The upload's key inside the portal, from the public id a client sees (contract 1)."""
    with app.app_context():
        return db.session.execute(select(Upload.id).where(Upload.public_id == public_id)).scalar_one()


def public_id(app, upload_id: int) -> str:
    with app.app_context():
        return db.session.get(Upload, upload_id).public_id


def state(app, upload_id: int) -> Upload:
    with app.app_context():
        db.session.expire_all()
        upload = db.session.get(Upload, upload_id)
        db.session.expunge(upload)
        return upload


def stored_contacts(app, upload_id: int) -> tuple[int, int]:
    """Contacts the upload stored, and how many distinct identities among them."""
    with app.app_context():
        total = db.session.execute(select(func.count()).where(Contact.upload_id == upload_id)).scalar()
        distinct = db.session.execute(
            select(func.count()).select_from(
                select(Contact.case_id, Contact.contacted_at, Contact.collector_id)
                .where(Contact.upload_id == upload_id)
                .distinct()
                .subquery()
            )
        ).scalar()
        return total, distinct


def wait_for(predicate, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout} s")


def strand(app, upload_id: int, *, attempts: int, lease_left: float = -1.0) -> None:
    """Leave the upload as a killed worker leaves it: ``processing`` under a lease that ran out (or not)."""
    with app.app_context():
        from portal.db import utcnow

        db.session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(
                status="processing",
                attempts=attempts,
                lease_owner="elsewhere:1:dead",
                started_at=utcnow() - timedelta(minutes=5),
                lease_expires_at=utcnow() + timedelta(seconds=lease_left),
            )
        )
        db.session.commit()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_queue(app):
    """A queue of its own on the real Redis, emptied afterwards; the app's uploads go to it."""
    connection = redis_or_skip(REDIS_URL)
    queue = f"test-faults-{uuid.uuid4().hex[:10]}"
    app.config.update(PORTAL_REDIS_URL=REDIS_URL, PORTAL_UPLOAD_QUEUE=queue)
    yield queue
    keys = list(connection.scan_iter(match=f"*{queue}*", count=1000))
    if keys:
        connection.delete(*keys)
    connection.close()


@pytest.fixture
def workers(app, database_url, instance_dir, tmp_path, redis_queue):
    """start() -> a `flask worker` process on the test's database, storage and queue; all stopped afterwards."""
    started: list[subprocess.Popen] = []
    logs: list = []
    env = dict(
        os.environ,
        PORTAL_DATABASE_URL=database_url,
        PORTAL_REDIS_URL=REDIS_URL,
        PORTAL_UPLOAD_QUEUE=redis_queue,
        PORTAL_STORAGE_DIR=app.config["PORTAL_STORAGE_DIR"],
        PORTAL_INSTANCE_PATH=str(instance_dir),
        PORTAL_UPLOAD_LEASE_SECONDS="6",
        PORTAL_UPLOAD_HEARTBEAT_SECONDS="1",
        PORTAL_UPLOAD_REAP_SECONDS="2",
    )
    env.pop("FLASK_APP", None)

    def start() -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for log in logs:
        log.close()


def parent_pid(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


# --- a work-horse killed mid-upload ----------------------------------------------------------


@pytest.mark.postgres
@on_postgres
def test_kill_9_the_work_horse_mid_upload_and_the_upload_finishes_by_itself(app, world, workers):
    rows = int(os.environ.get("PORTAL_TEST_FAULT_ROWS", "200000"))
    from portal.uploads.jobs import dispatch_upload

    upload_id = submit(app, world, contacts_csv(rows))
    first = workers()
    with app.app_context():
        assert dispatch_upload(upload_id) == "queued"
    # Mid-upload: the work-horse has read rows (progress is written as it goes) but not finished.
    busy = wait_for(lambda: (u := state(app, upload_id)).rows_processed > 0 and u, timeout=90)
    assert busy.status == "processing" and busy.rows_processed < rows and busy.attempts == 1
    horse = int(busy.lease_owner.split(":")[1])
    assert parent_pid(horse) == first.pid  # the lease names the work-horse this test's worker forked
    os.kill(horse, signal.SIGKILL)
    killed_at = time.monotonic()
    frozen = state(app, upload_id)
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=30)
    assert frozen.status == "processing"
    assert stored_contacts(app, upload_id) == (0, 0)  # one transaction: the dead attempt stored nothing

    workers()  # a fresh worker: it reaps on start and every 2 s; the lease (6 s) runs out by itself
    retried = wait_for(lambda: (u := state(app, upload_id)).attempts == 2 and u, timeout=30)
    requeued_after = time.monotonic() - killed_at
    done = wait_for(lambda: (u := state(app, upload_id)).status in ("completed", "rejected") and u, timeout=150)
    finished_after = time.monotonic() - killed_at
    print(
        f"\nrecovery: killed at {frozen.rows_processed} rows; retried after {requeued_after:.1f} s "
        f"(lease 6 s + reap every 2 s); completed {finished_after:.1f} s after the kill"
    )
    assert retried.lease_owner != busy.lease_owner
    assert done.status == "completed", done
    assert (done.rows_total, done.rows_accepted, done.rows_duplicate, done.rows_rejected) == (rows, rows, 0, 0)
    assert done.attempts == 2 and done.lease_owner is None
    assert stored_contacts(app, upload_id) == (rows, rows)  # every row stored exactly once
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Contact)).scalar() == rows
        events = db.session.execute(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "upload", AuditEvent.object_id == public_id(app, upload_id)
            )
        ).scalars()
        assert list(events) == ["upload:file:receive", "upload:file:complete"]


def test_flask_worker_never_forks_a_work_horse_in_the_middle_of_a_reap(app, redis_queue, monkeypatch):
    """A fork copies the locks the reaping thread holds; a work-horse forked mid-reap hung for good
    (on SQLAlchemy's mapper lock) while its heartbeat kept its lease alive. Forks wait for the reap."""
    from rq import Queue

    from portal.uploads import jobs
    from portal.uploads.jobs import redis_connection

    connection = redis_connection(REDIS_URL)
    job = Queue(redis_queue, connection=connection).enqueue(print, "x")
    worker = jobs._upload_worker_class()([redis_queue], connection=connection)
    forked_at: list[float] = []
    # The parent's side of a fork is all this test needs: no child is made.
    monkeypatch.setattr(os, "fork", lambda: forked_at.append(time.monotonic()) or 4_000_000)
    monkeypatch.setattr(worker, "procline", lambda message: None)
    monkeypatch.setenv("RQ_WORKER_ID", "")
    monkeypatch.setenv("RQ_JOB_ID", "")

    reaping = threading.Event()

    def a_long_reap() -> None:
        with jobs._reaping:
            reaping.set()
            time.sleep(0.5)

    reaper = threading.Thread(target=a_long_reap)
    reaper.start()
    reaping.wait(5)
    began = time.monotonic()
    worker.fork_work_horse(job, Queue(redis_queue, connection=connection))
    reaper.join()
    connection.close()
    assert len(forked_at) == 1 and forked_at[0] - began >= 0.4  # it waited for the reap to end
    assert not jobs._reaping.locked()


# --- Redis down ------------------------------------------------------------------------------


def test_with_redis_down_a_post_keeps_the_upload_queued_and_a_worker_drains_it(app, world, api, redis_queue):
    from rq import SimpleWorker

    from portal.uploads.jobs import current_settings, reap_uploads, redis_connection

    app.config["PORTAL_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    data = contacts_csv(50)
    client = api()
    response = post_file(client, data, **{"Accept-Language": "en"})
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "queued" and "cannot be reached" in body["note"]
    assert documented(client, response) == []
    upload_id = internal_id(app, body["id"])
    # The same bytes while it waits: still that one upload.
    again = post_file(client, data)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True and again.get_json()["id"] == body["id"]

    # Redis is back: the worker's reaper enqueues what waited longer than a lease, the worker runs it.
    app.config.update(PORTAL_REDIS_URL=REDIS_URL, PORTAL_UPLOAD_LEASE_SECONDS=0.5)
    time.sleep(0.6)
    with app.app_context():
        report = reap_uploads(settings=current_settings())
        assert report["dispatched"] == [upload_id]
        connection = redis_connection(REDIS_URL)
        SimpleWorker([redis_queue], connection=connection).work(burst=True)
        connection.close()
    done = state(app, upload_id)
    assert done.status == "completed" and done.rows_accepted == 50 and done.attempts == 1
    assert stored_contacts(app, upload_id) == (50, 50)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Upload)).scalar() == 1


def test_with_redis_down_the_web_upload_keeps_the_file_queued_and_says_so(app, world, client, redis_queue):
    app.config["PORTAL_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    login(client, world["zc_agent"])
    form = {"kind": "contacts", "adapter": "", "file": (io.BytesIO(contacts_csv(20)), "c.csv")}
    response = client.post(
        "/uploads/", data=form, content_type="multipart/form-data", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "暂时无法连接任务队列：文件已保存，队列恢复后将自动处理" in page  # the agent's language
    with app.app_context():
        assert db.session.execute(select(Upload.status)).scalars().all() == ["queued"]


def test_with_redis_down_flask_uploads_ingest_processes_the_file_itself(app, world, runner, tmp_path):
    app.config["PORTAL_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    path = tmp_path / "contacts.csv"
    path.write_bytes(contacts_csv(30))
    result = runner.invoke(args=["uploads", "ingest", str(path), "--agency", "ZC", "--kind", "contacts", "--json"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "note: the job queue cannot be reached; processing the upload in this process"
    ]
    import json

    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["rows_accepted"] == 30
    with app.app_context():
        assert db.session.execute(select(Upload.status)).scalars().all() == ["completed"]


# --- the database connection of an in-process upload terminated ------------------------------


@pytest.mark.postgres
@on_postgres
def test_a_terminated_database_connection_answers_202_and_the_reaper_finishes_the_upload(app, world, api):
    from portal.uploads.jobs import current_settings, reap_uploads

    rows = 60_000
    data = contacts_csv(rows)
    client = api()
    answer: dict = {}

    def post() -> None:
        answer["response"] = post_file(client, data)

    thread = threading.Thread(target=post)
    thread.start()
    with app.app_context():
        wait_for(lambda: db.session.execute(select(func.max(Upload.rows_processed))).scalar(), timeout=60, every=0.05)
        db.session.rollback()
        # The upload's own transaction: the one that has written (holds a transaction id) longest.
        backend = db.session.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_xid IS NOT NULL ORDER BY xact_start LIMIT 1"
            )
        ).scalar()
        assert backend is not None
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        db.session.commit()
    thread.join(timeout=120)
    response = answer["response"]
    assert response.status_code == 202, response.get_data(as_text=True)[:2000]
    body = response.get_json()
    assert body["status"] == "queued" and body["note"] and documented(client, response) == []
    upload_id = internal_id(app, body["id"])
    assert stored_contacts(app, upload_id) == (0, 0)

    app.config["PORTAL_UPLOAD_LEASE_SECONDS"] = 0.2
    time.sleep(0.3)
    with app.app_context():
        report = reap_uploads(settings=current_settings())  # in-process: the reaper runs it here
    assert report["dispatched"] == [upload_id]
    done = state(app, upload_id)
    assert done.status == "completed" and done.rows_accepted == rows and done.attempts == 2
    assert stored_contacts(app, upload_id) == (rows, rows)


@pytest.mark.postgres
@on_postgres
def test_with_the_database_gone_mid_upload_the_post_answers_503_and_the_upload_is_retried_later(app, world, api):
    import psycopg
    from sqlalchemy.engine import make_url

    from portal.uploads.jobs import current_settings, reap_uploads

    rows = 60_000
    # The attempt cannot give its lease back with the database gone: it runs out by itself.
    app.config.update(PORTAL_UPLOAD_LEASE_SECONDS=2, PORTAL_UPLOAD_HEARTBEAT_SECONDS=0.5)
    client = api()
    answer: dict = {}
    thread = threading.Thread(
        target=lambda: answer.setdefault(
            "response", post_file(client, contacts_csv(rows), **{"Accept-Language": "zh-CN"})
        )
    )
    url = make_url(POSTGRES_URL)
    name = url.database
    # The control connection is to another database: one cannot lock out the database one is in.
    control = psycopg.connect(url.set(database="postgres").render_as_string(hide_password=False), autocommit=True)
    thread.start()
    try:
        with app.app_context():
            wait_for(lambda: db.session.execute(select(func.max(Upload.rows_processed))).scalar(), 60, every=0.05)
            db.session.rollback()
        control.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        control.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        thread.join(timeout=120)
    finally:
        control.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        control.close()
    response = answer["response"]
    assert response.status_code == 503, response.get_data(as_text=True)[:2000]
    error = response.get_json()["error"]
    assert error == {"code": "service_unavailable", "message": "暂时无法连接门户数据库；请稍后重新发送文件"}
    assert documented(client, response) == []

    # The database is back: the upload (committed before the fault) is retried and finishes.
    with app.app_context():
        upload_id = db.session.execute(select(Upload.id)).scalar_one()
        assert stored_contacts(app, upload_id) == (0, 0)
        assert state(app, upload_id).status == "processing"
        time.sleep(2.1)
        assert reap_uploads(settings=current_settings())["requeued"] == [upload_id]
    done = state(app, upload_id)
    assert done.status == "completed" and done.rows_accepted == rows and done.attempts == 2
    assert stored_contacts(app, upload_id) == (rows, rows)


# --- stranded uploads and the same bytes again -------------------------------------------------


def test_the_same_bytes_again_revive_a_stranded_upload_and_a_live_one_stays_a_duplicate(app, world, api, upload):
    data = contacts_csv(40)
    upload_id = submit(app, world, data)
    strand(app, upload_id, attempts=1)
    client = api()

    response = post_file(client, data)
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["id"] == public_id(app, upload_id) and body["duplicate"] is False and body["status"] == "completed"
    assert body["rows_accepted"] == 40 and stored_contacts(app, upload_id) == (40, 40)
    assert state(app, upload_id).attempts == 2

    # Completed: a duplicate. Being processed under a live lease: a duplicate too.
    assert post_file(client, data).status_code == 200
    other = submit(app, world, contacts_csv(41))
    strand(app, other, attempts=1, lease_left=60)
    again = post_file(client, contacts_csv(41), "d.csv")
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert again.get_json()["id"] == public_id(app, other)
    assert state(app, other).status == "processing"


def test_without_redis_the_web_process_reaps_in_a_thread_from_its_first_request(app, world, client):
    from portal.uploads import jobs

    upload_id = submit(app, world, contacts_csv(25))
    strand(app, upload_id, attempts=1)
    app.config.update(PORTAL_UPLOAD_REAP_SECONDS=0.2, PORTAL_UPLOAD_LEASE_SECONDS=0.5)
    app.testing = False  # tests' apps reap only when asked; a served app starts its reaper itself
    try:
        assert client.get("/login").status_code == 200
    finally:
        app.testing = True
    reaper = jobs._reapers[(id(app), os.getpid())]
    try:
        done = wait_for(lambda: (u := state(app, upload_id)).status == "completed" and u, timeout=30)
    finally:
        reaper.stop(timeout=30)
    assert not reaper.is_alive()
    assert done.rows_accepted == 25 and done.attempts == 2 and done.lease_owner is None
    assert stored_contacts(app, upload_id) == (25, 25)


def test_after_the_last_attempt_the_upload_is_rejected_with_a_reason_the_agency_reads(app, world, api, runner):
    import json

    data = contacts_csv(20)
    upload_id = submit(app, world, data)
    strand(app, upload_id, attempts=3)
    result = runner.invoke(args=["uploads", "reap", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected"] == [upload_id]
    rejected = state(app, upload_id)
    assert rejected.status == "rejected" and rejected.lease_owner is None and rejected.completed_at is not None
    with app.app_context():
        errors = db.session.execute(select(UploadError).where(UploadError.upload_id == upload_id)).scalars().all()
        assert [(e.row, e.code) for e in errors] == [(0, "unreadable_file")]
        event = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.object_id == public_id(app, upload_id), AuditEvent.action == "upload:file:reject"
            )
        ).scalar_one()
        assert event.details["reason"] == "attempts_exhausted" and event.outcome == "failure"

    client = api()
    shown = public_id(app, upload_id)
    english = client.get(f"/api/v1/uploads/{shown}", headers={"Accept-Language": "en"}).get_json()
    assert english["errors"][0]["message"] == ("processing failed 3 times; send the file again or contact the lender")
    chinese = client.get(f"/api/v1/uploads/{shown}", headers={"Accept-Language": "zh-CN"}).get_json()
    assert chinese["errors"][0]["message"] == "处理失败 3 次；请重新发送文件，或联系委托方"

    # The agency sends it again: a new upload, processed.
    again = post_file(client, data)
    assert again.status_code == 202 and again.get_json()["id"] != shown
    assert again.get_json()["status"] == "completed"


def test_an_attempt_that_lost_its_lease_commits_nothing(app, world):
    from portal.uploads.jobs import LeaseLostError, claim_upload, current_settings
    from portal.uploads.processing import process_upload

    upload_id = submit(app, world, contacts_csv(30))
    with app.app_context():
        token = claim_upload(upload_id, current_settings())
        assert token and claim_upload(upload_id, current_settings()) is None  # one attempt at a time

        def taken_over(*_progress) -> None:
            # Mid-way, another attempt takes the upload over (this one's heartbeat could not reach the
            # database). SQLite has one writer, which this attempt's transaction is: it changes there.
            change = update(Upload).where(Upload.id == upload_id).values(lease_owner="elsewhere:2:new")
            if db.engine.dialect.name == "sqlite":
                db.session.execute(change)
            else:
                with db.engine.begin() as connection:
                    connection.execute(change)

        with pytest.raises(LeaseLostError):
            process_upload(upload_id, taken_over, lease=token)
        db.session.rollback()
    assert stored_contacts(app, upload_id) == (0, 0)
    assert state(app, upload_id).status == "processing"


def test_the_reaper_signs_the_audit_tail_that_work_horses_left(app, world, tmp_path):
    """A work-horse commits events and exits; the worker's reaper thread checkpoints them in time."""
    from portal.audit.checkpoints import latest_checkpoint, tree_size
    from portal.uploads.jobs import Reaper

    submit(app, world, contacts_csv(3))
    app.config.update(PORTAL_AUDIT_CHECKPOINT_INTERVAL=1)
    with app.app_context():
        before = latest_checkpoint(db.session)
        size = tree_size(db.session)
    assert before is None or before.tree_size < size
    reaper = Reaper(app, interval=0.2)
    reaper.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.app_context():
                latest = latest_checkpoint(db.session)
                db.session.remove()
            if latest is not None and latest.tree_size >= size:
                break
            time.sleep(0.2)
    finally:
        reaper.stop(timeout=10)
        from portal.audit.tail import tail_state

        tail_state(app).cancel()
    assert latest is not None and latest.tree_size >= size
