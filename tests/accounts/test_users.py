"""Managing users: admins everywhere, agency admins only in their own agency."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.accounts import services
from portal.accounts.models import User
from portal.errors import ConflictError, PermissionDeniedError, ValidationError
from portal.extensions import db
from portal.security import Actor
from tests.conftest import PASSWORD, audit_actions, last_seq, login


def test_agency_admin_creates_a_user_in_their_own_agency(app, client, world):
    login(client, world["zc_admin"])
    with app.app_context():
        seq = last_seq()
    other_agency = client.post(
        "/users/new", data={"email": "new@zc.example.com", "role": "agency_agent", "agency": "HX", "password": PASSWORD}
    )
    assert other_agency.status_code == 200
    response = client.post(
        "/users/new", data={"email": "new@zc.example.com", "role": "agency_agent", "agency": "ZC", "password": PASSWORD}
    )
    assert response.status_code == 302
    with app.app_context():
        user = services.get_user_by_email("new@zc.example.com")
        assert user.agency.code == "ZC"
        assert audit_actions(seq) == ["account:user:create"]


def test_agency_admins_create_users_only_in_their_own_agency_whatever_they_ask(ctx, world):
    admin = services.get_user_by_email(world["zc_admin"])
    actor = Actor(user_id=admin.id, role=admin.role_enum, agency_id=admin.agency_id)
    user = services.create_user(
        actor=actor, email="n2@zc.example.com", role="agency_agent", password=PASSWORD, agency_code="HX"
    )
    assert user.agency.code == "ZC"


def test_agency_admin_cannot_create_lender_staff(ctx, world):
    admin = services.get_user_by_email(world["zc_admin"])
    actor = Actor(user_id=admin.id, role=admin.role_enum, agency_id=admin.agency_id)
    with pytest.raises(PermissionDeniedError):
        services.create_user(actor=actor, email="boss@zc.example.com", role="admin", password=PASSWORD)


def user_ref(app, email: str) -> str:
    """The sealed reference the users page puts in its forms (an integer key answers 404)."""
    from portal.accounts.views import USER_PURPOSE
    from portal.params import seal_cursor

    with app.test_request_context():
        return seal_cursor([services.get_user_by_email(email).id], purpose=USER_PURPOSE)


def test_agency_admin_sees_and_manages_only_their_agency(app, client, world):
    login(client, world["zc_admin"])
    page = client.get("/users").get_data(as_text=True)
    assert (
        "agent@zc.example.com" in page and "agent@hx.example.com" not in page and "ops@lender.example.com" not in page
    )
    hx_agent = user_ref(app, world["hx_agent"])
    assert client.post(f"/users/{hx_agent}/deactivate").status_code == 404
    assert client.post(f"/users/{hx_agent}/reset").status_code == 404


def test_deactivating_a_user_ends_their_session(app, client, world):
    agent = app.test_client()
    login(agent, world["zc_agent"])
    login(client, world["zc_admin"])
    agent_id = user_ref(app, world["zc_agent"])
    with app.app_context():
        seq = last_seq()
    assert client.post(f"/users/{agent_id}/deactivate").status_code == 302
    assert agent.get("/cases/").status_code == 302
    with app.app_context():
        assert audit_actions(seq) == ["account:user:deactivate"]
    assert client.post(f"/users/{agent_id}/activate").status_code == 302
    login(agent, world["zc_agent"])


def test_reset_shows_a_temporary_password_once_and_it_works(app, client, world):
    login(client, world["admin"])
    agent_id = user_ref(app, world["hx_agent"])
    with app.app_context():
        seq = last_seq()
    page = client.post(f"/users/{agent_id}/reset").get_data(as_text=True)
    temporary = re.search(r'<code class="token">([^<]+)</code>', page).group(1)
    with app.app_context():
        assert audit_actions(seq) == ["account:password:reset"]
    login(app.test_client(), world["hx_agent"], temporary)


def test_admin_creates_users_of_every_role_with_validation(ctx, world):
    with pytest.raises(ValidationError, match="needs an agency"):
        services.create_user(actor=Actor.system(), email="x@zc.example.com", role="agency_agent", password=PASSWORD)
    with pytest.raises(ValidationError, match="unknown agency"):
        services.create_user(
            actor=Actor.system(), email="x@zc.example.com", role="agency_agent", password=PASSWORD, agency_code="NOPE"
        )
    with pytest.raises(ValidationError, match="belongs to the lender"):
        services.create_user(
            actor=Actor.system(), email="x@zc.example.com", role="compliance", password=PASSWORD, agency_code="ZC"
        )
    with pytest.raises(ConflictError):
        services.create_user(actor=Actor.system(), email="OPS@lender.example.com", role="lender_ops", password=PASSWORD)
    with pytest.raises(ValidationError, match="e-mail"):
        services.create_user(actor=Actor.system(), email="not-an-email", role="lender_ops", password=PASSWORD)


def test_the_database_refuses_an_agency_role_without_an_agency(ctx, world):
    user = db.session.execute(select(User).where(User.email == world["zc_agent"])).scalar_one()
    user.agency_id = None
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        db.session.commit()
    db.session.rollback()


def test_cli_creates_a_user_with_the_password_from_stdin(runner, ctx, world):
    result = runner.invoke(
        args=["users", "create", "cli@hx.example.com", "--role", "agency_agent", "--agency", "HX", "--json"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert '"email": "cli@hx.example.com"' in result.stdout
    bad = runner.invoke(args=["users", "create", "weak@hx.example.com", "--role", "lender_ops"], input="short\n")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: password must be at least 12")


@pytest.mark.parametrize(
    ("accept", "expected", "absent"),
    [("zh-CN", "密码至少需要 12 个字符", "password must"), ("en", "password must be at least 12 characters", "密码")],
)
def test_a_weak_password_is_refused_in_the_readers_language(app, world, accept, expected, absent):
    """The error is raised once and read in the language of the request that shows it."""
    with app.app_context(), pytest.raises(ValidationError) as caught:
        services.create_user(
            actor=Actor.system(source="test"), email="new@lender.example.com", role="lender_ops", password="short"
        )
    with app.test_request_context(headers={"Accept-Language": accept}):
        message = caught.value.message
    assert expected in message and absent not in message


def test_users_are_named_by_sealed_references_that_count_nothing(app, client, world):
    login(client, world["zc_admin"])
    page = client.get("/users").get_data(as_text=True)
    with app.app_context():
        agent_key = services.get_user_by_email(world["zc_agent"]).id
    # The forms carry no user key, and the key itself, or another purpose's seal, is a 404.
    assert f"/users/{agent_key}/" not in page and re.search(r'action="/users/[A-Za-z0-9_-]{40,}/reset"', page)
    assert client.post(f"/users/{agent_key}/reset").status_code == 404
    from portal.params import seal_cursor

    with app.test_request_context():
        other_purpose = seal_cursor([agent_key], purpose="api_token")
    assert client.post(f"/users/{other_purpose}/reset").status_code == 404
    assert client.post("/users/" + "x" * 5000 + "/reset").status_code == 404
