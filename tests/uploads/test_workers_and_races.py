"""RQ workers on the real Redis, and two settlement uploads racing on PostgreSQL."""

from __future__ import annotations

import io
import os
import threading
import uuid

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.money.models import Settlement
from portal.uploads.models import Upload
from tests.conftest import DATA, POSTGRES_URL, redis_or_skip
from tests.uploads.conftest import SETTLEMENT_HEADER, actor_for_email

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_app(app):
    connection = redis_or_skip(REDIS_URL)
    app.config["PORTAL_REDIS_URL"] = REDIS_URL
    connection.flushdb()
    yield app
    connection.flushdb()
    connection.close()


def test_with_redis_uploads_queue_and_a_worker_completes_them(redis_app, world):
    from rq import Queue, SimpleWorker

    from portal.uploads.jobs import QUEUE, dispatch_upload, redis_connection
    from portal.uploads.services import submit_upload

    with redis_app.app_context():
        submission = submit_upload(
            actor=actor_for_email(world["zc_agent"]),
            kind="contacts",
            filename="c.csv",
            stream=io.BytesIO((DATA / "contacts_canonical.csv").read_bytes()),
        )
        assert dispatch_upload(submission.upload.id) == "queued"
        upload_id = submission.upload.id
        assert db.session.get(Upload, upload_id).status == "queued"
        connection = redis_connection(REDIS_URL)
        assert Queue(QUEUE, connection=connection).count == 1
        # SimpleWorker runs the job in this process, inside this app context, like `flask worker --burst`.
        SimpleWorker([QUEUE], connection=connection).work(burst=True)
        connection.close()
        db.session.expire_all()
        upload = db.session.get(Upload, upload_id)
        assert upload.status == "completed" and upload.rows_total == 60


def test_flask_worker_refuses_to_start_without_redis(runner):
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 1 and "PORTAL_REDIS_URL is not set" in result.stderr


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="row locks are proven on PostgreSQL (set PORTAL_TEST_DATABASE_URL)")
def test_two_uploads_racing_can_never_settle_more_than_the_balance(app, world):
    """ZY202600003 owes 3549.28; two files each pay 2000.00 of it at the same moment."""
    from portal.uploads.jobs import dispatch_upload
    from portal.uploads.services import submit_upload

    ids = []
    with app.app_context():
        for n in range(2):
            body = f"ZY202600003,2026-11-15 10:00:0{n},2000.00,alipay,RACE-{n}-{uuid.uuid4().hex[:6]},partial,,\n"
            submission = submit_upload(
                actor=actor_for_email(world["zc_agent"]),
                kind="settlements",
                filename=f"race{n}.csv",
                stream=io.BytesIO((SETTLEMENT_HEADER + body).encode()),
            )
            ids.append(submission.upload.id)
    barrier = threading.Barrier(2)

    def run(upload_id: int) -> None:
        with app.app_context():
            barrier.wait()
            dispatch_upload(upload_id)
            db.session.remove()

    threads = [threading.Thread(target=run, args=(upload_id,)) for upload_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with app.app_context():
        statuses = sorted(db.session.get(Upload, upload_id).status for upload_id in ids)
        assert statuses == ["completed", "rejected"]
        total = db.session.execute(select(func.sum(Settlement.amount))).scalar()
        assert str(total) == "2000.00"


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="constraints are proven on PostgreSQL (set PORTAL_TEST_DATABASE_URL)")
def test_the_database_refuses_a_second_payment_ref_for_an_agency(app, world):
    from sqlalchemy.exc import IntegrityError

    from tests.uploads.conftest import CONTACT_HEADER  # noqa: F401

    with app.app_context():
        from portal.db import utcnow

        upload = Upload(
            agency_id=1, kind="settlements", filename="x", sha256="0" * 64, size=1, source="test", status="completed"
        )
        db.session.add(upload)
        db.session.flush()
        for _ in range(2):
            db.session.add(
                Settlement(
                    upload_id=upload.id,
                    agency_id=1,
                    case_id=1,
                    row=1,
                    paid_at=utcnow(),
                    amount=1,
                    method="cash",
                    payment_ref="SAME",
                    type="partial",
                )
            )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
