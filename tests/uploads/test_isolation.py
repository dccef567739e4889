"""Hostile files through every entry point: the file is rejected with its reason, the process lives on.

The workbooks are the issue's own reproductions (issue 9): an openpyxl workbook with a header
row and one cell at XFD1048576 (calamine asked for 550 GB and aborted the process) or at
ALL100000 (18 s and 3.16 GB for a 5 KB file). Readers that crash, run out of memory or hang are
simulated by tests/uploads/hostile_adapters.py, run in the parse child like any adapter.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.contacts.models import Contact
from portal.extensions import db
from portal.uploads.models import Upload
from tests.conftest import make_agency, redis_or_skip
from tests.uploads import hostile_adapters
from tests.uploads.conftest import actor_for_email

REPO = Path(__file__).resolve().parents[2]
HEADER = ["case_ref", "contacted_at", "channel", "party", "phone", "outcome", "collector_id"]
FAR_CELLS = ["XFD1048576", "ALL100000"]
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def far_cell_workbook(cell: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet[cell] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_bomb(gibibytes: int = 2) -> bytes:
    """A 2 MB zip whose sheet inflates to ``gibibytes`` GiB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            zeros = bytes(1024 * 1024)
            for _ in range(gibibytes * 1024):
                part.write(zeros)
    return out.getvalue()


@pytest.fixture(scope="module")
def workbooks() -> dict[str, bytes]:
    return {cell: far_cell_workbook(cell) for cell in FAR_CELLS}


def _post(client, data: bytes, filename: str, adapter: str | None = None, lang: str = "en"):
    form = {"kind": "contacts", "file": (io.BytesIO(data), filename)}
    if adapter:
        form["adapter"] = adapter
    return client.post(
        "/api/v1/uploads", data=form, content_type="multipart/form-data", headers={"Accept-Language": lang}
    )


def _stored_contacts(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Contact)).scalar_one()


def _only_file_error(summary: dict) -> dict:
    assert summary["status"] == "rejected", summary
    assert summary["rows_accepted"] == 0 and summary["findings_total"] == 0
    [error] = summary["errors"]
    assert error["row"] == 0, error
    return error


@pytest.mark.parametrize("adapter", [None, "canonical_xlsx"])
@pytest.mark.parametrize("cell", FAR_CELLS)
def test_a_workbook_with_one_far_cell_is_rejected_through_the_api(app, api, workbooks, cell, adapter):
    client = api("zc_agent")
    response = _post(client, workbooks[cell], "report.xlsx", adapter)
    assert response.status_code in (200, 202)
    summary = client.get(f"/api/v1/uploads/{response.json['id']}").json
    error = _only_file_error(summary)
    # Detected or named, what was seen rules the file out: unreadable, with the reason.
    assert error["code"] == "unreadable_file"
    assert error["message"] == f"the sheet declares cells up to {cell}; at most 256 columns are read"
    assert _stored_contacts(app) == 0


def test_the_reason_is_in_the_agencys_language(api, workbooks):
    client = api("zc_agent")
    response = _post(client, workbooks["XFD1048576"], "report.xlsx", "canonical_xlsx", lang="zh-CN")
    summary = client.get(f"/api/v1/uploads/{response.json['id']}", headers={"Accept-Language": "zh-CN"}).json
    message = _only_file_error(summary)["message"]
    assert "XFD1048576" in message and "256" in message and "columns" not in message


