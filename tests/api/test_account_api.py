"""``GET /api/v1/me``: the token's own account, with the timezone a client shows times in."""

from __future__ import annotations

import pytest

from portal.accounts.services import create_token, get_user_by_email
from portal.extensions import db
from portal.security import Actor


@pytest.fixture
def api(app, world):
    def client_for(who: str, **headers: str):
        with app.app_context():
            _token, clear = create_token(
                actor=Actor.system(source="test"), user=get_user_by_email(world[who]), label="t"
            )
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
        client.environ_base.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        return client

    return client_for


def set_timezone(app, email: str, *, user: str | None = None, agency: str | None = None) -> None:
    with app.app_context():
        account = get_user_by_email(email)
        if user is not None:
            account.timezone = user
        if agency is not None:
            account.agency.timezone = agency
        db.session.commit()


def test_an_agency_user_gets_the_agency_and_its_timezone(api, app, world):
    set_timezone(app, world["zc_agent"], agency="Asia/Urumqi")
    body = api("zc_agent").get("/api/v1/me").json
    assert body == {
        "email": "agent@zc.example.com",
        "role": "agency_agent",
        "agency": "ZC",
        "timezone": "Asia/Urumqi",
        "locale": "en",
    }


def test_a_users_own_timezone_wins_over_the_agencys(api, app, world):
    set_timezone(app, world["hx_admin"], user="Europe/London", agency="Asia/Urumqi")
    body = api("hx_admin").get("/api/v1/me").json
    assert (body["agency"], body["role"], body["timezone"]) == ("HX", "agency_admin", "Europe/London")


def test_a_lender_user_has_no_agency_and_the_lenders_timezone(api, app):
    app.config["PORTAL_TIMEZONE"] = "America/New_York"
    body = api("compliance").get("/api/v1/me").json
    assert body["agency"] is None and body["role"] == "compliance"
    assert body["timezone"] == "America/New_York"


def test_the_locale_is_the_language_the_api_answers_in(api, app, world):
    assert api("ops", accept_language="zh-CN,zh;q=0.9").get("/api/v1/me").json["locale"] == "zh_CN"
    with app.app_context():
        get_user_by_email(world["ops"]).locale = "en"
        db.session.commit()
    assert api("ops", accept_language="zh-CN").get("/api/v1/me").json["locale"] == "en"


def test_me_needs_a_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
