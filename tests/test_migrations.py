"""The Alembic history builds the schema from nothing, and matches the models exactly."""

from __future__ import annotations

import re
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


def _filler(column) -> object:
    """A value for a NOT NULL column, by its type: enough to insert a row the way an older release did."""
    from datetime import UTC, datetime

    kind = str(column["type"]).upper()
    if "INT" in kind or "NUMERIC" in kind or "DECIMAL" in kind:
        return 1
    if "BOOL" in kind:
        return False
    if "TIME" in kind or "DATE" in kind:
        return datetime(2026, 11, 1, tzinfo=UTC)
    if "JSON" in kind:
        return "{}"
    return "x"


def _insert(conn, table: str, values: dict[str, object]) -> None:
    for column in inspect(conn).get_columns(table):
        if not column["nullable"] and column["default"] is None and column.get("autoincrement") is not True:
            values.setdefault(column["name"], _filler(column))
    values.pop("id", None)
    names = ", ".join(f'"{name}"' for name in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def test_existing_uploads_get_distinct_public_ids(empty_database_url):
    """Rows from before the public ids (issue 9) are backfilled: each its own random id, none a number."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    with app.app_context():
        upgrade(revision="d7e3b5a1c9f2")
        with db.engine.begin() as conn:
            _insert(conn, "agencies", {"code": "ZC", "name": "ZC"})
            agency_id = conn.execute(text("SELECT id FROM agencies")).scalar_one()
            for n in range(3):
                _insert(conn, "uploads", {"agency_id": agency_id, "user_id": None, "sha256": f"{n}" * 64})
        upgrade()
        with db.engine.connect() as conn:
            ids = conn.execute(text("SELECT public_id FROM uploads")).scalars().all()
        db.engine.dispose()
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"up_[0-9a-hjkmnp-tv-z]{22}", value) for value in ids)
