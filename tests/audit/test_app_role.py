"""PostgreSQL only: the portal running as a non-superuser role granted by ``flask audit grant`` works normally
and cannot change, remove or unprotect audit rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from portal import create_app
from portal.audit.checkpoints import create_checkpoint
from portal.audit.integrity import verify_trail
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.cases.models import Case
from portal.extensions import db
from portal.security import Actor
from tests.audit.conftest import postgres_only
from tests.conftest import import_file, make_agency

pytestmark = [pytest.mark.postgres, postgres_only]

# What an attacker holding the app's database login would try; each must be refused.
REFUSED = [
    "UPDATE audit_events SET outcome = 'failure'",
    "DELETE FROM audit_events WHERE seq = 1",
    "TRUNCATE audit_events",
    "UPDATE audit_checkpoints SET root_hash = repeat('0', 64)",
    "DELETE FROM audit_checkpoints",
    "TRUNCATE audit_checkpoints",
    "SET session_replication_role = replica",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only",
    "CREATE TABLE escape_hatch (id int)",
    "TRUNCATE cases CASCADE",
]


@pytest.fixture
def app_role(app, database_url) -> Iterator[str]:
    """A fresh LOGIN role (unique per run), dropped with everything granted to it afterwards."""
    name = f"portal_app_{uuid.uuid4().hex[:10]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
    try:
        yield name
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{name}"'))
            conn.execute(text(f'DROP ROLE "{name}"'))
        server.dispose()


def test_the_portal_works_as_the_granted_role_and_cannot_touch_the_trail(app, runner, app_role, database_url, tmp_path):
    # The owner (here the test's superuser) grants, as docs/security.md says.
    dry = runner.invoke(args=["audit", "grant", app_role, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    statements = json.loads(dry.stdout)["statements"]
    assert f"GRANT SELECT, INSERT ON audit_checkpoints, audit_events TO {app_role}" in statements
    granted = runner.invoke(args=["audit", "grant", app_role])
    assert granted.exit_code == 0, granted.output

    url = make_url(database_url).set(username=app_role, password=None).render_as_string(hide_password=False)
    role_app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "PORTAL_STORAGE_DIR": str(tmp_path / "files"),
            "PORTAL_AUDIT_CHECKPOINT_DIR": str(tmp_path / "role-checkpoints"),
            "PORTAL_AUDIT_CHECKPOINT_EVERY": 5,
            "PORTAL_AUDIT_CHECKPOINT_INTERVAL": 0,
        }
    )
    try:
        with role_app.app_context():
            assert db.session.execute(text("SELECT current_user")).scalar() == app_role
            # Normal work: an agency, a cases import and its re-import (inserts and updates), events, checkpoints.
            make_agency("ZC")
            first = import_file()
            again = import_file()
            assert first.inserted == 40 and again.updated + again.unchanged == 40
            record_event(actor=Actor.system(source="test"), action=AuditTag.AGENCY_UPDATE, details={"role": "app"})
            db.session.commit()
            checkpoint, _created, published = create_checkpoint()
            assert published.errors == []
            assert db.session.execute(select(func.count()).select_from(Case)).scalar() == 40
            assert db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar() >= 2
            events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
            assert checkpoint.tree_size == events
            for statement in REFUSED:
                with pytest.raises(DBAPIError) as refused:
                    db.session.execute(text(statement))
                db.session.rollback()
                message = str(refused.value.orig)
                assert "permission denied" in message or "must be owner" in message, (statement, message)
            assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == events
            assert verify_trail().ok
    finally:
        with role_app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("kind", ["superuser", "owner", "missing"])
def test_grant_refuses_a_role_that_could_switch_the_triggers_off(app, runner, database_url, kind):
    name = f"portal_bad_{uuid.uuid4().hex[:10]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if kind == "superuser":
            conn.execute(text(f'CREATE ROLE "{name}" SUPERUSER'))
        elif kind == "owner":
            conn.execute(text(f'CREATE ROLE "{name}"'))
    try:
        if kind == "owner":
            # Owning any audit table is enough to disable its trigger: simulate a role that ran the migrations.
            with server.connect() as conn:
                owner = conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'")).scalar()
                conn.execute(text(f'ALTER TABLE audit_events OWNER TO "{name}"'))
        result = runner.invoke(args=["audit", "grant", name])
        assert result.exit_code == 1
        expected = {"superuser": "is a superuser", "owner": "owns the audit tables", "missing": "no database role"}
        assert expected[kind] in result.stderr
    finally:
        with server.connect() as conn:
            if kind == "owner":
                conn.execute(text(f'ALTER TABLE audit_events OWNER TO "{owner}"'))
            if kind != "missing":
                conn.execute(text(f'DROP OWNED BY "{name}"'))
                conn.execute(text(f'DROP ROLE "{name}"'))
        server.dispose()
