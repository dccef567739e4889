"""``flask audit verify|export|checkpoint|receipt|retention``: contract shapes, exit codes, offline verification."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from portal.audit import verify as offline
from portal.config import ConfigError, parse_retention
from portal.db import utcnow
from portal.extensions import db
from tests.audit.conftest import tamper
from tests.conftest import DATA, audit_actions, last_seq


def offline_verify(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal.audit.verify", str(bundle), *args], capture_output=True, text=True, check=False
    )


def test_verify_json_is_exactly_the_contract_object(runner, world, app):
    result = runner.invoke(args=["audit", "verify", "--json"])
    assert result.exit_code == 0 and result.stderr == ""
    out = json.loads(result.stdout)
    assert list(out) == ["ok", "events", "first_bad_seq", "root", "unproven_events", "witnessed_tree_size"]
    assert out["ok"] is True and out["first_bad_seq"] is None and len(out["root"]) == 64
    # No checkpoint has been signed in this test: nothing is witnessed, every event is unproven.
    assert out["witnessed_tree_size"] is None and out["unproven_events"] == out["events"]
    with app.app_context():
        assert out["events"] == last_seq() - 1 and audit_actions(last_seq() - 1) == ["audit:trail:verify"]


def test_verify_exits_1_naming_the_first_bad_seq(runner, world, app):
    with app.app_context():
        tamper("UPDATE audit_events SET object_id = '999' WHERE seq = 12")
    result = runner.invoke(args=["audit", "verify", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["first_bad_seq"] == 12
    assert result.stderr.count("\n") == 1 and "seq 12" in result.stderr
    text = runner.invoke(args=["audit", "verify", "--full"])
    assert text.exit_code == 1 and "seq 12: columns: columns differ from the signed event: object_id" in text.stdout


def test_export_the_whole_trail_verifies_offline(runner, world, tmp_path):
    out = tmp_path / "bundle.zip"
    result = runner.invoke(args=["audit", "export", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"] == summary["tree_size"] == summary["proofs"]
    assert summary["filters"] == {"since": None, "until": None, "agency": None}
    with zipfile.ZipFile(out) as zf:
        assert "verify_bundle.py" in zf.namelist()
        assert "python -m portal.audit.verify" in zf.read("README.txt").decode()
        checkpoint = json.loads(zf.read("checkpoint.json"))
    assert checkpoint["root_hash"] == summary["root_hash"]
    checked = offline_verify(out, "--json", "--trusted-key", checkpoint["key_id"])
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["complete_tree"] is True, checked.stdout


def test_export_filtered_by_period_and_agency(runner, world, tmp_path, app):
    out = tmp_path / "hx.zip"
    today = utcnow().date()
    args = ["audit", "export", "--out", str(out), "--agency", "hx", "--since", str(today - timedelta(days=1))]
    result = runner.invoke(args=[*args, "--until", str(today + timedelta(days=1)), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["filters"]["agency"] == "hx" and summary["events"] > 0
    assert summary["events"] < summary["tree_size"]
    with zipfile.ZipFile(out) as zf:
        events = [json.loads(line)["event"] for line in zf.read("audit_events.jsonl").decode().splitlines()]
    assert {e["agency_id"] for e in events} == {2}
    checked = offline_verify(out)
    assert checked.returncode == 0 and "RESULT: PASS" in checked.stdout
    empty = tmp_path / "none.zip"
    result = runner.invoke(args=["audit", "export", "--out", str(empty), "--until", "2001-01-01"])
    assert result.exit_code == 0 and offline_verify(empty).returncode == 0


def test_a_tampered_column_fails_the_offline_verifier_with_its_seq(runner, world, tmp_path, app):
    with app.app_context():
        tamper("UPDATE audit_events SET outcome = 'failure' WHERE seq = 5")
    out = tmp_path / "bundle.zip"
    assert runner.invoke(args=["audit", "export", "--out", str(out)]).exit_code == 0
    checked = offline_verify(out, "--json")
    assert checked.returncode == 1 and json.loads(checked.stdout)["first_bad_seq"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agency", "NOPE"], "unknown agency"),
        (["--since", "last tuesday"], "since is not an ISO 8601 date"),
    ],
)
def test_export_refuses_bad_options(runner, world, tmp_path, args, message):
    out = tmp_path / "x.zip"
    result = runner.invoke(args=["audit", "export", "--out", str(out), *args])
    assert result.exit_code == 1 and message in result.stderr and not out.exists()


def test_receipt_command_prints_a_verifiable_receipt(runner, world):
    result = runner.invoke(args=["audit", "receipt", "3", "--json"])
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert offline.verify_receipt(receipt) and receipt["seq"] == 3
    missing = runner.invoke(args=["audit", "receipt", "999999"])
    assert missing.exit_code == 1 and "no audit event 999999" in missing.stderr


def test_retention_report(runner, world, app):
    ingest = runner.invoke(
        args=[
            "uploads",
            "ingest",
            str(DATA / "contacts_canonical.csv"),
            "--agency",
            "ZC",
            "--kind",
            "contacts",
            "--json",
        ]
    )
    assert ingest.exit_code == 0, ingest.output
    with app.app_context():
        tamper("UPDATE cases SET status = 'closed' WHERE case_ref = 'ZY202600002'")
        from portal.audit.retention import retention_report

        now = utcnow()
        report = retention_report(app.config["PORTAL_RETENTION"], now=now)
        later = retention_report(app.config["PORTAL_RETENTION"], now=now + timedelta(days=6 * 366))
        db.session.rollback()
    by_type = {i["record_type"]: i for i in report["items"]}
    assert by_type["contacts"]["retention"] == "5y" and by_type["recordings"]["retention"] == "5y"
    assert by_type["contacts"]["stored"] > 0 and by_type["contacts"]["due"] == 0
    assert 0 < by_type["recordings"]["stored"] <= by_type["contacts"]["stored"]
    assert by_type["closed_cases"]["stored"] == 1
    assert by_type["audit_events"]["retention"] == "forever" and by_type["audit_events"]["cutoff"] is None
    later_by_type = {i["record_type"]: i for i in later["items"]}
    assert later_by_type["contacts"]["due"] == by_type["contacts"]["stored"]
    assert later_by_type["closed_cases"]["due"] == 1
    assert later_by_type["audit_events"]["due"] == 0 and later["due_total"] > 0
    result = runner.invoke(args=["audit", "retention", "--json"])
    assert result.exit_code == 0
    assert [i["record_type"] for i in json.loads(result.stdout)["items"]] == list(by_type)


def test_retention_setting_overrides_defaults_and_refuses_nonsense():
    periods = parse_retention("contacts=7y, settlements=18m,uploads=90d")
    assert periods["contacts"] == "7y" and periods["settlements"] == "18m" and periods["uploads"] == "90d"
    assert periods["recordings"] == "5y" and periods["audit_events"] == "forever"
    for bad in ("contacts=5", "bogus=5y", "audit_events=10y", "contacts=y"):
        with pytest.raises(ConfigError):
            parse_retention(bad)
