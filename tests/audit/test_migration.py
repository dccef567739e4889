"""Revision a1c0de0a0d17 gives events written before it their canonical bytes, and they still verify."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from portal import create_app
from portal.audit.integrity import verify_trail
from portal.audit.models import AuditEvent
from portal.audit.services import leaf_hash_of
from portal.extensions import db
from tests.test_migrations import empty_database_url  # noqa: F401  (the fixture)

OLD_EVENT = {
    "seq": 1,
    "occurred_at": datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC),
    "actor_user_id": None,
    "actor_role": None,
    "agency_id": 2,
    "source": "cli",
    "ip": None,
    "user_agent": None,
    "action": "agency:agency:create",
    "object_type": "agency",
    "object_id": "2",
    "outcome": "success",
    "details": {"name": "华夏", "channels": ["call", "sms"]},
}


def test_existing_events_are_backfilled_and_verify(empty_database_url):  # noqa: F811
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    with app.app_context():
        upgrade(revision="bffa7e53437e")
        leaf = dict(OLD_EVENT, occurred_at="2026-11-01T08:30:15.123456Z")
        old = AuditEvent.__table__
        columns = [c for c in old.c if c.name != "canonical"]
        insert = old.insert().values({c.name: OLD_EVENT.get(c.name) for c in columns if c.name != "leaf_hash"})
        db.session.execute(insert.values(leaf_hash=leaf_hash_of(leaf)))
        db.session.commit()
        upgrade(revision="a1c0de0a0d17")
        event = db.session.execute(select(AuditEvent)).scalar_one()
        assert event.as_leaf_object() == leaf
        stored = db.session.execute(text("SELECT CAST(details AS TEXT) FROM audit_events")).scalar_one()
        assert stored == '{"channels":["call","sms"],"name":"华夏"}'  # RFC 8785 text, as record_event writes
        report = verify_trail(full=True)
        assert report.ok and report.events == 1, report.describe()
        with db.engine.connect() as conn:
            assert "audit_checkpoints" in inspect(conn).get_table_names()
        db.session.remove()  # PostgreSQL: an open transaction would block the downgrade's ALTER TABLE
        downgrade(revision="bffa7e53437e")
        with db.engine.connect() as conn:
            assert "canonical" not in {c["name"] for c in inspect(conn).get_columns("audit_events")}
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
        db.engine.dispose()
