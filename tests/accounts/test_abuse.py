"""Login abuse: backoff instead of lockout, no e-mail enumeration, logout on the server, rate limits, passwords."""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
import time
import uuid

import pytest
from flask import Flask

from portal import create_app
from portal.accounts import passwords, services
from portal.errors import ValidationError
from portal.extensions import db
from portal.security import Actor
from tests.conftest import PASSWORD, audit_actions, last_seq, login, make_agency, make_user, redis_or_skip

REDIS_URL = os.environ.get("PORTAL_TEST_LIMITS_REDIS_URL", "redis://127.0.0.1:6379/0")
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
COLLECTOR = {"REMOTE_ADDR": "198.51.100.7"}
WRONG = "wrong-password-x"


def attempt(client, email: str, password: str = WRONG, environ: dict | None = None):
    return client.post("/login", data={"email": email, "password": password}, environ_base=environ or ATTACKER)


def flash(response) -> str:
    match = re.search(r'class="flash error"[^>]*>([^<]*)<', response.get_data(as_text=True))
    return match.group(1) if match else ""


# --- backoff, not lockout ---------------------------------------------------------------------


def test_an_attacker_failing_for_a_collectors_email_cannot_lock_the_collector_out(app, world):
    email = world["zc_agent"]
    attacker = app.test_client()
    answers = [attempt(attacker, email).status_code for _ in range(8)]
    # The attacker's own client is slowed down: five tries, then waits.
    assert answers[:5] == [200] * 5 and set(answers[5:]) == {429}
    collector = app.test_client()
    response = attempt(collector, email, PASSWORD, environ=COLLECTOR)
    assert response.status_code == 302 and response.headers["Location"] == "/cases/"


def test_a_browser_that_logged_in_before_is_not_slowed_down_by_failures_from_its_own_network(app, world):
    email = world["zc_agent"]
    office = {"REMOTE_ADDR": "192.0.2.10"}
    collector = app.test_client()
    assert attempt(collector, email, PASSWORD, environ=office).status_code == 302
    collector.post("/logout")
    attacker = app.test_client()
    for _ in range(8):
        attempt(attacker, email, environ=office)
    assert attempt(attacker, email, PASSWORD, environ=office).status_code == 429
    # The collector's browser carries the device cookie of its last login: its own counter, still zero.
    assert attempt(collector, email, PASSWORD, environ=office).status_code == 302


def test_each_failure_after_the_free_ones_doubles_the_wait_and_a_correct_password_after_it_logs_in(app, world):
    throttle = app.extensions["portal.login_throttle"]
    throttle.policy = dataclasses.replace(throttle.policy, first_wait=1)
    email = world["zc_agent"]
    client = app.test_client()
    with app.app_context():
        seq = last_seq()
    for _ in range(5):
        assert attempt(client, email).status_code == 200
    refused = attempt(client, email, PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    time.sleep(1.2)
    assert attempt(client, email).status_code == 200
    second = attempt(client, email, PASSWORD)
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    time.sleep(2.2)
    assert attempt(client, email, PASSWORD).status_code == 302
    with app.app_context():
        assert audit_actions(seq) == (
            ["account:login:failure"] * 5
            + ["account:login:locked", "account:login:failure"]
            + ["account:login:failure", "account:login:locked", "account:login:failure"]
            + ["account:login:success"]
        )
        from sqlalchemy import select

        from portal.audit.models import AuditEvent

        reasons = [
            e.details.get("reason")
            for e in db.session.execute(
                select(AuditEvent).where(AuditEvent.seq > seq, AuditEvent.action == "account:login:failure")
            ).scalars()
        ]
        assert reasons == ["bad_password"] * 5 + ["locked", "bad_password", "locked"]


# --- no enumeration ---------------------------------------------------------------------------


def test_unknown_and_real_emails_get_the_same_words_and_status_before_and_after_the_backoff(app, world):
    real, unknown = world["zc_agent"], "nobody@zc.example.com"
    answers = {}
    for email in (real, unknown):
        client = app.test_client()
        answers[email] = [
            (r.status_code, flash(r), r.headers.get("Retry-After")) for r in (attempt(client, email) for _ in range(7))
        ]
    assert answers[real] == answers[unknown]
    assert [status for status, _, _ in answers[real]] == [200] * 5 + [429, 429]
    assert all(text for _, text, _ in answers[real])


@pytest.fixture
def timed_user(app: Flask) -> str:
    # A cost at which the hash, not the request, dominates the time, as it does in production.
    app.config["PORTAL_PASSWORD_HASH_METHOD"] = "scrypt:8192:8:1"
    with app.app_context():
        make_agency("ZC")
        return make_user("timed@zc.example.com", "agency_agent", "ZC").email


def _median_ms(app: Flask, email: str, *, fresh_ip: bool, tries: int = 15) -> float:
    client = app.test_client()
    times = []
    for n in range(tries):
        environ = {"REMOTE_ADDR": f"10.9.{n}.1"} if fresh_ip else ATTACKER
        started = time.perf_counter()
        attempt(client, email, environ=environ)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def test_unknown_wrong_and_throttled_logins_take_the_same_time(app, timed_user):
    # Fresh addresses: wrong password and unknown e-mail, never throttled.
    wrong = _median_ms(app, timed_user, fresh_ip=True)
    unknown = _median_ms(app, "nobody@zc.example.com", fresh_ip=True)
    # One address: after five tries every answer is the throttled one.
    throttled_real = _median_ms(app, timed_user, fresh_ip=False)
    throttled_unknown = _median_ms(app, "nobody-else@zc.example.com", fresh_ip=False)
    print(
        f"medians (ms): wrong {wrong:.1f}, unknown {unknown:.1f}, "
        f"throttled {throttled_real:.1f} / {throttled_unknown:.1f}"
    )
    for a, b in ((wrong, unknown), (throttled_real, throttled_unknown), (wrong, throttled_real)):
        assert 0.6 < a / b < 1.67, (wrong, unknown, throttled_real, throttled_unknown)


def test_every_login_path_checks_exactly_one_password_hash(app, world, monkeypatch):
    calls = []
    real_check = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda h, p: calls.append(h) or real_check(h, p))
    client = app.test_client()
    for email in (world["zc_agent"], "nobody@zc.example.com"):
        for _ in range(7):
            before = len(calls)
            attempt(client, email)
            assert len(calls) == before + 1, email


