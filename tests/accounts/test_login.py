"""Logging in and out, passwords and safe redirects, with the audit events each writes (abuse: test_abuse.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts import services
from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.errors import ValidationError
from portal.extensions import db
from portal.security import Actor
from tests.conftest import PASSWORD, audit_actions, last_seq, login


@pytest.mark.parametrize(
    ("who", "landing"),
    [
        ("zc_agent", "/cases/"),
        ("zc_admin", "/cases/"),
        ("ops", "/dashboard"),
        ("compliance", "/dashboard"),
        ("admin", "/dashboard"),
    ],
)
def test_each_role_lands_on_its_own_start_page(client, world, who, landing):
    response = login(client, world[who])
    assert response.headers["Location"] == landing
    assert client.get(landing).status_code == 200


def test_login_and_logout_are_audited(app, client, world):
    with app.app_context():
        seq = last_seq()
    login(client, world["zc_agent"])
    client.post("/logout")
    with app.app_context():
        assert audit_actions(seq) == ["account:login:success", "account:session:logout"]
    assert client.get("/cases/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client, world):
    with app.app_context():
        seq = last_seq()
    wrong = client.post("/login", data={"email": world["zc_agent"], "password": "not-the-password"})
    unknown = client.post("/login", data={"email": "nobody@zc.example.com", "password": "not-the-password"})
    assert wrong.status_code == unknown.status_code == 200
    assert b"E-mail or password is wrong" in wrong.data or "邮箱或密码错误".encode() in wrong.data
    assert wrong.data.count(b'class="flash error"') == unknown.data.count(b'class="flash error"') == 1
    with app.app_context():
        events = (
            db.session.execute(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)).scalars().all()
        )
        assert [(e.action, e.outcome, e.details["reason"]) for e in events] == [
            ("account:login:failure", "failure", "bad_password"),
            ("account:login:failure", "failure", "unknown_email"),
        ]
        # The unknown address is kept only as a hash.
        assert "nobody@zc.example.com" not in str(events[1].details)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_only_redirects_within_the_site(client, world, target):
    response = client.post(f"/login?next={target}", data={"email": world["ops"], "password": PASSWORD})
    assert response.headers["Location"] == "/dashboard"


def test_next_redirects_to_a_local_page(client, world):
    response = client.post("/login?next=/cases/ZY202600001", data={"email": world["ops"], "password": PASSWORD})
    assert response.headers["Location"] == "/cases/ZY202600001"


def test_changing_the_password_enforces_the_policy_and_ends_other_sessions(app, client, world):
    email = world["zc_agent"]
    other = app.test_client()
    login(other, email)
    login(client, email)
    for weak in ("short-1", "password1234", "aaaaaaaaaaaaaa"):
        page = client.post(
            "/account/password", data={"current_password": PASSWORD, "new_password": weak, "confirm": weak}
        )
        assert page.status_code == 200
    with app.app_context():
        seq = last_seq()
    new = "a-much-better-passphrase-7"
    response = client.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": new, "confirm": new}
    )
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    assert other.get("/cases/").status_code == 302
    with app.app_context():
        assert audit_actions(seq) == ["account:password:change"]
    client.post("/logout")
    login(client, email, new)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12"),
        ("qwertyuiop123", "a common password"),
        ("zzzzzzzzzzzzzz", "repeated characters"),
        ("agentagent-2026", "e-mail"),
    ],
)
def test_password_policy_names_the_reason(ctx, world, password, reason):
    user = services.get_user_by_email(world["zc_agent"])
    with pytest.raises(ValidationError, match=reason):
        services.change_password(
            actor=Actor(user_id=user.id, role=None), user=user, current_password=PASSWORD, new_password=password
        )


def test_passwords_are_stored_as_scrypt_hashes(ctx, world):
    user = db.session.execute(select(User).where(User.email == world["ops"])).scalar_one()
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash


def test_inactive_users_cannot_log_in(app, client, world):
    with app.app_context():
        user = services.get_user_by_email(world["hx_agent"])
        services.set_user_active(actor=Actor.system(), user_id=user.id, active=False)
    response = client.post("/login", data={"email": world["hx_agent"], "password": PASSWORD})
    assert response.status_code == 200
