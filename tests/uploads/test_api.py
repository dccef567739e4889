"""The uploads API (contract 4.2) and hostile files through the whole pipeline: a clear answer, nothing half-stored."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.contacts.models import Contact
from portal.extensions import db
from tests.conftest import DATA
from tests.uploads.conftest import CONTACT_HEADER, SETTLEMENT_HEADER


def post(client, data: bytes, kind: str = "contacts", filename: str = "f.csv", **fields):
    # The body is built here: Werkzeug's test builder leaves large bodies in an unclosed temp file.
    boundary = "portal-test-boundary-7d1c"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"kind": kind, **fields}.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        "/api/v1/uploads", data=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
    )


UPLOAD_KEYS = {
    "id",
    "kind",
    "adapter",
    "filename",
    "sha256",
    "status",
    "duplicate",
    "rows_total",
    "rows_accepted",
    "rows_rejected",
    "rows_duplicate",
    "findings_total",
    "created_at",
    "completed_at",
    "errors",
}


def test_upload_answers_202_then_200_for_the_same_bytes(api):
    client = api()
    data = (DATA / "contacts_canonical.csv").read_bytes()
    first = post(client, data)
    assert first.status_code == 202 and set(first.json) >= UPLOAD_KEYS
    assert first.json["duplicate"] is False
    again = post(client, data, filename="other-name.csv")
    assert again.status_code == 200 and again.json["duplicate"] is True and again.json["id"] == first.json["id"]
    fetched = client.get(f"/api/v1/uploads/{first.json['id']}").json
    assert fetched["status"] == "completed" and fetched["rows_total"] == 60
    # The receipt proves the completion event is in the signed audit tree.
    from portal.audit.verify import verify_receipt

    receipt = fetched["receipt"]
    assert receipt["event"]["action"] == "upload:file:complete" and receipt["event"]["object_id"] == str(fetched["id"])
    assert verify_receipt(receipt)


def test_same_bytes_as_another_kind_or_agency_are_not_duplicates(api):
    data = (DATA / "contacts_canonical.csv").read_bytes()
    first = post(api("zc_agent"), data)
    other_agency = post(api("hx_agent"), data)
    assert other_agency.status_code == 202 and other_agency.json["id"] != first.json["id"]
    # HX was never given these cases: every row is unknown_case for it.
    assert {e["code"] for e in other_agency.json["errors"]} == {"unknown_case"}


def test_another_agencys_upload_is_404_like_a_missing_one(api):
    theirs = post(api("hx_agent"), (DATA / "contacts_canonical.csv").read_bytes()).json["id"]
    client = api("zc_agent")
    for path in (f"/api/v1/uploads/{theirs}", f"/api/v1/uploads/{theirs}/errors.csv"):
        assert client.get(path).status_code == 404
    assert client.get("/api/v1/uploads/999999").json["error"]["code"] == "not_found"


def test_errors_csv_lists_every_rejected_row_with_formulas_neutralised(api):
    client = api()
    rows = "".join(
        f'=HYPERLINK("x"){n},2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n' for n in range(150)
    )
    summary = post(client, (CONTACT_HEADER + rows).encode()).json
    assert summary["rows_rejected"] == 150 and len(summary["errors"]) == 100
    response = client.get(f"/api/v1/uploads/{summary['id']}/errors.csv")
    assert response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    # Contract 4.2's columns first, then the file's own column and line (line 2: the header is line 1).
    assert table[0] == ["row", "field", "code", "message", "column", "line"] and len(table) == 151
    assert table[1][:3] == ["1", "case_ref", "unknown_case"] and table[1][4:] == ["case_ref", "2"]


def test_errors_csv_neutralises_cells_a_spreadsheet_would_run(app, api):
    from portal.uploads.exports import errors_csv
    from portal.uploads.models import Upload, UploadError

    public_id = post(api(), CONTACT_HEADER.encode()).json["id"]
    with app.app_context():
        upload_id = db.session.execute(select(Upload.id).where(Upload.public_id == public_id)).scalar_one()
        db.session.add(UploadError(upload_id=upload_id, row=1, field="@field", code="=code", message="+1-1"))
        db.session.add(
            UploadError(
                upload_id=upload_id, row=2, field="notes", code="invalid_value", message="-x", column="=备注", line=3
            )
        )
        db.session.commit()
        text = "".join(errors_csv(db.session.get(Upload, upload_id)))
    table = list(csv.reader(io.StringIO(text)))
    # Rows stored before column and line existed have neither.
    assert table[1] == ["1", "'@field", "'=code", "'+1-1", "", ""]
    assert table[2] == ["2", "notes", "invalid_value", "'-x", "'=备注", "3"]


def test_lender_staff_cannot_upload_but_see_every_upload(api):
    data = (DATA / "contacts_canonical.csv").read_bytes()
    upload_id = post(api("zc_agent"), data).json["id"]
    compliance = api("compliance")
    assert post(compliance, data).status_code == 403
    assert compliance.get(f"/api/v1/uploads/{upload_id}").status_code == 200


def test_ambiguous_files_ask_the_user_to_choose(app, api, monkeypatch):
    from portal.plugins import RankedSniff
    from portal.plugins.manager import AmbiguousFormatError
    from portal.uploads import services

    def ambiguous(*args, **kwargs):
        raise AmbiguousFormatError(
            [RankedSniff("canonical_csv", "canonical", 0.9), RankedSniff("cn_gbk_csv", "cn_gbk_csv", 0.9)]
        )

    monkeypatch.setattr(services, "choose_format", ambiguous)
    response = post(api(), (DATA / "contacts_canonical.csv").read_bytes())
    assert response.status_code == 422
    assert not [p for p in Path(app.config["PORTAL_STORAGE_DIR"]).rglob("*") if p.is_file()]
    assert response.json["error"]["code"] == "ambiguous_format"
    assert [c["adapter"] for c in response.json["error"]["candidates"]] == ["canonical", "cn_gbk_csv"]


def test_choosing_the_adapter_by_name(api):
    response = post(api(), (DATA / "contacts_cn_gbk.csv").read_bytes(), adapter="cn_gbk_csv")
    assert response.json["adapter"] == "cn_gbk_csv" and response.json["status"] == "completed"
    wrong = post(api(), (DATA / "contacts_canonical.csv").read_bytes(), adapter="no_such_adapter")
    assert wrong.json["status"] == "rejected" and wrong.json["errors"][0]["code"] == "unknown_format"


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 1024 * 1024))
    return out.getvalue()


def _truncated_xlsx() -> bytes:
    from tests.adapters.adapter_golden import xlsx_bytes

    data = xlsx_bytes([CONTACT_HEADER.strip().split(","), ["ZY202600001", "2026-11-10 15:25:00", "call"]])
    return data[: len(data) // 2]


HOSTILE = {
    "empty": (b"", "f.csv"),
    "binary garbage": (bytes(range(256)) * 200, "f.bin"),
    "truncated xlsx": (_truncated_xlsx(), "f.xlsx"),
    "xlsx zip bomb": (_zip_bomb(), "f.xlsx"),
    "a 10 MB line": (CONTACT_HEADER.encode() + b"ZY202600001," + b"x" * (10 * 1024 * 1024) + b"\n", "f.csv"),
    "10,000 columns": ((",".join(f"c{n}" for n in range(10_000)) + "\n").encode(), "f.csv"),
    "duplicate headers": (b"case_ref,case_ref,contacted_at,channel,party,outcome,collector_id\n", "f.csv"),
    "utf-16 without bom": (CONTACT_HEADER.encode("utf-16-le"), "f.csv"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_are_rejected_with_a_row_zero_error_and_store_nothing(app, api, name):
    data, filename = HOSTILE[name]
    response = post(api(), data, filename=filename)
    assert response.status_code == 202, response.json
    body = response.json
    assert body["status"] == "rejected", body
    assert body["rows_accepted"] == 0
    assert [e["row"] for e in body["errors"]][:1] == [0]
    assert body["errors"][0]["code"] in {"unreadable_file", "unknown_format", "missing_field"}
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Contact)).scalar() == 0


def test_header_only_is_a_completed_upload_of_zero_rows(api):
    body = post(api(), CONTACT_HEADER.encode()).json
    assert (body["status"], body["rows_total"], body["errors"]) == ("completed", 0, [])


def test_a_contacts_file_uploaded_as_settlements_names_the_missing_columns(api):
    body = post(api(), (DATA / "contacts_canonical.csv").read_bytes(), kind="settlements").json
    assert body["status"] == "rejected"
    assert body["errors"][0]["row"] == 0 and "amount" in body["errors"][0]["message"]


def test_a_file_over_the_limit_is_413(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = post(api(), b"x" * 4096)
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"


def test_missing_file_or_kind_is_400(api):
    client = api()
    assert client.post("/api/v1/uploads", data={"kind": "contacts"}).status_code == 400
    assert post(client, b"a", kind="payments").status_code == 400


def test_a_settlements_upload_rejected_at_row_0_stores_nothing(api):
    body = post(api(), (SETTLEMENT_HEADER + "garbage\n").encode() + b"\xff\xfe\x00", kind="settlements").json
    assert body["status"] == "rejected" and body["rows_accepted"] == 0