# --- logout ends the session ------------------------------------------------------------------


def test_a_session_cookie_saved_before_logout_no_longer_opens_pages_after_it(app, world):
    client = app.test_client()
    login(client, world["zc_agent"])
    saved = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/cases/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- rate limits ------------------------------------------------------------------------------


def test_the_login_form_is_rate_limited_per_ip_with_a_translated_page(app, world):
    app.config["PORTAL_RATE_LIMIT_LOGIN"] = "5 per minute"
    client = app.test_client()
    answers = [attempt(client, f"user{n}@zc.example.com").status_code for n in range(6)]
    assert answers == [200] * 5 + [429]
    page = attempt(client, "another@zc.example.com")
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    text = page.get_data(as_text=True)
    assert "请求过多" in text and "per 1 minute" not in text
    english = attempt(client, "another@zc.example.com", environ={**ATTACKER, "HTTP_ACCEPT_LANGUAGE": "en"})
    assert english.status_code == 429 and "Too many requests" in english.get_data(as_text=True)
    # Another address is not affected.
    assert attempt(client, world["zc_agent"], PASSWORD, environ=COLLECTOR).status_code == 302


def test_sixty_attempts_from_one_address_are_not_all_answered_with_the_default_limits(app, world):
    # The reproduction: 60 attempts in a few seconds from one address, each for another e-mail.
    client = app.test_client()
    answers = [attempt(client, f"guess{n}@zc.example.com").status_code for n in range(60)]
    assert answers[:30] == [200] * 30 and set(answers[30:]) == {429}


