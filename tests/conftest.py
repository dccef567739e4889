"""Fixtures: a fresh app per test on the real database (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from portal import create_app
from portal.config import normalise_database_url
from portal.extensions import db
from portal.security import Actor

DATA = Path(__file__).parent / "data"
PASSWORD = "correct-horse-battery-9"
POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")


def pytest_report_header() -> str:
    return f"portal database: {'PostgreSQL (PORTAL_TEST_DATABASE_URL)' if POSTGRES_URL else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if POSTGRES_URL:
        return normalise_database_url(POSTGRES_URL)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal-test.db'}"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("instance")
    os.environ["PORTAL_INSTANCE_PATH"] = str(path)
    # No audit tail timer may outlive its test's app and sign into the next test (test_tail.py turns it on).
    os.environ.setdefault("PORTAL_AUDIT_CHECKPOINT_INTERVAL", "0")
    return path


@pytest.fixture(scope="session")
def _schema(database_url: str, instance_dir: Path) -> Iterator[None]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        # The audit tables refuse TRUNCATE (an append-only trigger); triggers do not fire for a
        # replica session, and SET LOCAL ends with this transaction.
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(_schema: None, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test-secret-key",
            # Real scrypt at a low cost: the suite logs in hundreds of times.
            "PORTAL_PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            "PORTAL_STORAGE_DIR": str(tmp_path / "files"),
            "PORTAL_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        }
    )
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def csrf_app(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def system() -> Actor:
    return Actor.system(source="test")


# --- building data through the services -------------------------------------------------------


def make_agency(code: str = "ZC", **kwargs):
    from portal.agencies.services import create_agency

    kwargs.setdefault("name", f"Agency {code}")
    return create_agency(actor=Actor.system(source="test"), code=code, **kwargs)


def make_user(email: str, role: str, agency: str | None = None, password: str = PASSWORD):
    from portal.accounts.services import create_user

    return create_user(actor=Actor.system(source="test"), email=email, role=role, password=password, agency_code=agency)


def import_file(name: str = "cases.csv", content: bytes | None = None, **kwargs):
    from portal.cases.importing import import_cases

    data = content if content is not None else (DATA / name).read_bytes()
    return import_cases(actor=Actor.system(source="test"), stream=io.BytesIO(data), filename=name, **kwargs)


def place_file(content: bytes | None = None):
    from portal.cases.placing import place_cases

    data = content if content is not None else (DATA / "placements.csv").read_bytes()
    return place_cases(actor=Actor.system(source="test"), stream=io.BytesIO(data), lender_timezone="Asia/Shanghai")


def audit_actions(since_seq: int = 0) -> list[str]:
    from portal.audit.models import AuditEvent

    return list(
        db.session.execute(
            select(AuditEvent.action).where(AuditEvent.seq > since_seq).order_by(AuditEvent.seq)
        ).scalars()
    )


def last_seq() -> int:
    from sqlalchemy import func

    from portal.audit.models import AuditEvent

    return db.session.execute(select(func.max(AuditEvent.seq))).scalar() or 0


@pytest.fixture
def world(app: Flask) -> dict[str, object]:
    """Two agencies, a user of every role, the 40 sample cases placed alternately with ZC and HX."""
    with app.app_context():
        make_agency("ZC", channels="call,sms,visit")
        make_agency("HX")
        users = {
            "zc_agent": make_user("agent@zc.example.com", "agency_agent", "ZC").email,
            "zc_admin": make_user("admin@zc.example.com", "agency_admin", "ZC").email,
            "hx_agent": make_user("agent@hx.example.com", "agency_agent", "HX").email,
            "hx_admin": make_user("admin@hx.example.com", "agency_admin", "HX").email,
            "ops": make_user("ops@lender.example.com", "lender_ops").email,
            "compliance": make_user("compliance@lender.example.com", "compliance").email,
            "admin": make_user("admin@lender.example.com", "admin").email,
        }
        import_file()
        place_file()
    return users


def login(client: FlaskClient, email: str, password: str = PASSWORD):
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.data[:500]
    return response


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "no CSRF token on " + path
    return match.group(1)


def redis_or_skip(url: str):
    """A connection to the real Redis at ``url``; a skip when it is down (a failure under CI, which starts it)."""
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url} cannot be reached")
        pytest.skip(f"Redis at {url} is not running")
    return connection
