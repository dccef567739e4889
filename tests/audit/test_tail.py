"""The audit tail: checkpoints on an interval, kept outside the database, and what verify proves with them.

The attacker here holds the database (on PostgreSQL the superuser, switching the append-only
triggers off with ``session_replication_role = replica``, as ``tamper`` does) but not the
checkpoint folder or the witness.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from portal.audit import tail
from portal.audit.checkpoints import create_checkpoint, make_checkpoint, signing_key
from portal.audit.integrity import verify_trail
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.signing import key_id, sign_checkpoint
from portal.audit.witness import CheckpointPublishError, WitnessSettings, file_name, write_once
from portal.db import utcnow
from portal.extensions import db
from tests.audit.conftest import append_events, tamper
from tests.conftest import DATA, PASSWORD, last_seq


def sizes() -> list[int]:
    return list(db.session.execute(select(AuditCheckpoint.tree_size).order_by(AuditCheckpoint.tree_size)).scalars())


def files(app) -> list[str]:
    folder = app.config["PORTAL_AUDIT_CHECKPOINT_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def verify(app):
    db.session.rollback()
    db.session.expire_all()
    report = verify_trail(
        witness=WitnessSettings.from_config(app.config), current_key_id=key_id(signing_key().public_key())
    )
    return report


def rewrite_consistently(seq: int, object_id: str) -> None:
    """Change one event's column and re-seal it (canonical bytes and leaf hash), as an attacker who read
    the code would: every row-level check then passes."""
    row = db.session.get(AuditEvent, seq)
    leaf = {**row.as_leaf_object(), "object_id": object_id}
    canonical = rfc8785.dumps(leaf)
    tamper(
        "UPDATE audit_events SET object_id = :oid, canonical = :c, leaf_hash = :h WHERE seq = :seq",
        oid=object_id,
        c=canonical.decode(),
        h=hashlib.sha256(b"\x00" + canonical).hexdigest(),
        seq=seq,
    )


@pytest.fixture
def timers(app) -> Iterator[None]:
    """Tail timers of this test's app never outlive it."""
    yield
    tail.tail_state(app).cancel()


# --------------------------------------------------------------------------- what verify proves


def test_a_tail_deleted_and_rewritten_after_the_last_stored_checkpoint_is_caught_by_the_files(app):
    app.config["PORTAL_AUDIT_CHECKPOINT_EVERY"] = 10
    with app.app_context():
        append_events(10)  # the automatic checkpoint of 10, in the database and in a file
        for count in (1, 2, 2):  # the tail checkpoints of 11, 13 and 15
            append_events(count)
            create_checkpoint()
        assert sizes() == [10, 11, 13, 15]
        assert files(app) == [file_name(n) for n in (10, 11, 13, 15)]
        before = verify(app)
        assert before.ok and before.witnessed_tree_size == 15 and before.unproven_events == 0
        # The attacker removes the stored checkpoints after 10, deletes the two newest events and
        # rewrites event 12 so that its columns, bytes and leaf hash agree again.
        tamper("DELETE FROM audit_checkpoints WHERE tree_size > 10", "DELETE FROM audit_events WHERE seq > 13")
        rewrite_consistently(12, "forged")
        db_only = verify_trail()
        assert db_only.ok, "the database alone cannot tell (the issue's reproduction)"
        report = verify(app)
        assert report.as_dict() | {"root": None} == {
            "ok": False,
            "events": 13,
            "first_bad_seq": 12,
            "root": None,
            "unproven_events": 0,
            "witnessed_tree_size": 15,
        }
        reasons = [p.reason for p in report.problems]
        assert any("witnessed checkpoint (file checkpoint-000000000015.json) signed 15 events" in r for r in reasons)
        assert any("differs from the witnessed one's (file checkpoint-000000000013.json)" in r for r in reasons)


