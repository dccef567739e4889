"""Helpers for upload tests: submit through the one pipeline as a given agency user or the CLI."""

from __future__ import annotations

import io

import pytest

from portal.accounts.services import get_user_by_email
from portal.security import Actor, Role
from tests.conftest import DATA

CONTACT_HEADER = (
    "case_ref,contacted_at,channel,party,phone,outcome,connected,duration_s,promise_amount,promise_date,"
    "collector_id,recording_ref,notes\n"
)
SETTLEMENT_HEADER = "case_ref,paid_at,amount,method,payment_ref,type,waiver_amount,notes\n"


def actor_for_email(email: str) -> Actor:
    user = get_user_by_email(email)
    return Actor(user_id=user.id, role=Role(user.role), agency_id=user.agency_id, source="test")


@pytest.fixture
def upload(app, world):
    """upload(content, kind, who="zc_agent", filename=..., adapter=None) -> (summary, duplicate)."""
    from portal.uploads.jobs import dispatch_upload
    from portal.uploads.services import submit_upload, upload_summary

    def run(
        content: bytes | str,
        kind: str = "contacts",
        who: str = "zc_agent",
        filename: str = "file.csv",
        adapter: str | None = None,
    ):
        data = content.encode() if isinstance(content, str) else content
        with app.app_context():
            submission = submit_upload(
                actor=actor_for_email(world[who]),
                kind=kind,
                stream=io.BytesIO(data),
                filename=filename,
                adapter=adapter,
            )
            if not submission.duplicate and submission.upload.status == "queued":
                dispatch_upload(submission.upload.id)
            from portal.extensions import db

            db.session.expire_all()
            return upload_summary(submission.upload, duplicate=submission.duplicate)

    return run


@pytest.fixture
def api(app, world, runner):
    """api(who="zc_agent") -> a test client that sends that user's API token."""

    def client_for(who: str = "zc_agent"):
        with app.app_context():
            token = runner.invoke(args=["users", "token", world[who]]).stdout.strip().splitlines()[-1]
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return client_for


@pytest.fixture
def sample():
    return lambda name: (DATA / name).read_bytes()
