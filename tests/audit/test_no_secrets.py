"""No audit event holds a clear ID number, phone number, password or API token, after a full scenario."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.cases.models import Customer, CustomerPhone
from portal.demo.seed import DEMO_PASSWORD
from portal.extensions import db

CN_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
E164 = re.compile(r"\+\d{8,15}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
NEW_PASSWORD = "a-brand-new-passphrase-42"


def strings(value):
    """Every string inside a JSON value, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def scenario(app, runner) -> list[str]:
    """Seed the demo, log everyone in (and fail some), mint tokens, call the API, view cases, change a password."""
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    tokens = []
    for email in ("compliance@lender.example.com", "agent@zc.example.com"):
        result = runner.invoke(args=["users", "token", email, "--json"])
        tokens.append(json.loads(result.stdout)["token"])
    with app.app_context():
        phones = db.session.execute(select(CustomerPhone.number)).scalars().all()
        case_ref = "ZY202600001"
    web = app.test_client()
    for email in (
        "agent@zc.example.com",
        "manager@zc.example.com",
        "ops@lender.example.com",
        "admin@lender.example.com",
    ):
        assert web.post("/login", data={"email": email, "password": DEMO_PASSWORD}).status_code == 302
        web.get(f"/cases/{case_ref}")
        web.post("/logout")
    web.post("/login", data={"email": "agent@zc.example.com", "password": "wrong-" + DEMO_PASSWORD})
    web.post("/login", data={"email": "nobody@example.com", "password": DEMO_PASSWORD})
    web.post("/login", data={"email": phones[0] + "@example.com", "password": phones[0]})
    web.post("/login", data={"email": "manager@zc.example.com", "password": DEMO_PASSWORD})
    page = web.post("/account/tokens", data={"name": "nightly"}).get_data(as_text=True)
    tokens += re.findall(r"pt_[A-Za-z0-9_-]{20,}", page)
    web.post(
        "/account/password",
        data={"current_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    for token in tokens:
        api = app.test_client()
        api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        api.get(f"/api/v1/cases/{case_ref}")
        api.get("/api/v1/audit/events?limit=5")
    bad = app.test_client()
    bad.environ_base["HTTP_AUTHORIZATION"] = "Bearer pt_not-a-real-token-at-all-000000"
    assert bad.get("/api/v1/cases").status_code == 401
    return tokens


def test_events_of_a_full_scenario_hold_no_personal_numbers_passwords_or_tokens(app, runner):
    tokens = scenario(app, runner)
    assert len(tokens) == 3
    with app.app_context():
        events = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        id_numbers = set(db.session.execute(select(Customer.id_number)).scalars())
        phones = set(db.session.execute(select(CustomerPhone.number)).scalars())
    actions = {e.action for e in events}
    assert {
        "account:login:success",
        "account:login:failure",
        "account:token:create",
        "case:personal_data:view",
    } <= actions
    assert {"account:password:change", "case:case:create", "audit:events:read"} <= actions
    assert len(id_numbers) > 100 and len(phones) > 100
    secrets = {*tokens, DEMO_PASSWORD, NEW_PASSWORD, *id_numbers, *phones}
    for event in events:
        text = event.canonical
        leaked = [s for s in secrets if s in text]
        assert not leaked, (event.seq, event.action, leaked)
        assert "pt_" not in text, (event.seq, event.action)
        for value in strings(json.loads(text)):
            if HEX_DIGEST.fullmatch(value):
                continue  # hashes kept for comparison (an unknown e-mail, a file)
            for pattern in (CN_MOBILE, E164, ID_NUMBER):
                assert not pattern.search(value), (event.seq, event.action, value)
