"""Helpers for the audit trail's tests: raw tampering (past PostgreSQL's triggers) and API clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.extensions import db
from portal.security import Actor
from tests.conftest import POSTGRES_URL

postgres_only = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="needs PostgreSQL (set PORTAL_TEST_DATABASE_URL): its triggers and its advisory lock for concurrent writers",
)


def tamper(*statements: str, **params: object) -> None:
    """Run raw SQL against the audit tables as an attacker with database access would.

    On PostgreSQL the append-only triggers refuse that, so the test first switches them off for
    this transaction as a superuser can (``session_replication_role = replica``).
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    for statement in statements:
        db.session.execute(text(statement), params)
    db.session.commit()
    db.session.expire_all()


def append_events(count: int, *, actor: Actor | None = None, commit_each: bool = False) -> None:
    actor = actor or Actor.system(source="test")
    for i in range(count):
        record_event(actor=actor, action=AuditTag.AGENCY_UPDATE, object_type="agency", object_id=i, details={"i": i})
        if commit_each:
            db.session.commit()
    db.session.commit()


@pytest.fixture
def api(app: Flask, world) -> Callable[[str], FlaskClient]:
    """A test client authenticated with a fresh API token of ``world[who]``."""
    from portal.accounts.services import create_token, get_user_by_email

    def client_for(who: str) -> FlaskClient:
        with app.app_context():
            user = get_user_by_email(world[who])
            _token, clear = create_token(actor=Actor.system(source="test"), user=user, label="test")
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
        return client

    return client_for
