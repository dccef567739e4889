"""portal-client against a live portal: upload, duplicate, rejected settlements, errors.csv, cases, auth."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from portal.client import CASE_COLUMNS, main
from tests.conftest import DATA
from tests.uploads.conftest import SETTLEMENT_HEADER

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = str(DATA / "contacts_canonical.csv")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_upload_prints_the_completed_summary_with_progress(portal_env, capsys):
    code, out, err = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--wait")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "completed" and summary["duplicate"] is False
    assert summary["filename"] == "contacts_canonical.csv" and summary["adapter"] == "canonical"
    assert summary["rows_total"] == 60
    assert summary["rows_total"] == summary["rows_accepted"] + summary["rows_rejected"] + summary["rows_duplicate"]
    assert out.startswith("{\n  ")  # pretty by default
    assert "uploading contacts_canonical.csv: 100%" in err
    assert f"upload {summary['id']} completed: 60 rows" in err


def test_the_same_file_again_is_a_duplicate_of_the_first_upload(portal_env, capsys):
    code, out, _ = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--json")
    assert code == 0
    first = json.loads(out)
    assert out.count("\n") == 1  # --json is compact
    code, out, err = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--json", "--quiet")
    again = json.loads(out)
    assert code == 0
    assert again["duplicate"] is True and again["id"] == first["id"]
    assert f"is a duplicate of upload {first['id']}" in err
    assert "%" not in err  # --quiet: no progress


def test_a_settlement_file_with_a_bad_row_is_rejected_and_its_errors_download(portal_env, capsys, tmp_path):
    bad = tmp_path / "settlements.csv"
    bad.write_text(
        SETTLEMENT_HEADER
        + "ZY202600001,2026-11-15 10:00:00,200.00,bank_transfer,ZC-TXN-90000,partial,,\n"
        + "ZY202600005,2026-11-16 10:01:00,lots,bank_transfer,ZC-TXN-90001,partial,,\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "upload", str(bad), "--kind", "settlements", "--wait")
    summary = json.loads(out)
    assert code == 1, err
    assert summary["status"] == "rejected" and summary["rows_accepted"] == 0
    assert [e["row"] for e in summary["errors"]] == [2]
    assert f"portal-client errors {summary['id']}" in err

    target = tmp_path / "errors.csv"
    code, _, err = run(capsys, "errors", str(summary["id"]), "-o", str(target))
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0][:4] == ["row", "field", "code", "message"]  # the contract's columns first, any others after
    assert [r[:3] for r in rows[1:]] == [["2", summary["errors"][0]["field"], summary["errors"][0]["code"]]]
    assert not (tmp_path / "errors.csv.part").exists()

    code, out, _ = run(capsys, "errors", str(summary["id"]), "-o", "-")
    assert code == 0 and out.replace("\r\n", "\n") == target.read_text(encoding="utf-8").replace("\r\n", "\n")


def test_cases_follows_every_page_into_a_csv(portal_env, capsys, tmp_path):
    target = tmp_path / "cases.csv"
    code, _, err = run(capsys, "cases", "-o", str(target))
    assert code == 0, err
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[: len(CASE_COLUMNS)] == list(CASE_COLUMNS)  # fields the portal adds go after
    assert len(rows) == 20 and len({r["case_ref"] for r in rows}) == 20
    assert {r["agency"] for r in rows} == {"ZC"}
    assert rows[0]["case_ref"] == "ZY202600001" and rows[0]["outstanding_balance"] == "10186.50"
    assert "20 cases written to" in err

    code, out, _ = run(capsys, "cases", "--bucket", "M2", "-o", "-")
    m2 = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and m2 and {r["bucket"] for r in m2} == {"M2"} and len(m2) < 20


def test_missing_token_is_a_one_line_usage_error(monkeypatch, live_server, capsys):
    monkeypatch.setenv("PORTAL_URL", live_server)
    monkeypatch.delenv("PORTAL_TOKEN", raising=False)
    code, out, err = run(capsys, "status", "up_0000000000000000000000")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "PORTAL_TOKEN" in err and err.startswith("error: ")


def test_missing_url_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("PORTAL_URL", raising=False)
    code, _, err = run(capsys, "--token", "x", "status", "up_0000000000000000000000")
    assert code == 2 and "PORTAL_URL" in err


def test_a_wrong_token_is_unauthorized_with_its_own_exit_status(portal_env, capsys):
    code, out, err = run(capsys, "status", "up_0000000000000000000000", "--token", "not-a-token")
    assert code == 5 and out == ""
    assert err.startswith("error: unauthorized: ")
    code, _, err = run(capsys, "--token", "not-a-token", "upload", CONTACTS, "--kind", "contacts", "-q")
    assert code == 5 and err.startswith("error: unauthorized: ")


def test_an_upload_of_another_agency_is_not_found(portal_env, mint, capsys):
    code, out, _ = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--json", "-q")
    upload_id = json.loads(out)["id"]
    code, _, err = run(capsys, "status", str(upload_id), "--token", mint("hx_agent"))
    assert code == 1 and err.startswith("error: not_found: ")
    code, out, _ = run(capsys, "status", str(upload_id), "--json")
    assert code == 0 and json.loads(out)["id"] == upload_id


def test_a_dead_port_is_retried_then_reported(monkeypatch, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PORTAL_CLIENT_BACKOFF", "0.01")
    code, out, err = run(
        capsys,
        "--url",
        f"http://127.0.0.1:{port}",
        "--token",
        "t",
        "--retries",
        "2",
        "status",
        "up_0000000000000000000000",
    )
    assert code == 3 and out == ""
    assert err.count("connection refused; retrying in") == 2
    assert err.splitlines()[-1] == (
        f"error: unreachable: cannot reach http://127.0.0.1:{port}: connection refused (gave up after 3 attempts)"
    )


def test_the_console_script_runs_as_a_subprocess(portal_env, tmp_path):
    env = os.environ | portal_env
    upload = subprocess.run(
        [sys.executable, "-m", "portal.client", "upload", CONTACTS, "--kind", "contacts", "--json", "--wait"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upload.returncode == 0, upload.stderr
    summary = json.loads(upload.stdout)
    assert summary["status"] == "completed" and summary["rows_total"] == 60
    status = subprocess.run(
        [sys.executable, "-m", "portal.client", "status", str(summary["id"]), "--json"],
        cwd=ROOT,
        env=env | {"PORTAL_TOKEN": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 5 and status.stderr.startswith("error: unauthorized: ")
    assert (
        "flask"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, portal.client; print(sorted(m for m in sys.modules if 'flask' in m))"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )


def test_a_saved_receipt_verifies_offline_and_a_tampered_one_does_not(portal_env, capsys, tmp_path):
    code, out, err = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--receipt-dir", str(tmp_path))
    assert code == 0, err
    summary = json.loads(out)
    receipt_path = tmp_path / f"upload-{summary['id']}-receipt.json"
    receipt = json.loads(receipt_path.read_text(encoding="utf-8"))
    assert receipt["seq"] == summary["receipt"]["seq"]
    assert receipt["event"]["action"] == "upload:file:complete"
    assert receipt["event"]["details"]["sha256"] == summary["sha256"]

    env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_URL", "PORTAL_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-m", "portal.client", "verify-receipt", str(receipt_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"receipt OK: audit event {receipt['seq']} is leaf")

    key_id = receipt["checkpoint"]["key_id"]
    assert run(capsys, "verify-receipt", str(receipt_path), "--trusted-key", key_id)[0] == 0
    assert run(capsys, "verify-receipt", str(receipt_path), "--trusted-key", "0" * 16)[0] == 1

    receipt["event"]["details"]["rows_accepted"] = 59
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(receipt), encoding="utf-8")
    code, out, err = run(capsys, "verify-receipt", str(forged))
    assert code == 1 and err.startswith("receipt NOT valid:")


def contacts_with_a_bad_row(tmp_path: Path) -> Path:
    lines = Path(CONTACTS).read_text(encoding="utf-8").splitlines()
    bad = "ZY202600001,not a time,call,debtor,13177777868,no_answer,,,,,ZC001,,"
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join([*lines[:3], bad]) + "\n", encoding="utf-8")
    return path


def test_rows_rejected_exit_0_with_a_warning_and_4_with_fail_on_rejected(portal_env, capsys, tmp_path):
    path = contacts_with_a_bad_row(tmp_path)
    code, out, err = run(capsys, "upload", str(path), "--kind", "contacts", "--wait", "--json")
    summary = json.loads(out)
    assert code == 0, err
    assert (summary["status"], summary["rows_accepted"], summary["rows_rejected"]) == ("completed", 2, 1)
    assert f"warning: 1 of 3 rows of upload {summary['id']} were rejected" in err

    # The nightly job's way: the same file again is a duplicate whose rows were still rejected.
    code, out, err = run(capsys, "upload", str(path), "--kind", "contacts", "--fail-on-rejected", "--json", "-q")
    assert code == 4, err
    again = json.loads(out)
    assert again["duplicate"] is True and again["id"] == summary["id"]
    assert set(again) == set(summary)  # --json keeps the upload object's shape
    code, out, _ = run(capsys, "errors", str(again["id"]))
    assert code == 0 and [r["code"] for r in csv.DictReader(io.StringIO(out))] == ["invalid_date"]


def test_an_agents_human_output_shows_times_in_the_agencys_timezone(portal_env, capsys, tmp_path):
    code, out, _ = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--wait", "--json", "-q")
    utc = json.loads(out)
    assert code == 0 and utc["created_at"].endswith(("Z", "+00:00"))

    code, out, err = run(capsys, "status", str(utc["id"]))
    shown = json.loads(out)
    assert code == 0, err
    expected = datetime.fromisoformat(utc["created_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert shown["created_at"] == f"{expected:%Y-%m-%d %H:%M:%S} +08:00"
    assert shown["completed_at"].endswith(" +08:00")

    target = tmp_path / "cases.csv"
    assert run(capsys, "cases", "-o", str(target))[0] == 0
    with target.open(encoding="utf-8", newline="") as handle:
        placed = [row["placed_at"] for row in csv.DictReader(handle)]
    assert placed and all(value.endswith("+08:00") for value in placed)

    code, out, _ = run(capsys, "me", "--json")
    assert code == 0 and json.loads(out) | {"locale": None} == {
        "email": "agent@zc.example.com",
        "role": "agency_agent",
        "agency": "ZC",
        "timezone": "Asia/Shanghai",
        "locale": None,
    }


def test_an_agency_pins_the_public_key_and_verifies_its_receipt_with_it(portal_env, capsys, tmp_path):
    code, out, err = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--json", "--receipt-dir", str(tmp_path))
    assert code == 0, err
    receipt_path = tmp_path / f"upload-{json.loads(out)['id']}-receipt.json"
    receipt = json.loads(receipt_path.read_text(encoding="utf-8"))

    pin = tmp_path / "audit-key.json"
    code, _, err = run(capsys, "public-key", "-o", str(pin))
    key = json.loads(pin.read_text(encoding="utf-8"))
    assert code == 0, err
    assert key["algorithm"] == "Ed25519" and key["key_id"] == receipt["checkpoint"]["key_id"]
    assert key["public_key"] == receipt["checkpoint"]["public_key"]
    assert f"--trusted-key-file {pin}" in err

    code, out, _ = run(capsys, "verify-receipt", str(receipt_path), "--trusted-key-file", str(pin))
    assert code == 0 and "(a trusted key)" in out

    # A receipt signed by some other key does not verify against the pin, even though it is intact.
    other = tmp_path / "other-key.json"
    other.write_text(json.dumps(key | {"key_id": "0" * 16, "public_key": "A" * 43 + "="}), encoding="utf-8")
    code, _, err = run(capsys, "verify-receipt", str(receipt_path), "--trusted-key-file", str(other))
    assert code == 1 and "not signed by a trusted key" in err

    # The agency may read the key, and still not the lender's audit trail.
    with requests.get(
        f"{portal_env['PORTAL_URL']}/api/v1/audit/checkpoint",
        headers={"Authorization": f"Bearer {portal_env['PORTAL_TOKEN']}"},
        timeout=30,
    ) as response:
        assert response.status_code == 403


def test_verify_receipt_prints_the_signing_time_in_utc_offline_or_in_the_given_zone(portal_env, capsys, tmp_path):
    code, out, _ = run(capsys, "upload", CONTACTS, "--kind", "contacts", "--json", "-q", "--receipt-dir", str(tmp_path))
    receipt_path = tmp_path / f"upload-{json.loads(out)['id']}-receipt.json"
    code, out, _ = run(capsys, "verify-receipt", str(receipt_path))
    assert code == 0 and re.search(r"signed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00 by key", out)
    code, out, _ = run(capsys, "verify-receipt", str(receipt_path), "--timezone", "Asia/Shanghai")
    assert code == 0 and re.search(r"signed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00 by key", out)