def _flask(app, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_STORAGE_DIR": app.config["PORTAL_STORAGE_DIR"],
        "PORTAL_SECRET_KEY": "test-secret-key",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("adapter", [[], ["--adapter", "canonical_xlsx"]], ids=["detected", "canonical_xlsx"])
@pytest.mark.parametrize("cell", FAR_CELLS)
def test_flask_uploads_ingest_rejects_the_workbook_and_exits_normally(app, tmp_path, workbooks, cell, adapter):
    with app.app_context():
        make_agency("ZC")
    path = tmp_path / "report.xlsx"
    path.write_bytes(workbooks[cell])
    result = _flask(app, "uploads", "ingest", str(path), "--agency", "ZC", "--kind", "contacts", "--json", *adapter)
    # 1 is the normal exit for a rejected upload; the old code died with SIGABRT (134) at XFD1048576.
    assert result.returncode == 1, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert f"up to {cell}" in _only_file_error(summary)["message"]
    with app.app_context():
        [upload] = db.session.execute(select(Upload)).scalars()
        assert upload.status == "rejected"
    assert _stored_contacts(app) == 0


@pytest.mark.parametrize("cell", FAR_CELLS)
def test_flask_adapters_check_reports_the_reason(app, runner, tmp_path, workbooks, cell):
    path = tmp_path / "report.xlsx"
    path.write_bytes(workbooks[cell])
    detected = runner.invoke(args=["adapters", "check", str(path), "--kind", "contacts"])
    assert detected.exit_code == 1 and f"up to {cell}" in detected.stderr
    args = ["adapters", "check", str(path), "--kind", "contacts", "--adapter", "canonical_xlsx", "--json"]
    named = runner.invoke(args=args)
    report = json.loads(named.stdout)
    assert named.exit_code == 0 and report["file_rejected"] and report["rows_total"] == 0
    assert [error["row"] for error in report["errors"]] == [0] and f"up to {cell}" in report["errors"][0]["message"]


def test_flask_adapters_check_as_a_command_exits_normally_on_the_workbook(app, tmp_path):
    """In a subprocess, as an operator runs it: the old reader's abort killed the command (exit 134)."""
    path = tmp_path / "report.xlsx"
    path.write_bytes(far_cell_workbook("XFD1048576"))
    result = _flask(app, "adapters", "check", str(path), "--kind", "contacts", "--adapter", "canonical_xlsx", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["file_rejected"] and "up to XFD1048576" in report["errors"][0]["message"]


# --- readers that crash, hoard memory or hang -------------------------------------------------


@pytest.fixture
def hostile(app):
    app.extensions["portal.plugins"].register(hostile_adapters, name="hostile_test")
    return app


@pytest.mark.parametrize(
    ("adapter", "config", "expected"),
    [
        (hostile_adapters.ABORT, {}, "the reader stopped while reading the file (signal SIGABRT); it is not read"),
        (
            hostile_adapters.MEMORY,
            {"PORTAL_PARSE_MEMORY_MB": 768},
            "reading the file needed more than 768 MB of memory; it is not read",
        ),
        (
            hostile_adapters.UNBOUNDED_XLSX,
            {"PORTAL_PARSE_MEMORY_MB": 768},
            "reading the file needed more than 768 MB of memory; it is not read",
        ),
        (
            hostile_adapters.HANG,
            {"PORTAL_PARSE_TIMEOUT_SECONDS": 1.5},
            "reading the file took longer than 1.5 seconds without progress; it is not read",
        ),
    ],
    ids=["abort", "memory", "calamine-unbounded", "hang"],
)
def test_a_reader_that_dies_rejects_its_file_and_stores_nothing(hostile, upload, adapter, config, expected):
    hostile.config.update(config)
    data = far_cell_workbook("XFD1048576") if adapter == hostile_adapters.UNBOUNDED_XLSX else b"anything\n"
    summary = upload(data, filename="report.dat", adapter=adapter)
    error = _only_file_error(summary)
    assert (error["code"], error["message"]) == ("unreadable_file", expected)
    # The two good rows the reader yielded before it died are not stored.
    assert _stored_contacts(hostile) == 0


def test_a_sniffer_that_aborts_rejects_the_file_instead_of_the_request(hostile, api):
    client = api("zc_agent")
    response = _post(client, hostile_adapters.SNIFF_ABORT + b"case_ref\n", "report.csv")
    assert response.status_code in (200, 202)
    error = _only_file_error(response.json)
    assert error["message"] == "the reader stopped while reading the file (signal SIGABRT); it is not read"


def test_on_an_rq_worker_the_workbook_is_rejected_and_the_worker_goes_on(app, world, workbooks):
    from rq import Queue, SimpleWorker

    from portal.uploads.jobs import QUEUE, dispatch_upload, redis_connection
    from portal.uploads.services import submit_upload

    connection = redis_or_skip(REDIS_URL)
    connection.flushdb()
    app.config["PORTAL_REDIS_URL"] = REDIS_URL
    try:
        with app.app_context():
            ids = []
            for name, data in (("far.xlsx", workbooks["XFD1048576"]), ("c.csv", b"")):
                submission = submit_upload(
                    actor=actor_for_email(world["zc_agent"]),
                    kind="contacts",
                    filename=name,
                    stream=io.BytesIO(data or (REPO / "tests/data/contacts_canonical.csv").read_bytes()),
                    adapter="canonical_xlsx" if name.endswith(".xlsx") else None,
                )
                assert dispatch_upload(submission.upload.id) == "queued"
                ids.append(submission.upload.id)
            queue = Queue(QUEUE, connection=redis_connection(REDIS_URL))
            # In this process: a reader's crash would take the worker (and this test) down with it.
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
            db.session.expire_all()
            statuses = [db.session.get(Upload, upload_id).status for upload_id in ids]
            assert statuses == ["rejected", "completed"]
            assert queue.failed_job_registry.count == 0
    finally:
        connection.flushdb()
        connection.close()


# --- refusal reasons of auto-detection --------------------------------------------------------

TEXT = "case_ref,contacted_at,channel\nZY1,2026-11-10 10:00,call\n"


def _truncated_workbook() -> bytes:
    whole = far_cell_workbook("B2")
    return whole[: len(whole) - 300]


REASONS = {
    "empty": (b"", "the file is empty"),
    "utf16-bom": (TEXT.encode("utf-16"), "the file is UTF-16 text; save it as UTF-8 (or GBK) CSV"),
    "utf16-no-bom": (
        TEXT.encode("utf-16-le"),
        "the file is UTF-16 text without a byte order mark; save it as UTF-8 (or GBK) CSV",
    ),
    "nul-bytes": (
        b"case_ref\x00\x01\x02" + random.Random(9).randbytes(3000),
        "the file contains NUL bytes: it is a binary file, not a text table",
    ),
    "xls": (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000),
        "the file is an Excel 97-2003 workbook (.xls) or another old Office document; save it as .xlsx or CSV",
    ),
    "not-utf8-or-gbk": (b"case_ref,\xff\xfe\xff\n" * 3, "the file is neither UTF-8 nor GBK text"),
}


@pytest.mark.parametrize("name", list(REASONS))
def test_auto_detection_says_what_it_saw(api, name):
    data, expected = REASONS[name]
    response = _post(api("zc_agent"), data, "report.csv")
    error = _only_file_error(response.json)
    assert (error["code"], error["message"]) == ("unreadable_file", expected)


@pytest.fixture(scope="module")
def broken_workbooks() -> dict[str, bytes]:
    return {"truncated-workbook": _truncated_workbook(), "zip-bomb-2GiB": zip_bomb()}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("truncated-workbook", "the .xlsx workbook is damaged or cut short (File is not a zip file)"),
        ("zip-bomb-2GiB", "the .xlsx file unpacks to 2,048 MB from 2.0 MB; at most 256 MB are read"),
    ],
)
def test_auto_detection_says_what_it_saw_in_a_workbook(upload, broken_workbooks, name, expected):
    # Through the service: the test client spools a body this size to a file it never closes.
    error = _only_file_error(upload(broken_workbooks[name], filename="report.xlsx"))
    assert (error["code"], error["message"]) == ("unreadable_file", expected)
