"""Sweeps over every route: anonymous users refused, other agencies' cases 404, forms need CSRF, headers set."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.conftest import csrf_token, login

PUBLIC = {"accounts.login", "static", "main.switch_locale", "api.openapi"}
SAMPLE_ARGS = {
    "case_ref": "ZY202600001",
    "code": "ZC",
    "user_ref": "x",
    "token_id": 1,
    "token_ref": "x",
    "action": "deactivate",
    "filename": "x",
    "upload_id": 1,
    "seq": 1,
    "complaint_ref": "CP-00000000",
    "period_id": 1,
}


def routes(app: Flask):
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            args = {name: SAMPLE_ARGS[name] for name in rule.arguments}
            with app.test_request_context():
                from flask import url_for

                yield rule.endpoint, method, url_for(rule.endpoint, **args)


def test_every_non_public_route_refuses_anonymous_users(app, world):
    client = app.test_client()
    checked = 0
    for endpoint, method, url in routes(app):
        if endpoint in PUBLIC:
            continue
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
            assert response.json["error"]["code"] == "unauthorized"
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
        checked += 1
    assert checked >= 20


def test_every_post_form_refuses_a_missing_csrf_token(csrf_app, world):
    client = csrf_app.test_client()
    login_page = client.post("/login", data={"email": world["admin"], "password": "x" * 12})
    assert login_page.status_code == 400
    token = csrf_token(client)
    assert (
        client.post(
            "/login", data={"email": world["admin"], "password": "correct-horse-battery-9", "csrf_token": token}
        ).status_code
        == 302
    )
    checked = 0
    for endpoint, method, url in routes(csrf_app):
        if method != "POST" or url.startswith("/api/"):
            continue
        response = client.post(url, data={})
        assert response.status_code == 400, (endpoint, url, response.status_code)
        checked += 1
    assert checked >= 8


CASE_ROUTES = ["/cases/{ref}", "/api/v1/cases/{ref}"]


@pytest.mark.parametrize("template", CASE_ROUTES)
def test_another_agencys_case_answers_exactly_like_a_missing_one(app, world, runner, template):
    client = app.test_client()
    login(client, world["zc_agent"])
    with app.app_context():
        token = runner.invoke(args=["users", "token", world["zc_agent"]]).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    own, others, missing = "ZY202600001", "ZY202600002", "ZY209999999"
    assert client.get(template.format(ref=own), headers=headers).status_code == 200
    theirs = client.get(template.format(ref=others), headers=headers)
    nowhere = client.get(template.format(ref=missing), headers=headers)
    assert theirs.status_code == nowhere.status_code == 404
    if template.startswith("/api/"):
        assert theirs.json["error"]["code"] == nowhere.json["error"]["code"] == "not_found"
        assert theirs.json["error"]["message"].replace(others, "X") == nowhere.json["error"]["message"].replace(
            missing, "X"
        )


def test_agency_lists_never_count_or_show_other_agencies_cases(app, world):
    client = app.test_client()
    login(client, world["zc_agent"])
    for query in ("", "?placement=ended", "?q=ZY2026000", "?agency=HX", "?placement=any", "?sort=-outstanding_balance"):
        page = client.get("/cases/" + query).get_data(as_text=True)
        refs = set(re.findall(r"ZY2026000\d\d", page))
        assert all(int(ref[-2:]) % 2 == 1 for ref in refs), (query, refs)


def test_security_headers_and_cookie_flags(app, client, world):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    login_response = login(client, world["ops"])
    cookie = next(c for c in login_response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_no_template_uses_inline_script_or_style(app):
    from pathlib import Path

    from portal import ROOT

    for template in Path(ROOT / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert " style=" not in text and "<style" not in text, template
        assert not re.search(r"\son[a-z]+=", text), template


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    from portal import create_app
    from portal.config import ConfigError

    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY"):
        create_app()
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k" * 40)
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True


def test_production_sends_hsts_and_development_does_not(monkeypatch, app):
    from portal import create_app

    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_SECRET_KEY", "k" * 40)
    production = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    response = production.test_client().get("/login")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_rate_limited_answers_carry_retry_after_on_pages_and_the_api(app, world):
    app.config["PORTAL_RATE_LIMIT_LOGIN"] = "1 per minute"
    app.config["PORTAL_RATE_LIMIT_API_ANONYMOUS"] = "1 per minute"
    client = app.test_client()
    client.post("/login", data={"email": "x@zc.example.com", "password": "y" * 12})
    page = client.post("/login", data={"email": "x@zc.example.com", "password": "y" * 12})
    client.get("/api/v1/cases")
    api = client.get("/api/v1/cases")
    assert page.status_code == api.status_code == 429
    assert 0 < int(page.headers["Retry-After"]) <= 60 and 0 < int(api.headers["Retry-After"]) <= 60
    assert page.mimetype == "text/html" and set(api.json) == {"error"}
    assert set(api.json["error"]) == {"code", "message"} and api.json["error"]["code"] == "rate_limited"