def test_failed_logins_for_one_email_are_limited_across_addresses_except_for_its_known_browser(app, world):
    app.config["PORTAL_RATE_LIMIT_LOGIN_EMAIL"] = "3 per hour"
    email = world["zc_agent"]
    collector = app.test_client()
    assert attempt(collector, email, PASSWORD, environ=COLLECTOR).status_code == 302
    collector.post("/logout")
    attacker = app.test_client()
    assert [attempt(attacker, email, environ={"REMOTE_ADDR": f"10.1.0.{n}"}).status_code for n in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    # Unknown e-mails are limited alike, and the collector's browser is not limited at all.
    assert attempt(attacker, email, PASSWORD, environ={"REMOTE_ADDR": "10.1.0.99"}).status_code == 429
    assert attempt(collector, email, PASSWORD, environ=COLLECTOR).status_code == 302


def _token(app: Flask, runner, email: str) -> str:
    with app.app_context():
        return runner.invoke(args=["users", "token", email]).stdout.strip().splitlines()[-1]


def test_the_api_is_rate_limited_per_token_with_the_contract_error(app, world, runner):
    app.config["PORTAL_RATE_LIMIT_API"] = "3 per minute"
    mine, other = _token(app, runner, world["zc_agent"]), _token(app, runner, world["hx_agent"])
    client = app.test_client()
    statuses = [client.get("/api/v1/cases", headers={"Authorization": f"Bearer {mine}"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {mine}", "Accept-Language": "en"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.json["error"]["code"] == "rate_limited"
    assert limited.json["error"]["message"].startswith("too many requests; try again in ")
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_calls_without_a_valid_token_are_limited_per_ip(app, world, runner):
    app.config["PORTAL_RATE_LIMIT_API_ANONYMOUS"] = "3 per minute"
    token = _token(app, runner, world["zc_agent"])
    client = app.test_client()
    good = {"Authorization": f"Bearer {token}"}
    # Calls with a valid token are not counted against the address.
    assert all(client.get("/api/v1/cases", headers=good).status_code == 200 for _ in range(5))
    guesses = [client.get("/api/v1/cases", headers={"Authorization": f"Bearer pt_guess{n}"}) for n in range(4)]
    assert [r.status_code for r in guesses] == [401, 401, 401, 429]
    assert guesses[-1].json["error"]["code"] == "rate_limited"


def test_the_default_limits_leave_ordinary_use_alone(app, world):
    # A person logging in and out twenty times in a row never meets a limit.
    client = app.test_client()
    for _ in range(20):
        login(client, world["ops"])
        client.post("/logout")


@pytest.fixture
def redis_prefix():
    connection = redis_or_skip(REDIS_URL)
    prefix = f"portal-test-{uuid.uuid4().hex[:12]}:"
    yield connection, prefix
    for key in connection.scan_iter(match=f"*{prefix}*"):
        connection.delete(key)
    connection.close()


def _second_app(app: Flask, **config) -> Flask:
    keys = ("SQLALCHEMY_DATABASE_URI", "TESTING", "WTF_CSRF_ENABLED", "SECRET_KEY", "PORTAL_PASSWORD_HASH_METHOD")
    return create_app(
        {**{k: app.config[k] for k in keys}, "PORTAL_STORAGE_DIR": app.config["PORTAL_STORAGE_DIR"], **config}
    )


def test_with_redis_two_app_processes_share_the_limits_and_the_backoff(app, world, runner, redis_prefix):
    connection, prefix = redis_prefix
    config = {
        "PORTAL_REDIS_URL": REDIS_URL,
        "PORTAL_RATE_LIMIT_KEY_PREFIX": prefix,
        "PORTAL_RATE_LIMIT_API": "3 per minute",
    }
    first, second = _second_app(app, **config), _second_app(app, **config)
    token = _token(app, runner, world["zc_agent"])
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert [first.test_client().get("/api/v1/cases", headers=headers).status_code for _ in range(3)] == [200] * 3
        assert second.test_client().get("/api/v1/cases", headers=headers).status_code == 429
        for _ in range(5):
            attempt(first.test_client(), world["zc_agent"])
        assert attempt(second.test_client(), world["zc_agent"], PASSWORD).status_code == 429
        assert any(True for _ in connection.scan_iter(match=f"*{prefix}*"))
    finally:
        for one in (first, second):
            with one.app_context():
                db.session.remove()
                db.engine.dispose()


def test_with_redis_down_the_limits_go_on_in_memory_and_nothing_fails(app, world, runner):
    dead = _second_app(app, PORTAL_REDIS_URL="redis://127.0.0.1:1/0", PORTAL_RATE_LIMIT_API="3 per minute")
    token = _token(app, runner, world["zc_agent"])
    headers = {"Authorization": f"Bearer {token}"}
    try:
        client = dead.test_client()
        assert client.get("/login").status_code == 200
        assert [client.get("/api/v1/cases", headers=headers).status_code for _ in range(4)] == [200, 200, 200, 429]
        answers = [attempt(client, world["zc_agent"]).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]
        assert attempt(dead.test_client(), world["hx_agent"], PASSWORD, environ=COLLECTOR).status_code == 302
    finally:
        with dead.app_context():
            db.session.remove()
            db.engine.dispose()


# --- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("qwertyuiopas", "a common password"),
        ("Passw0rd!Passw0rd!", "repeated characters or words"),
        ("password1234", "a common password"),
        ("abcdefghijklmnop", "a sequence"),
    ],
)
def test_easily_guessed_passwords_are_refused_with_the_reason(ctx, password, reason):
    with pytest.raises(ValidationError, match=f"too easy to guess: {reason}"):
        passwords.check_password_policy(password, email="agent@zc.example.com")


@pytest.mark.parametrize("password", ["staple-orbit-lantern-42", PASSWORD, "demo-portal-2026"])
def test_good_passphrases_and_the_suite_and_demo_passwords_pass(ctx, password):
    for email in ("agent@zc.example.com", "manager@zc.example.com", "admin@lender.example.com"):
        passwords.check_password_policy(password, email=email)


def test_the_reason_is_shown_in_the_users_language(app, world):
    client = app.test_client()
    login(client, world["zc_agent"])
    weak = "qwertyuiopas"
    page = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": weak, "confirm": weak},
        headers={"Accept-Language": "zh-CN"},
    ).get_data(as_text=True)
    assert "太容易被猜到" in page and "常见密码" in page


def test_creating_a_user_refuses_a_common_password(ctx, world):
    with pytest.raises(ValidationError, match="too easy to guess"):
        services.create_user(
            actor=Actor.system(source="test"),
            email="new@lender.example.com",
            role="lender_ops",
            password="Passw0rd!Passw0rd!",
        )


@pytest.mark.parametrize("cookie", ["garbage", "eyJkIjoiYSIsImUiOltdfQ.forged.signature", "a" * 4000])
def test_a_forged_device_cookie_counts_as_an_unknown_browser(app, world, cookie):
    email = world["zc_agent"]
    client = app.test_client()
    client.set_cookie("portal_device", cookie)
    assert [attempt(client, email).status_code for _ in range(6)] == [200] * 5 + [429]