def test_a_tail_only_deleted_is_named_by_its_first_missing_seq(app):
    with app.app_context():
        append_events(6)
        create_checkpoint()
        append_events(3)
        create_checkpoint()
        tamper("DELETE FROM audit_checkpoints WHERE tree_size = 9", "DELETE FROM audit_events WHERE seq > 7")
        report = verify(app)
        assert not report.ok and report.first_bad_seq == 8 and report.witnessed_tree_size == 9


def test_without_a_witnessed_checkpoint_verify_counts_the_events_it_cannot_prove(app):
    app.config["PORTAL_AUDIT_CHECKPOINT_DIR"] = None
    with app.app_context():
        append_events(5)
        create_checkpoint()  # stored in the database only: its owner could remove it
        report = verify(app)
        assert report.ok and report.witnessed_tree_size is None and report.unproven_events == 5
    app.config["PORTAL_AUDIT_CHECKPOINT_DIR"] = str(app.config["PORTAL_STORAGE_DIR"]) + "-checkpoints"
    with app.app_context():
        create_checkpoint()  # publishes the newest checkpoint again, now to the folder
        append_events(3)
        report = verify(app)
        assert report.ok and report.witnessed_tree_size == 5 and report.unproven_events == 3


@pytest.mark.parametrize(
    ("language", "unproven_text", "witnessed_text"),
    [
        ("en", "events after the newest witnessed checkpoint: {n}", "{n} events"),
        ("zh-CN", "最新见证检查点之后的事件：{n} 条", "{n} 个事件"),
    ],
)
def test_the_audit_api_and_page_say_what_is_not_yet_provable(app, api, language, unproven_text, witnessed_text):
    client = api("compliance")
    with app.app_context():
        create_checkpoint()
        witnessed = sizes()[-1]
        append_events(2)
    body = client.get("/api/v1/audit/verify").json
    assert body["ok"] is True and body["witnessed_tree_size"] == witnessed and body["unproven_events"] == 2
    page = app.test_client()
    headers = {"Accept-Language": language}
    page.post("/login", data={"email": "compliance@lender.example.com", "password": PASSWORD}, headers=headers)
    html = page.post("/audit/verify", headers=headers).get_data(as_text=True)
    with app.app_context():
        unproven = last_seq() - 1 - witnessed  # the page's own verify event comes after its answer
    shown = re.search(r'id="verify-unproven">([^<]*)<', html).group(1)
    assert shown == unproven_text.format(n=unproven)
    assert re.search(r'id="verify-witnessed">([^<]*)<', html).group(1) == witnessed_text.format(n=witnessed)


def test_a_forged_or_unreadable_file_fails_verify(app):
    with app.app_context():
        append_events(3)
        create_checkpoint()
        folder = Path(app.config["PORTAL_AUDIT_CHECKPOINT_DIR"])
        # Signed, but by a key that never signed for this portal.
        stranger = sign_checkpoint(7, b"\x11" * 32, utcnow().replace(microsecond=0), Ed25519PrivateKey.generate())
        write_once(folder, stranger)
        (folder / file_name(8)).write_text("{not json")
        report = verify(app)
        assert not report.ok and report.first_bad_seq is None
        reasons = sorted(p.reason for p in report.problems)
        assert reasons[0].startswith("file checkpoint-000000000007.json: signed by key")
        assert reasons[1].startswith("file checkpoint-000000000008.json: unreadable")
        assert report.witnessed_tree_size == 3


# --------------------------------------------------------------------------- write-once files


