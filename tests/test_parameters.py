"""Nothing a client sends answers 500 (contract 4): hostile values in every path and query parameter of
every route, the reproductions of issue 9 one by one, and 405 answers that say what is allowed."""

from __future__ import annotations

import base64
import io
import json
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask, url_for
from werkzeug.datastructures import ImmutableMultiDict

from portal.accounts.services import create_token, get_user_by_email
from portal.complaints.services import lender_today, register_complaint
from portal.compliance.calendar import add_period
from portal.security import Actor, Role
from tests.conftest import DATA, PASSWORD

API = "/api/v1"


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# Each kind of value that answered 500 somewhere before issue 9, and a few of their cousins.
HOSTILE = [
    "9223372036854775808",  # 2**63: one past a signed 64-bit column
    "99999999999999999999",
    "-5",
    "0",
    "\x00",
    "a\x00b",
    "\u00b3",  # '³'.isdigit() is True, int('³') raises
    "\u0661\u0662",  # Arabic-Indic digits: int() takes them, no column should
    "null",
    "1e999999",
    "NaN",
    "x" * 3000,
    "\u202egnp.exe",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    _b64(["\u0000", 1]),
    _b64([1e30, 1]),
    _b64(["1e999999", 1]),
    _b64(["9999-12-31T23:59:59+00:00", 1]),
    _b64(["2026-01-01T00:00:00+00:00", 99999999999999999999]),
    base64.urlsafe_b64encode(b"seq:99999999999999999999").decode(),
    "up_0000000000000000000000",
    "CP-00000000",  # the shape of a complaint's reference, none's
    "cp-0000000\u00df",  # upper() makes it one character longer
    "CP-0000000I",  # a letter the alphabet leaves out
]


class _WatchedArgs(ImmutableMultiDict):
    """Query arguments that remember which names the view asked for."""

    read: set[str] = set()

    def get(self, key, default=None, type=None):
        self.read.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        self.read.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


@pytest.fixture
def watched(app: Flask):
    class WatchedRequest(app.request_class):
        @cached_property
        def args(self):
            return _WatchedArgs(super().args)

    app.request_class = WatchedRequest
    return _WatchedArgs.read


@pytest.fixture
def seeded(app: Flask, world: dict[str, str]) -> dict[str, Any]:
    """ZC's agent has uploaded contacts (rows, findings and audit events), a complaint against ZC and a
    restricted period are registered: real values for every path."""
    # Thousands of requests in a minute: a 429 must not stand in for the answer being tested.
    app.config["PORTAL_RATE_LIMIT_API"] = "1000000 per minute"
    app.config["PORTAL_RATE_LIMIT_API_ANONYMOUS"] = "1000000 per minute"
    client = app.test_client()
    with app.app_context():
        minted = {
            who: create_token(actor=Actor.system(source="test"), user=get_user_by_email(world[who]), label="t")
            for who in ("zc_agent", "compliance", "admin")
        }
        tokens = {who: clear for who, (_token, clear) in minted.items()}
        token_id = minted["zc_agent"][0].id
        user_id = get_user_by_email(world["zc_agent"]).id
        officer = get_user_by_email(world["compliance"])
        lender = Actor(user_id=officer.id, role=Role.COMPLIANCE, source="test")
        today = lender_today(app.config["PORTAL_TIMEZONE"])
        complaint_ref = register_complaint(
            actor=lender,
            agency_code="ZC",
            category="harassment",
            channel="phone_hotline",
            received_on=today,
            summary="Called eleven times on Sunday.",
            today=today,
            response_days=15,
        ).reference
        period_id = add_period(actor=lender, name="p", start_on=today, end_on=today, reason="r").id
    with app.test_request_context():
        from portal.accounts.views import USER_PURPOSE
        from portal.params import seal_cursor

        user_ref = seal_cursor([user_id], purpose=USER_PURPOSE)
    contacts = (DATA / "contacts_canonical.csv").read_bytes()
    posted = client.post(
        f"{API}/uploads",
        headers={"Authorization": f"Bearer {tokens['zc_agent']}"},
        data={"kind": "contacts", "file": (io.BytesIO(contacts), "c.csv")},
    )
    assert posted.status_code == 202, posted.json
    return {
        "tokens": tokens,
        "path": {
            "case_ref": contacts.decode().splitlines()[1].split(",", 1)[0],
            "code": "ZC",
            "user_ref": user_ref,
            "token_id": token_id,
            "action": "deactivate",
            "upload_id": posted.json["id"],
            "filename": "portal.css",
            "complaint_ref": complaint_ref,
            "period_id": period_id,
        },
    }


