"""Tenants see opaque ids, never the global sequence (contract 1: no agency counts another's uploads)."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from portal.accounts.services import create_token, get_user_by_email
from portal.extensions import db
from portal.security import Actor
from portal.uploads.models import Upload
from tests.conftest import DATA

UPLOAD_ID = re.compile(r"up_[0-9a-hjkmnp-tv-z]{22}")
FINDING_ID = re.compile(r"fi_[0-9a-hjkmnp-tv-z]{22}")
OUTSIDE_PLACEMENT = b"ZY202600001,2026-10-20 10:00:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"


@pytest.fixture
def call(app, world):
    with app.app_context():
        tokens = {
            who: create_token(actor=Actor.system(source="test"), user=get_user_by_email(world[who]), label="t")[1]
            for who in ("zc_agent", "hx_agent", "compliance")
        }

    def request(who: str, method: str, url: str, **kwargs):
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return app.test_client().open("/api/v1" + url, method=method, headers=headers, **kwargs)

    return request


def _post(call, who: str, content: bytes, name: str = "c.csv"):
    response = call(who, "POST", "/uploads", data={"kind": "contacts", "file": (io.BytesIO(content), name)})
    assert response.status_code == 202, response.json
    return response.json


def test_upload_ids_between_two_of_an_agencys_own_uploads_say_nothing_of_another_agencys(app, call):
    contacts = (DATA / "contacts_canonical.csv").read_bytes()
    first = _post(call, "zc_agent", contacts)
    _post(call, "hx_agent", contacts + b"\n")
    _post(call, "hx_agent", contacts + b"\n\n")
    second = _post(call, "zc_agent", contacts + OUTSIDE_PLACEMENT)
    for upload in (first, second):
        assert isinstance(upload["id"], str) and UPLOAD_ID.fullmatch(upload["id"]), upload["id"]
    with app.app_context():
        keys = dict(db.session.execute(select(Upload.public_id, Upload.id)).all())
    # The keys inside are 1 and 4 (two of HX's in between); outside, neither number appears.
    assert keys[second["id"]] - keys[first["id"]] == 3
    listed = call("zc_agent", "GET", "/uploads").json["items"]
    assert [u["id"] for u in listed] == [second["id"], first["id"]]
    for key in keys.values():
        assert call("zc_agent", "GET", f"/uploads/{key}").status_code == 404
        assert call("compliance", "GET", f"/uploads/{key}").status_code == 404


def test_findings_contacts_files_and_receipts_name_the_upload_by_its_public_id(app, call):
    upload = _post(call, "zc_agent", (DATA / "contacts_canonical.csv").read_bytes() + OUTSIDE_PLACEMENT)
    findings = call("zc_agent", "GET", f"/findings?upload_id={upload['id']}").json["items"]
    assert findings and all(f["upload_id"] == upload["id"] and FINDING_ID.fullmatch(f["id"]) for f in findings)
    assert call("zc_agent", "GET", "/findings?upload_id=1").json["items"] == []
    case_ref = (DATA / "contacts_canonical.csv").read_text().splitlines()[1].split(",", 1)[0]
    contacts = call("zc_agent", "GET", f"/cases/{case_ref}/contacts").json["items"]
    assert contacts and {c["upload_id"] for c in contacts} == {upload["id"]}
    errors = call("zc_agent", "GET", f"/uploads/{upload['id']}/errors.csv")
    assert f"upload-{upload['id']}-errors.csv" in errors.headers["Content-Disposition"]
    receipt = call("zc_agent", "GET", f"/uploads/{upload['id']}").json["receipt"]
    assert receipt["event"]["object_id"] == upload["id"]


def test_the_uploads_list_pages_by_public_id(call):
    contacts = (DATA / "contacts_canonical.csv").read_bytes()
    ids = [_post(call, "zc_agent", contacts + b"\n" * n)["id"] for n in range(3)]
    page = call("zc_agent", "GET", "/uploads?limit=2").json
    assert [u["id"] for u in page["items"]] == ids[:0:-1] and page["next"] == ids[1]
    rest = call("zc_agent", "GET", f"/uploads?limit=2&cursor={page['next']}").json
    assert [u["id"] for u in rest["items"]] == [ids[0]] and rest["next"] is None
    assert call("hx_agent", "GET", f"/uploads?cursor={page['next']}").status_code == 400


def test_web_pages_link_uploads_by_public_id_and_an_integer_is_not_found(app, world, call):
    from tests.conftest import login

    upload = _post(call, "zc_agent", (DATA / "contacts_canonical.csv").read_bytes())
    client = app.test_client()
    login(client, world["zc_agent"])
    page = client.get("/uploads/").get_data(as_text=True)
    assert f'href="/uploads/{upload["id"]}"' in page
    assert client.get(f"/uploads/{upload['id']}").status_code == 200
    assert client.get("/uploads/1").status_code == 404
    assert client.get("/uploads/9223372036854775808").status_code == 404