def test_a_checkpoint_file_is_written_once_read_only_and_never_changed(app, tmp_path):
    folder = tmp_path / "worm"
    with app.app_context():
        append_events(2)
        checkpoint, _ = make_checkpoint()
        db.session.commit()
        signed = checkpoint.as_checkpoint()
    path = write_once(folder, signed)
    assert path.name == "checkpoint-000000000002.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert json.loads(path.read_text()) == signed
    original, mtime = path.read_bytes(), path.stat().st_mtime_ns
    # The same statement again is accepted without opening the file for writing.
    assert write_once(folder, signed) == path and path.stat().st_mtime_ns == mtime
    # Another checkpoint of the same tree size (re-signed later, or forged) is refused.
    resigned = sign_checkpoint(2, bytes.fromhex(signed["root_hash"]), utcnow() + timedelta(seconds=5), signing_key(app))
    with pytest.raises(CheckpointPublishError, match="refusing to overwrite"):
        write_once(folder, resigned)
    assert path.read_bytes() == original and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_checkpoints_go_to_the_instance_folder_by_default(monkeypatch, tmp_path):
    from portal.config import load_config

    monkeypatch.delenv("PORTAL_AUDIT_CHECKPOINT_DIR", raising=False)
    monkeypatch.delenv("PORTAL_AUDIT_CHECKPOINT_INTERVAL", raising=False)
    config = load_config(tmp_path)
    assert config["PORTAL_AUDIT_CHECKPOINT_DIR"] == str(tmp_path / "checkpoints")
    assert config["PORTAL_AUDIT_CHECKPOINT_INTERVAL"] == 60
    monkeypatch.setenv("PORTAL_AUDIT_CHECKPOINT_DIR", "off")
    assert load_config(tmp_path)["PORTAL_AUDIT_CHECKPOINT_DIR"] is None


# --------------------------------------------------------------------------- the interval


def test_a_commit_signs_at_once_when_the_newest_checkpoint_is_older_than_the_interval(app, timers, monkeypatch):
    app.config["PORTAL_AUDIT_CHECKPOINT_INTERVAL"] = 60
    with app.app_context():
        append_events(1)
        assert sizes() == [1]  # no checkpoint before: the first event is signed in its own request
        assert files(app) == [file_name(1)]
        append_events(2)
        assert sizes() == [1]  # within the minute: a timer waits for the rest of it
        assert tail.tail_state(app).armed
        tail.tail_state(app).cancel()
        later = utcnow() + timedelta(seconds=61)
        monkeypatch.setattr(tail, "utcnow", lambda: later)
        append_events(1)
        assert sizes() == [1, 4]
        assert files(app) == [file_name(1), file_name(4)]


def test_a_burst_then_silence_gets_its_tail_signed_within_the_interval(app, timers):
    app.config["PORTAL_AUDIT_CHECKPOINT_INTERVAL"] = 2
    with app.app_context():
        append_events(1)
        append_events(5, commit_each=True)  # the burst, then nothing
        started = time.monotonic()
        while time.monotonic() - started < 8:
            db.session.rollback()
            if sizes()[-1:] == [6]:
                break
            time.sleep(0.1)
        waited = time.monotonic() - started
        assert sizes()[-1] == 6, "the timer did not sign the tail"
        assert waited < 2 + 2  # the interval, plus slack for a loaded machine
        assert file_name(6) in files(app)
        assert verify(app).unproven_events == 0


def test_the_interval_zero_turns_the_tail_timer_off(app):
    app.config["PORTAL_AUDIT_CHECKPOINT_INTERVAL"] = 0
    with app.app_context():
        append_events(3)
        assert sizes() == [] and not tail.tail_state(app).armed


# --------------------------------------------------------------------------- the witness URL


class _Witness(BaseHTTPRequestHandler):
    """A witness as documented: POST stores a checkpoint, GET answers the newest one (404 before any)."""

    held: list[dict[str, object]]
    status: int

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).status < 300:
            type(self).held.append(body)
        self.send_response(type(self).status)
        self.end_headers()

    def do_GET(self) -> None:
        if not type(self).held:
            self.send_response(404)
            self.end_headers()
            return
        newest = max(type(self).held, key=lambda cp: cp["tree_size"])
        data = json.dumps(newest).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def witness() -> Iterator[type[_Witness]]:
    handler = type("Witness", (_Witness,), {"held": [], "status": 201})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/checkpoints"
    yield handler
    server.shutdown()
    server.server_close()