def _rules(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method


def _url(app: Flask, rule, values: dict[str, Any], query: dict[str, str] | None = None) -> str:
    with app.test_request_context():
        path = url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
    # url_for quotes path values; the query is built by hand so that nothing is normalised away.
    return path + ("?" + urlencode(query) if query else "")


def _hostile_path(app: Flask, rule, values: dict[str, Any], name: str, value: str) -> str:
    with app.test_request_context():
        marker = "PARAMETERMARKER"
        path = url_for(rule.endpoint, **{n: (marker if n == name else values[n]) for n in rule.arguments})
    return path.replace(marker, quote(value, safe=""))


def _web_client(app: Flask, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _sweep(app: Flask, watched: set[str], seeded: dict[str, Any], who: str, web_email: str) -> list[str]:
    """Every GET route as ``who``: each path parameter and each query parameter it reads, every hostile value."""
    problems: list[str] = []
    web = _web_client(app, web_email)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {seeded['tokens'][who]}"}
    checked = 0
    for rule, method in _rules(app):
        if method != "GET":
            continue
        client, extra = (api, headers) if rule.rule.startswith(API) else (web, {})
        watched.clear()
        client.open(_url(app, rule, seeded["path"]), method=method, headers=extra).close()
        names = set(watched)
        for value in HOSTILE:
            urls = [_hostile_path(app, rule, seeded["path"], name, value) for name in rule.arguments]
            urls += [_url(app, rule, seeded["path"], {name: value}) for name in names]
            for url in urls:
                with client.open(url, method=method, headers=extra) as response:
                    checked += 1
                    assert response.status_code != 429, url
                    if response.status_code >= 500:
                        problems.append(f"{method} {url[:120]!r} as {who}: {response.status_code}")
                    elif url.startswith(API) and response.status_code >= 400:
                        assert response.json["error"]["code"], url
    assert checked > 300, checked
    return problems


@pytest.mark.parametrize(("who", "web_user"), [("zc_agent", "zc_agent"), ("compliance", "admin")])
def test_no_hostile_parameter_of_any_route_answers_500(app, world, watched, seeded, who, web_user):
    problems = _sweep(app, watched, seeded, who, world[web_user])
    assert not problems, "answered 500:\n" + "\n".join(problems)


# --- the reproductions of issue 9, one by one ----------------------------------------------------


@pytest.mark.parametrize(
    ("who", "url", "name"),
    [
        ("zc_agent", "/uploads?cursor=99999999999999999999", "cursor"),
        ("zc_agent", "/uploads?limit=-5", "limit"),
        ("zc_agent", "/cases?limit=-5", "limit"),
        ("zc_agent", "/cases?limit=%C2%B3", "limit"),
        ("zc_agent", "/findings?limit=%C2%B3", "limit"),
        ("zc_agent", "/cases?limit=null", "limit"),
        ("zc_agent", "/cases?q=%00", "q"),
        ("zc_agent", "/findings?rule=%00", "rule"),
        ("zc_agent", "/findings?cursor=99999999999999999999", "cursor"),
        ("zc_agent", "/cases?cursor=" + _b64(["\u0000", 1]), "cursor"),
        ("zc_agent", "/cases?cursor=" + _b64([1e30, 1]), "cursor"),
        ("zc_agent", "/cases?cursor=" + _b64(["1e999999", 1]) + "&sort=-outstanding_balance", "cursor"),
        ("zc_agent", "/cases?cursor=" + _b64(["9999-12-31T23:59:59+00:00", 1]) + "&sort=expires_at", "cursor"),
        ("compliance", "/audit/checkpoint?tree_size=9223372036854775808", "tree_size"),
        ("compliance", "/audit/proof/inclusion?seq=9223372036854775808", "seq"),
        ("compliance", "/audit/proof/consistency?from=%C2%B3", "from"),
        ("compliance", "/audit/events?since=9999-12-31T23:59:59-12:00", "since"),
        ("compliance", "/audit/events?until=9999-12-31", "until"),
        ("compliance", "/audit/events?limit=0", "limit"),
        ("compliance", "/audit/events?actor=%C2%B3", None),
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(app, seeded, who, url, name):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {seeded['tokens'][who]}"}
    response = client.get(API + url, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["error"]["code"] == "invalid_parameter"
    if name:
        assert name in response.json["error"]["message"]


def test_the_message_is_in_the_readers_language(app, seeded):
    response = app.test_client().get(
        f"{API}/cases?limit=-5",
        headers={"Authorization": f"Bearer {seeded['tokens']['zc_agent']}", "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 400
    assert "limit" in response.json["error"]["message"]
    assert "整数" in response.json["error"]["message"]


@pytest.mark.parametrize("value", ["9223372036854775808", "1", "%00", "up_0000000000000000000000"])
def test_an_upload_id_that_is_not_the_callers_is_not_found(app, seeded, value):
    response = app.test_client().get(
        f"{API}/uploads/{value}", headers={"Authorization": f"Bearer {seeded['tokens']['zc_agent']}"}
    )
    assert response.status_code in (404, 400)
    if value != "%00":
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "contacts", "adapter": "x" * 61},
        {"kind": "contacts", "adapter": "canonical\x00"},
        {"kind": "contacts\x00"},
    ],
)
def test_an_upload_with_a_hostile_field_is_a_400_and_stores_nothing(app, seeded, data):
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.uploads.models import Upload

    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(Upload)).scalar_one()
    files = {"file": (io.BytesIO(b"case_ref\nZY1\n"), "c.csv")}
    response = app.test_client().post(
        f"{API}/uploads", headers={"Authorization": f"Bearer {seeded['tokens']['zc_agent']}"}, data=data | files
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_parameter"
    assert "adapter" in response.json["error"]["message"] or "kind" in response.json["error"]["message"]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Upload)).scalar_one() == before


@pytest.mark.parametrize("adapter", ["x" * 61, "canonical\x00"])
def test_the_upload_form_refuses_a_hostile_adapter_with_a_400_page(app, world, adapter):
    client = _web_client(app, world["zc_agent"])
    response = client.post(
        "/uploads/",
        data={"kind": "contacts", "adapter": adapter, "file": (io.BytesIO(b"case_ref\nZY1\n"), "c.csv")},
    )
    assert response.status_code == 400
    assert "adapter" in response.get_data(as_text=True)


def test_the_cli_refuses_a_long_adapter(app, world, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes((DATA / "contacts_canonical.csv").read_bytes())
    result = app.test_cli_runner().invoke(
        args=["uploads", "ingest", str(path), "--agency", "ZC", "--kind", "contacts", "--adapter", "x" * 61]
    )
    assert result.exit_code != 0
    assert "--adapter" in result.output and "60" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("path", ["/cases/%00", "/cases/?q=%00", "/cases/?cursor=" + _b64(["\u0000", 1])])
def test_web_pages_answer_a_400_page_not_a_500(app, world, path):
    response = _web_client(app, world["zc_agent"]).get(path)
    assert response.status_code in (200, 400), response.status_code
    assert response.status_code == 400 or "cursor" in response.get_data(as_text=True)


def test_a_login_email_with_a_nul_is_a_400_page(app, world):
    response = app.test_client().post("/login", data={"email": "agent@zc.example.com\x00", "password": PASSWORD})
    assert response.status_code == 400


def test_a_json_field_with_a_nul_is_a_400(app, seeded):
    response = app.test_client().get(
        f"{API}/me",
        headers={"Authorization": f"Bearer {seeded['tokens']['zc_agent']}"},
        json={"note": "a\x00b"},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_parameter"


# --- 405 ---------------------------------------------------------------------------------------


def test_a_405_says_which_methods_are_allowed(app, seeded):
    client = app.test_client()
    api = client.delete(f"{API}/cases", headers={"Authorization": f"Bearer {seeded['tokens']['zc_agent']}"})
    assert api.status_code == 405
    assert set(api.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert api.json["error"]["code"] == "method_not_allowed"
    uploads = client.put(f"{API}/uploads", headers={"Authorization": f"Bearer {seeded['tokens']['zc_agent']}"})
    assert {"GET", "POST"} <= set(uploads.headers["Allow"].replace(" ", "").split(","))
    page = client.put("/login")
    assert page.status_code == 405
    assert "POST" in page.headers["Allow"]
