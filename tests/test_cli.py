"""The contract's commands (section 3): names, options, --json printing exactly one object."""

from __future__ import annotations

import json

import pytest

from portal.agencies.models import Agency
from portal.extensions import db


def test_agencies_create_with_every_option(runner, ctx):
    result = runner.invoke(
        args=[
            "agencies",
            "create",
            "zc",
            "--name",
            "中诚",
            "--adapter",
            "cn_gbk_csv",
            "--timezone",
            "Asia/Urumqi",
            "--capacity",
            "500",
            "--commission",
            "M1:0.08,M2:0.12,M3:0.18,M4+:0.25",
            "--channels",
            "call,sms,visit",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["code"] == "ZC" and out["capacity"] == 500 and out["channels"] == ["call", "sms", "visit"]
    agency = db.session.get(Agency, out["id"])
    assert agency.commission_rate("M4+") == __import__("decimal").Decimal("0.25")
    assert agency.default_adapter == "cn_gbk_csv" and agency.timezone == "Asia/Urumqi"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--commission", "M9:0.1"], "unknown bucket 'M9'"),
        (["--commission", "M1:1.5"], "between 0 and 1"),
        (["--channels", "fax"], "unknown channel(s) fax"),
        (["--timezone", "Mars/Olympus"], "unknown timezone"),
    ],
)
def test_agencies_create_refuses_bad_options_with_one_line(runner, ctx, args, message):
    result = runner.invoke(args=["agencies", "create", "ZC", "--name", "x", *args])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_a_duplicate_agency_is_refused(runner, ctx):
    runner.invoke(args=["agencies", "create", "ZC", "--name", "x"])
    again = runner.invoke(args=["agencies", "create", "ZC", "--name", "x"])
    assert again.exit_code == 1 and again.stderr == "error: agency ZC already exists\n"


def test_demo_seed_builds_a_world_once_and_reuses_it(runner, ctx):
    first = runner.invoke(args=["demo", "seed", "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["created"] is True
    assert out["cases"]["inserted"] == 300 and out["cases"]["errors"] == 0
    assert out["placements"]["placed"] > 200 and out["placements"]["errors"] == 0
    assert {u["role"] for u in out["users"]} == {"agency_agent", "agency_admin", "lender_ops", "compliance", "admin"}
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "already present" in second.stdout and "demo-portal-2026" in second.stdout


def test_the_demo_logins_work(app, runner):
    with app.app_context():
        runner.invoke(args=["demo", "seed"])
    client = app.test_client()
    response = client.post("/login", data={"email": "agent@zc.example.com", "password": "demo-portal-2026"})
    assert response.headers["Location"] == "/cases/"
    assert client.get("/cases/").status_code == 200