def test_the_witness_url_gets_each_checkpoint_and_verify_compares_with_it(app, witness):
    app.config.update(PORTAL_AUDIT_CHECKPOINT_URL=witness.url, PORTAL_AUDIT_CHECKPOINT_DIR=None)
    with app.app_context():
        assert verify(app).witnessed_tree_size is None  # the witness answers 404: it holds nothing yet
        append_events(4)
        create_checkpoint()
        assert [cp["tree_size"] for cp in witness.held] == [4]
        append_events(1)
        report = verify(app)
        assert report.ok and report.witnessed_tree_size == 4 and report.unproven_events == 1
        tamper("DELETE FROM audit_checkpoints", "DELETE FROM audit_events WHERE seq > 2")
        report = verify(app)
        assert not report.ok and report.first_bad_seq == 3 and report.witnessed_tree_size == 4


def test_a_witness_that_does_not_answer_is_a_note_not_a_failure(app):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app.config["PORTAL_AUDIT_CHECKPOINT_URL"] = f"http://127.0.0.1:{port}/down"
    with app.app_context():
        append_events(2)
        create_checkpoint()
        report = verify(app)
        assert report.ok and report.witnessed_tree_size == 2  # the file still witnesses it
        assert report.witness_notes and report.witness_notes[0].startswith("witness URL:")


@pytest.fixture
def agency_api(app, world):
    from portal.accounts.services import create_token, get_user_by_email
    from portal.security import Actor

    with app.app_context():
        _token, clear = create_token(
            actor=Actor.system(source="test"), user=get_user_by_email(world["zc_agent"]), label="t"
        )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return client


@pytest.mark.parametrize("failure", ["refuses", "hangs"])
def test_a_witness_down_never_breaks_an_upload_and_is_retried(app, agency_api, witness, timers, caplog, failure):
    from tests.uploads.test_api import post

    listener = None
    if failure == "refuses":
        witness.status = 503
        app.config["PORTAL_AUDIT_CHECKPOINT_URL"] = witness.url
    else:
        # Accepts the connection and never answers: only the short timeout ends the POST.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        app.config["PORTAL_AUDIT_CHECKPOINT_URL"] = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    app.config.update(PORTAL_AUDIT_CHECKPOINT_INTERVAL=60, PORTAL_AUDIT_CHECKPOINT_TIMEOUT=1)
    try:
        started = time.monotonic()
        response = post(agency_api, (DATA / "contacts_canonical.csv").read_bytes())
        elapsed = time.monotonic() - started
        assert response.status_code == 202, response.json
        assert agency_api.get(f"/api/v1/uploads/{response.json['id']}").json["status"] == "completed"
        assert elapsed < 10
        with app.app_context():
            assert sizes(), "the checkpoint is signed and stored all the same"
            newest = sizes()[-1]
            assert file_name(newest) in files(app)
        assert "not published" in caplog.text and "checkpoint URL" in caplog.text
        assert tail.tail_state(app).url_failed
    finally:
        if listener is not None:
            listener.close()
    # Requests no longer wait for the failed witness: the next upload answers at once.
    started = time.monotonic()
    again = post(agency_api, (DATA / "contacts_canonical.csv").read_bytes() + b"\n")  # other bytes: a new upload
    assert again.status_code in (200, 202) and time.monotonic() - started < 0.9
    # The witness is back: the armed timer's retry delivers the newest checkpoint by itself.
    witness.status = 201
    app.config["PORTAL_AUDIT_CHECKPOINT_URL"] = witness.url
    state = tail.tail_state(app)
    assert state.armed
    state.cancel()
    state.arm(app, 0)  # the retry timer, due now instead of in a minute
    with app.app_context():
        newest = sizes()[-1]
    for _ in range(50):
        if not state.url_failed and not state.armed:
            break
        time.sleep(0.1)
    assert witness.held and witness.held[-1]["tree_size"] >= newest
    assert not state.url_failed
