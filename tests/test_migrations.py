"""The Alembic history builds the schema from nothing, and matches the models exactly."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db
from tests.conftest import POSTGRES_URL


@pytest.fixture
def empty_database_url(tmp_path, database_url):
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    name = f"portal_migration_{uuid.uuid4().hex[:8]}"
    server = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield str(make_url(database_url).set(database=name).render_as_string(hide_password=False))
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def test_upgrade_from_empty_to_head_matches_the_models(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
            tables = set(inspect(conn).get_table_names())
        db.engine.dispose()
    assert diff == []
    assert {"cases", "placements", "audit_events", "users", "agencies", "api_tokens"} <= tables


def test_the_open_placement_index_is_partial_and_unique(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            indexes = {i["name"]: i for i in inspect(conn).get_indexes("placements")}
        db.engine.dispose()
    index = indexes["uq_placements_open_case"]
    assert index["unique"] and index["column_names"] == ["case_id"]
    where = index.get("dialect_options", {})
    assert "ended_at IS NULL" in str(where.get("postgresql_where") or where.get("sqlite_where")).replace(
        "(", ""
    ).replace(")", "")
