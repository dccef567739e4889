"""`flask uploads ingest`, `flask adapters list|check`, and the upload pages."""

from __future__ import annotations

import io
import json
import re

from tests.conftest import DATA, audit_actions, last_seq, login
from tests.uploads.conftest import SETTLEMENT_HEADER


def test_ingest_prints_the_summary_as_json(runner, world, app):
    result = runner.invoke(
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
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["rows_total"] == 60 and summary["duplicate"] is False
    again = runner.invoke(
        args=[
            "uploads",
            "ingest",
            str(DATA / "contacts_canonical.csv"),
            "--agency",
            "zc",
            "--kind",
            "contacts",
            "--json",
        ]
    )
    assert json.loads(again.stdout)["duplicate"] is True


def test_ingest_as_a_named_user_and_progress_on_stderr(runner, world, app):
    with app.app_context():
        seq = last_seq()
    result = runner.invoke(
        args=[
            "uploads",
            "ingest",
            str(DATA / "contacts_cn_gbk.csv"),
            "--agency",
            "ZC",
            "--kind",
            "contacts",
            "--user",
            world["zc_agent"],
            "--progress",
        ]
    )
    assert result.exit_code == 0, result.output
    assert re.match(r"upload up_[0-9a-z]{22} completed: 60 rows", result.stdout)
    assert "100%" in result.stderr
    with app.app_context():
        from portal.audit.models import AuditEvent
        from portal.extensions import db

        events = db.session.query(AuditEvent).filter(AuditEvent.seq > seq).all()
        assert [e.action for e in events] == ["upload:file:receive", "upload:file:complete"]
        assert {e.actor_role for e in events} == {"agency_agent"}


def test_ingest_of_a_rejected_file_exits_non_zero_with_errors_on_stderr(runner, world, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(SETTLEMENT_HEADER + "ZY202600001,2026-11-15 10:00:00,-1,cash,R1,partial,,\n")
    result = runner.invoke(args=["uploads", "ingest", str(path), "--agency", "ZC", "--kind", "settlements"])
    assert result.exit_code == 1
    assert "row 1: amount: invalid_amount" in result.stderr
    assert "rejected" in result.stdout


def test_ingest_refuses_an_unknown_agency_or_a_user_of_another(runner, world):
    unknown = runner.invoke(
        args=["uploads", "ingest", str(DATA / "cases.csv"), "--agency", "NOPE", "--kind", "contacts"]
    )
    assert unknown.exit_code == 1 and unknown.stderr == "error: unknown agency 'NOPE'\n"
    other = runner.invoke(
        args=[
            "uploads",
            "ingest",
            str(DATA / "cases.csv"),
            "--agency",
            "HX",
            "--kind",
            "contacts",
            "--user",
            world["zc_agent"],
        ]
    )
    assert other.exit_code == 1 and "does not belong to agency HX" in other.stderr


def test_adapters_list_shows_every_installed_adapter(runner, app):
    result = runner.invoke(args=["adapters", "list", "--json"])
    names = {a["name"]: a for a in json.loads(result.stdout)["adapters"]}
    assert {"canonical", "cn_gbk_csv", "fixed_width", "mapping"} <= set(names)
    assert {f["key"] for f in names["canonical"]["formats"]} == {"canonical_csv", "canonical_xlsx", "canonical_jsonl"}
    text = runner.invoke(args=["adapters", "list"]).stdout
    assert "cn_gbk_csv" in text and "contacts" in text


def test_adapters_check_is_a_dry_run(runner, app, world):
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.uploads.models import Upload

    result = runner.invoke(
        args=["adapters", "check", str(DATA / "contacts_cn_gbk.csv"), "--kind", "contacts", "--json"]
    )
    out = json.loads(result.stdout)
    assert (out["adapter"], out["rows_total"], out["rows_rejected"]) == ("cn_gbk_csv", 60, 0)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Upload)).scalar() == 0
    unknown = runner.invoke(args=["adapters", "check", str(DATA / "cases.csv"), "--kind", "settlements"])
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: no installed adapter")


def test_agency_uploads_on_the_page_and_sees_the_result(client, world, app):
    login(client, world["zc_agent"])
    page = client.get("/uploads/").get_data(as_text=True)
    assert 'name="file"' in page and "canonical" in page
    response = client.post(
        "/uploads/",
        data={
            "kind": "contacts",
            "adapter": "",
            "file": (io.BytesIO((DATA / "contacts_canonical.csv").read_bytes()), "contacts.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="upload-summary"' in detail and "60" in detail
    history = client.get("/uploads/").get_data(as_text=True)
    assert "contacts.csv" in history


def test_agencies_see_only_their_uploads_and_lenders_all(client, world, app, runner):
    result = runner.invoke(
        args=[
            "uploads",
            "ingest",
            str(DATA / "contacts_canonical.csv"),
            "--agency",
            "HX",
            "--kind",
            "contacts",
            "--json",
        ]
    )
    upload_id = json.loads(result.stdout)["id"]
    login(client, world["zc_agent"])
    assert "contacts_canonical.csv" not in client.get("/uploads/").get_data(as_text=True)
    assert client.get(f"/uploads/{upload_id}").status_code == 404
    assert client.get(f"/uploads/{upload_id}/errors.csv").status_code == 404
    assert client.get(f"/uploads/{upload_id}/original").status_code == 403
    client.post("/logout")
    login(client, world["ops"])
    page = client.get("/uploads/").get_data(as_text=True)
    assert "contacts_canonical.csv" in page and 'name="file"' not in page
    # The integer key is no address: pages know uploads by their public id only.
    assert client.get("/uploads/1").status_code == 404
    with app.app_context():
        seq = last_seq()
    with client.get(f"/uploads/{upload_id}/original") as original:
        assert original.data == (DATA / "contacts_canonical.csv").read_bytes()
    with app.app_context():
        assert audit_actions(seq) == ["upload:file:download"]
    errors = client.get(f"/uploads/{upload_id}/errors.csv").get_data(as_text=True)
    assert errors.splitlines()[0] == "row,field,code,message,column,line" and len(errors.splitlines()) == 61


def test_a_processing_upload_page_refreshes_itself_and_shows_progress(client, world, app):
    from portal.extensions import db
    from portal.uploads.models import Upload

    with app.app_context():
        upload = Upload(
            agency_id=1,
            kind="contacts",
            filename="big.csv",
            sha256="a" * 64,
            size=1000,
            source="web",
            status="processing",
            rows_processed=400,
            bytes_processed=400,
        )
        db.session.add(upload)
        db.session.commit()
        upload_id = upload.public_id
    login(client, world["zc_agent"])
    page = client.get(f"/uploads/{upload_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert re.search(r'<progress max="100" value="40"', page)
    assert client.get(f"/uploads/{upload_id}/progress").json == {"status": "processing", "progress": 40, "rows": 400}
