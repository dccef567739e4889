"""No orphan stored files: a refused upload (API, CLI, service) leaves no file that no upload holds."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.uploads.models import Upload
from tests.conftest import DATA
from tests.uploads.conftest import actor_for_email

CONTACTS = (DATA / "contacts_canonical.csv").read_bytes()
# The issue's probes: an adapter name over 60 characters, and one with a NUL byte.
BAD_ADAPTERS = ["x" * 61, "canonical\x00", "\x00", "canonical" + "\x00" * 60]


def orphans(app) -> list[str]:
    """Files in the storage folder (finished or half-written) that no upload row names."""
    root = Path(app.config["PORTAL_STORAGE_DIR"])
    files = [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
    with app.app_context():
        held = set(db.session.execute(select(Upload.sha256)).scalars())
    return sorted(path.name for path in files if path.name not in held)


def stored_files(app) -> int:
    root = Path(app.config["PORTAL_STORAGE_DIR"])
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


def uploads(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Upload)).scalar()


def multipart(data: bytes, *, filename: str = "c.csv", **fields: str) -> tuple[bytes, str]:
    """A multipart body written byte for byte (the test client would refuse a NUL in a field)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"kind": "contacts", **fields}.items()
    ]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'.encode()
    body = b"".join(parts) + head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("adapter", BAD_ADAPTERS, ids=["61-chars", "trailing-nul", "nul", "nuls"])
def test_an_api_upload_refused_for_its_adapter_stores_no_file(app, api, adapter):
    body, content_type = multipart(CONTACTS, adapter=adapter)
    response = api().post("/api/v1/uploads", data=body, content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "invalid_parameter"
    assert response.get_json()["error"]["message"]
    assert stored_files(app) == 0 and uploads(app) == 0


def test_the_refusal_is_in_the_caller_s_language(app, api):
    body, content_type = multipart(CONTACTS, adapter="x" * 61)
    response = api().post("/api/v1/uploads", data=body, content_type=content_type, headers={"Accept-Language": "zh-CN"})
    assert response.get_json()["error"] == {
        "code": "invalid_parameter",
        "message": "adapter 最多 60 个字符",
    }


def test_the_issue_s_four_probes_leave_no_orphan_and_a_good_upload_still_works(app, api):
    client = api()
    for adapter in BAD_ADAPTERS:
        body, content_type = multipart(CONTACTS, adapter=adapter)
        assert client.post("/api/v1/uploads", data=body, content_type=content_type).status_code == 400
    body, content_type = multipart(CONTACTS)
    response = client.post("/api/v1/uploads", data=body, content_type=content_type)
    assert response.status_code == 202 and response.get_json()["status"] == "completed"
    assert orphans(app) == [] and stored_files(app) == 1


@pytest.mark.parametrize(
    ("adapter", "reason"),
    [("x" * 61, "at most 60 characters"), ("canonical\x00", "must not contain control characters")],
    ids=["61-chars", "nul"],
)
def test_flask_uploads_ingest_refused_for_its_adapter_stores_no_file(app, world, runner, tmp_path, adapter, reason):
    path = tmp_path / "contacts.csv"
    path.write_bytes(CONTACTS)
    result = runner.invoke(
        args=["uploads", "ingest", str(path), "--agency", "ZC", "--kind", "contacts", "--adapter", adapter, "--json"]
    )
    assert result.exit_code == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and reason in result.stderr
    assert stored_files(app) == 0 and uploads(app) == 0


def test_a_filename_with_control_characters_is_kept_without_them(app, api):
    body, content_type = multipart(CONTACTS, filename="report\x07\x1b.csv")
    response = api().post("/api/v1/uploads", data=body, content_type=content_type)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "report.csv"
    # A NUL can be stored nowhere: the whole request is refused before anything is written.
    body, content_type = multipart(CONTACTS + b"\n", filename="report\x00.csv")
    refused = api().post("/api/v1/uploads", data=body, content_type=content_type)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_parameter"
    assert orphans(app) == [] and stored_files(app) == 1


def test_a_submission_failing_after_the_file_is_stored_removes_the_file(app, world, monkeypatch):
    """An adapter's sniffing that crashes (anything after the bytes are on disk) leaves no file behind."""
    from portal.uploads import services

    def crashing(*args, **kwargs):
        raise RuntimeError("an adapter crashed while sniffing")

    monkeypatch.setattr(services, "choose_format", crashing)
    with app.app_context(), pytest.raises(RuntimeError):
        services.submit_upload(
            actor=actor_for_email(world["zc_agent"]), kind="contacts", stream=io.BytesIO(CONTACTS), filename="c.csv"
        )
    assert stored_files(app) == 0 and uploads(app) == 0


def test_a_refused_submission_keeps_a_file_an_earlier_upload_holds(app, world, upload, monkeypatch):
    from portal.plugins import AmbiguousFormatError
    from portal.uploads import services

    assert upload(CONTACTS)["status"] == "completed"
    assert stored_files(app) == 1

    def ambiguous(*args, **kwargs):
        raise AmbiguousFormatError([])

    monkeypatch.setattr(services, "choose_format", ambiguous)
    with app.app_context(), pytest.raises(services.AmbiguousUploadError):
        # The same bytes as settlements: no earlier upload of that kind, and no format to choose.
        services.submit_upload(
            actor=actor_for_email(world["zc_agent"]), kind="settlements", stream=io.BytesIO(CONTACTS), filename="c.csv"
        )
    assert stored_files(app) == 1 and orphans(app) == []
