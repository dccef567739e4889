"""portal-client against stub servers: what the live portal rarely does on demand (ambiguity, 503s,
slow processing, receipts, many pages, formula cells)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from werkzeug.wrappers import Request, Response

from portal.client import MultipartBody, cell, main


def as_json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def summary(**fields: object) -> dict[str, object]:
    base = {
        "id": "up_0000000000000000000007",
        "kind": "contacts",
        "status": "completed",
        "duplicate": False,
        "rows_total": 2,
    }
    base.update(rows_accepted=2, rows_rejected=0, rows_duplicate=0, findings_total=0, progress=100, errors=[])
    return base | fields


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_multipart_body_streams_the_file_with_its_fields(stub_server, capsys, tmp_path):
    seen = {}

    def handler(request: Request) -> Response:
        upload = request.files["file"]
        seen.update(
            content_length=request.content_length,
            chunked=request.headers.get("Transfer-Encoding"),
            kind=request.form["kind"],
            adapter=request.form["adapter"],
            filename=upload.filename,
            data=upload.read(),
            auth=request.headers["Authorization"],
        )
        return as_json(summary(), 202)

    stub_server(handler)
    path = tmp_path / '联系 "记录".csv'
    data = b"case_ref\n" + b"x" * 200_000
    path.write_bytes(data)
    code, _, err = run(capsys, "upload", str(path), "--kind", "contacts", "--adapter", "mapping")
    assert code == 0, err
    assert seen["data"] == data and seen["kind"] == "contacts" and seen["adapter"] == "mapping"
    assert seen["chunked"] is None and seen["content_length"] == len(
        MultipartBody(path, {"kind": "contacts", "adapter": "mapping"})
    )
    assert seen["filename"] == '联系 "记录".csv'
    assert seen["auth"] == "Bearer stub-token"
    assert err.count("uploading") >= 3 and "100% 200.0 kB" in err


def test_ambiguous_format_lists_the_candidates_and_exits_2(stub_server, capsys, tmp_path):
    candidates = [
        {"adapter": "canonical", "format": "canonical_csv", "confidence": 0.9},
        {"adapter": "mapping", "format": "acme_v2", "confidence": 0.9},
    ]
    error = {
        "code": "ambiguous_format",
        "message": "more than one adapter can read this file",
        "candidates": candidates,
    }
    stub_server(lambda request: as_json({"error": error}, 422))
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n")
    code, out, err = run(capsys, "upload", str(path), "--kind", "contacts")
    assert code == 2 and out == ""
    assert "\nerror: ambiguous_format: more than one adapter" in err
    assert "--adapter canonical_csv" in err and "--adapter acme_v2" in err and "pass --adapter" in err


def test_503_is_retried_and_the_upload_resent_whole(stub_server, capsys, tmp_path):
    bodies = []

    def handler(request: Request) -> Response:
        bodies.append(request.files["file"].read())
        if len(bodies) < 3:
            return Response("busy", status=503)
        return as_json(summary(), 202)

    stub_server(handler)
    path = tmp_path / "f.csv"
    path.write_bytes(b"abc\n" * 1000)
    code, out, err = run(capsys, "upload", str(path), "--kind", "contacts", "--json")
    assert code == 0, err
    assert bodies == [path.read_bytes()] * 3
    assert err.count("HTTP 503 SERVICE UNAVAILABLE; retrying") == 2
    assert json.loads(out)["id"] == "up_0000000000000000000007"


def test_503_to_the_end_is_an_error_with_the_status(stub_server, capsys):
    stub_server(lambda request: Response("<html>bad gateway</html>", status=502, mimetype="text/html"))
    code, _, err = run(capsys, "--retries", "1", "status", "up_0000000000000000000003")
    assert code == 1 and err.splitlines()[-1] == "error: http_502: BAD GATEWAY"


def test_wait_polls_until_completed_showing_progress(stub_server, capsys, tmp_path):
    states = iter(
        [
            summary(status="processing", progress=10, rows_processed=100),
            summary(status="processing", progress=60, rows_processed=600),
            summary(status="completed", progress=100, rows_processed=1000, rows_total=1000, receipt={"sig": "abc"}),
        ]
    )

    def handler(request: Request) -> Response:
        if request.method == "POST":
            request.files["file"].read()
            return as_json(summary(status="queued", progress=0), 202)
        assert request.path == "/api/v1/uploads/up_0000000000000000000007"
        return as_json(next(states))

    stub_server(handler)
    path = tmp_path / "f.csv"
    path.write_text("a\n")
    receipts = tmp_path / "receipts"
    argv = ["upload", str(path), "--kind", "contacts", "--wait", "--interval", "0.01", "--receipt-dir", str(receipts)]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["status"] == "completed"
    assert "processing upload up_0000000000000000000007: 0% queued, 0 rows" in err
    assert "processing upload up_0000000000000000000007: 60% processing, 600 rows" in err
    assert "processing upload up_0000000000000000000007: 100% completed, 1000 rows" in err
    saved = receipts / "upload-up_0000000000000000000007-receipt.json"
    assert json.loads(saved.read_text(encoding="utf-8")) == {"sig": "abc"}
    assert f"receipt saved to {saved}" in err


def test_rejected_after_waiting_exits_1_and_no_receipt_is_only_a_note(stub_server, capsys, tmp_path):
    stub_server(lambda request: as_json(summary(status="rejected", rows_accepted=0, rows_rejected=2), 202))
    path = tmp_path / "f.csv"
    path.write_text("a\n")
    code, out, err = run(capsys, "upload", str(path), "--kind", "settlements", "--receipt-dir", str(tmp_path / "r"))
    assert code == 1 and json.loads(out)["status"] == "rejected"
    assert "sent no receipt" in err and not (tmp_path / "r").exists()


def test_cases_follow_the_cursor_and_neutralise_formulas(stub_server, capsys):
    calls = []

    def handler(request: Request) -> Response:
        calls.append(dict(request.args))
        page = int(request.args.get("cursor", "0"))
        items = [
            {"case_ref": f"C{page}{n}", "status": "open", "bucket": "=HYPERLINK(1)", "outstanding_balance": "-1.00"}
            | {"days_past_due": 3, "agency": "@ZC", "placed_at": None, "extra": "+x"}
            for n in range(2)
        ]
        return as_json({"items": items, "next": str(page + 1) if page < 2 else None})

    stub_server(handler)
    code, out, _ = run(capsys, "cases", "--status", "open")
    assert code == 0
    assert calls == [
        {"limit": "500", "status": "open"},
        {"limit": "500", "status": "open", "cursor": "1"},
        {"limit": "500", "status": "open", "cursor": "2"},
    ]
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["case_ref"] for r in rows] == ["C00", "C01", "C10", "C11", "C20", "C21"]
    assert rows[0]["bucket"] == "'=HYPERLINK(1)" and rows[0]["agency"] == "'@ZC" and rows[0]["extra"] == "'+x"
    assert rows[0]["outstanding_balance"] == "'-1.00" and rows[0]["days_past_due"] == "3"
    assert rows[0]["placed_at"] == "" and rows[0]["currency"] == ""


def test_cell_formats():
    assert cell(None) == "" and cell(12) == "12" and cell("ok") == "ok" and cell("=1+1") == "'=1+1"
    assert cell(["a"]) == '["a"]'


def test_usage_errors_exit_2(capsys):
    assert main(["upload", "x.csv"]) == 2  # --kind is required
    assert main(["frobnicate"]) == 2
    capsys.readouterr()
    assert main(["--url", "ftp://x", "--token", "t", "status", "up_0000000000000000000000"]) == 2
    assert "http:// or https://" in capsys.readouterr().err


def test_a_missing_file_is_a_usage_error(stub_server, capsys, tmp_path):
    stub_server(lambda request: as_json(summary()))
    code, _, err = run(capsys, "upload", str(tmp_path / "nope.csv"), "--kind", "contacts")
    assert code == 2 and "no such file" in err


def rows_rejected_server(stub_server, seen: list[str]):
    """POST answers queued; the poll answers completed with 2 of 5 rows rejected."""

    def handler(request: Request) -> Response:
        seen.append(f"{request.method} {request.path}")
        if request.method == "POST":
            request.files["file"].read()
            return as_json(summary(status="queued", progress=0), 202)
        if request.path == "/api/v1/me":
            return as_json({"timezone": "Asia/Shanghai"})
        return as_json(summary(rows_total=5, rows_accepted=3, rows_rejected=2))

    stub_server(handler)


def test_rows_rejected_warn_and_exit_0_by_default(stub_server, capsys, tmp_path):
    seen: list[str] = []
    rows_rejected_server(stub_server, seen)
    path = tmp_path / "f.csv"
    path.write_text("a\n")
    code, out, err = run(capsys, "upload", str(path), "--kind", "contacts", "--wait", "--interval", "0", "-q")
    assert code == 0, err
    assert json.loads(out)["rows_rejected"] == 2
    assert (
        "portal-client: warning: 2 of 5 rows of upload up_0000000000000000000007 were rejected; "
        "every rejected row: portal-client errors up_0000000000000000000007 -o errors.csv\n"
    ) in err  # said even with --quiet


def test_fail_on_rejected_exits_4_and_waits_by_itself(stub_server, capsys, tmp_path):
    seen: list[str] = []
    rows_rejected_server(stub_server, seen)
    path = tmp_path / "f.csv"
    path.write_text("a\n")
    code, out, err = run(capsys, "upload", str(path), "--kind", "contacts", "--fail-on-rejected", "--json")
    assert code == 4, err
    assert seen[:2] == [
        "POST /api/v1/uploads",
        "GET /api/v1/uploads/up_0000000000000000000007",
    ]  # no --wait, still waited
    assert "GET /api/v1/me" not in seen  # --json shows the API's own times: no need to ask
    assert json.loads(out) == summary(rows_total=5, rows_accepted=3, rows_rejected=2)
    assert "warning: 2 of 5 rows of upload up_0000000000000000000007 were rejected" in err


def test_fail_on_rejected_with_no_rejected_rows_exits_0(stub_server, capsys, tmp_path):
    stub_server(lambda request: as_json(summary(), 202 if request.method == "POST" else 200))
    path = tmp_path / "f.csv"
    path.write_text("a\n")
    code, _, err = run(capsys, "upload", str(path), "--kind", "contacts", "--fail-on-rejected", "-q")
    assert code == 0 and "warning" not in err


def test_a_rejected_file_stays_1_with_fail_on_rejected(stub_server, capsys, tmp_path):
    stub_server(lambda request: as_json(summary(status="rejected", rows_accepted=0, rows_rejected=2), 202))
    path = tmp_path / "f.csv"
    path.write_text("a\n")
    code, _, err = run(capsys, "upload", str(path), "--kind", "settlements", "--fail-on-rejected", "--json")
    assert code == 1 and "warning" not in err and "portal-client errors up_0000000000000000000007" in err


@pytest.mark.parametrize("status, code", [(401, "unauthorized"), (403, "forbidden")])
def test_a_refused_token_or_role_exits_5(stub_server, capsys, status, code):
    stub_server(lambda request: as_json({"error": {"code": code, "message": "no"}}, status))
    assert run(capsys, "status", "up_0000000000000000000003") == (5, "", f"error: {code}: no\n")


def timed_server(stub_server, zone: str | None = "Asia/Shanghai", me_status: int = 200) -> list[str]:
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.path)
        if request.path == "/api/v1/me":
            if me_status != 200:
                return as_json({"error": {"code": "not_found", "message": "no such page"}}, me_status)
            return as_json({"email": "a@zc", "role": "agency_agent", "agency": "ZC", "timezone": zone})
        return as_json(summary(created_at="2026-12-02T12:56:59Z", completed_at="2026-12-02T12:57:03.5+00:00"))

    stub_server(handler)
    return seen


def test_human_output_shows_times_on_the_accounts_clock_and_json_keeps_utc(stub_server, capsys):
    seen = timed_server(stub_server)
    code, out, err = run(capsys, "status", "up_0000000000000000000007")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["created_at"] == "2026-12-02 20:56:59 +08:00"
    assert shown["completed_at"] == "2026-12-02 20:57:03 +08:00"
    assert seen == ["/api/v1/uploads/up_0000000000000000000007", "/api/v1/me"]
    code, out, _ = run(capsys, "status", "up_0000000000000000000007", "--json")
    assert json.loads(out)["created_at"] == "2026-12-02T12:56:59Z"


@pytest.mark.parametrize(
    "how, expected",
    [
        (["--timezone", "America/New_York"], "2026-12-02 07:56:59 -05:00"),
        (["--timezone", "Asia/Kolkata"], "2026-12-02 18:26:59 +05:30"),
        (["--timezone", "UTC"], "2026-12-02 12:56:59 +00:00"),
    ],
)
def test_timezone_option_overrides_the_portal(stub_server, capsys, how, expected):
    seen = timed_server(stub_server)
    code, out, _ = run(capsys, "status", "up_0000000000000000000007", *how)
    assert code == 0 and json.loads(out)["created_at"] == expected
    assert "/api/v1/me" not in seen


def test_the_timezone_variable_overrides_the_portal(stub_server, capsys, monkeypatch):
    timed_server(stub_server)
    monkeypatch.setenv("PORTAL_CLIENT_TIMEZONE", "Europe/Berlin")
    code, out, _ = run(capsys, "status", "up_0000000000000000000007")
    assert code == 0 and json.loads(out)["created_at"] == "2026-12-02 13:56:59 +01:00"


def test_an_unknown_timezone_is_a_usage_error_before_any_request(stub_server, capsys):
    seen = timed_server(stub_server)
    code, out, err = run(capsys, "status", "up_0000000000000000000007", "--timezone", "Mars/Olympus")
    assert (code, out, seen) == (2, "", [])
    assert "unknown timezone 'Mars/Olympus'" in err


def test_a_portal_without_me_leaves_times_in_utc_with_a_note(stub_server, capsys):
    timed_server(stub_server, me_status=404)
    code, out, err = run(capsys, "status", "up_0000000000000000000007")
    assert code == 0
    assert json.loads(out)["created_at"] == "2026-12-02 12:56:59 +00:00"
    assert "times are shown in UTC" in err and "PORTAL_CLIENT_TIMEZONE" in err


def test_cases_csv_times_are_iso_8601_on_the_agencys_clock(stub_server, capsys):
    def handler(request: Request) -> Response:
        if request.path == "/api/v1/me":
            return as_json({"timezone": "Asia/Shanghai"})
        item = {"case_ref": "C1", "placed_at": "2026-11-30T16:30:00Z", "placement_expires_at": None}
        return as_json({"items": [item | {"promise_date": "2026-12-01"}], "next": None})

    stub_server(handler)
    code, out, _ = run(capsys, "cases")
    row = next(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert row["placed_at"] == "2026-12-01T00:30:00+08:00" and row["placement_expires_at"] == ""
    assert row["promise_date"] == "2026-12-01"  # a date is no moment: left as it is


def test_an_id_that_is_not_an_upload_id_is_a_usage_error_sent_nowhere(capsys):
    # Integer ids were one global sequence; the portal now prints opaque ids, and only those name an upload.
    assert main(["--url", "http://127.0.0.1:9", "--token", "t", "status", "12"]) == 2
    assert "is not an upload id" in capsys.readouterr().err
