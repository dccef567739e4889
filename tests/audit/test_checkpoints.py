"""Signed checkpoints: every N events after commit, on demand, and written to places the portal cannot rewrite."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from portal.audit.checkpoints import KEY_FILE, AuditIntegrityError, make_checkpoint, signing_key
from portal.audit.merkle import root_hash
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.signing import key_id, private_key_pem, verify_checkpoint
from portal.extensions import db
from tests.audit.conftest import append_events, tamper


def sizes() -> list[int]:
    return list(db.session.execute(select(AuditCheckpoint.tree_size).order_by(AuditCheckpoint.tree_size)).scalars())


def leaves() -> list[bytes]:
    return [
        bytes.fromhex(h) for h in db.session.execute(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)).scalars()
    ]


def test_a_checkpoint_is_signed_after_the_commit_that_crosses_every_nth_event(app):
    app.config["PORTAL_AUDIT_CHECKPOINT_EVERY"] = 5
    with app.app_context():
        append_events(4, commit_each=True)
        assert sizes() == []
        append_events(1)
        assert sizes() == [5]
        append_events(7)  # one transaction: seqs 6..12 cross 10
        assert sizes() == [5, 12]
        latest = db.session.execute(select(AuditCheckpoint).where(AuditCheckpoint.tree_size == 12)).scalar_one()
        signed = latest.as_checkpoint()
        assert verify_checkpoint(signed, signing_key().public_key())
        assert signed["root_hash"] == root_hash(leaves()).hex()


def test_a_failing_automatic_checkpoint_never_breaks_the_callers_transaction(app, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    app.config.update(PORTAL_AUDIT_CHECKPOINT_EVERY=2, PORTAL_AUDIT_SIGNING_KEY=str(blocker / "key.pem"))
    app.extensions.pop("portal.audit_signing_key", None)
    with app.app_context():
        append_events(3)
        assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == 3
        assert sizes() == []
    assert "audit checkpoint failed" in caplog.text


def test_the_key_comes_from_the_setting_and_its_id_is_recorded(app, runner):
    key = Ed25519PrivateKey.generate()
    app.config["PORTAL_AUDIT_SIGNING_KEY"] = private_key_pem(key).decode()
    app.extensions.pop("portal.audit_signing_key", None)
    with app.app_context():
        append_events(2)
    result = runner.invoke(args=["audit", "checkpoint", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["key_id"] == key_id(key.public_key()) and out["tree_size"] == 2 and out["created"] is True
    assert verify_checkpoint(
        {k: out[k] for k in ("tree_size", "root_hash", "timestamp", "key_id", "public_key", "signature")},
        key.public_key(),
    )
    with app.app_context():
        assert db.session.execute(select(AuditCheckpoint.key_id)).scalar_one() == out["key_id"]


def test_without_a_setting_a_key_is_generated_once_into_the_instance_folder(app):
    with app.app_context():
        first = signing_key()
    key_file = Path(app.instance_path) / KEY_FILE
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    app.extensions.pop("portal.audit_signing_key")
    with app.app_context():
        assert key_id(signing_key().public_key()) == key_id(first.public_key())


def test_checkpoint_on_demand_reuses_an_unchanged_tree(app, runner):
    with app.app_context():
        append_events(3)
    first = runner.invoke(args=["audit", "checkpoint", "--json"])
    again = runner.invoke(args=["audit", "checkpoint"])
    assert first.exit_code == again.exit_code == 0
    assert json.loads(first.stdout)["created"] is True
    assert "unchanged since the latest checkpoint" in again.stdout
    with app.app_context():
        assert sizes() == [3]


def test_checkpoint_files_are_written_once_and_never_overwritten(app, runner, tmp_path):
    folder = tmp_path / "witness"
    app.config["PORTAL_AUDIT_CHECKPOINT_DIR"] = str(folder)
    with app.app_context():
        append_events(2)
    result = runner.invoke(args=["audit", "checkpoint", "--json"])
    assert result.exit_code == 0, result.output
    written = folder / "checkpoint-000000000002.json"
    out = json.loads(result.stdout)
    assert out["published"]["path"] == str(written)
    assert stat.S_IMODE(written.stat().st_mode) == 0o444
    assert json.loads(written.read_text()) == {k: v for k, v in out.items() if k not in ("created", "published")}
    # The same statement again is fine; a different one under that name is refused.
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with app.app_context():
        append_events(1)
    (folder / "checkpoint-000000000003.json").write_text("{}")
    refused = runner.invoke(args=["audit", "checkpoint"])
    assert refused.exit_code == 1 and "refusing to overwrite" in refused.stderr
    assert (folder / "checkpoint-000000000003.json").read_text() == "{}"
    with app.app_context():
        assert sizes() == [2, 3]  # stored all the same


class _Witness(BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []
    status = 201

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def witness() -> Iterator[type[_Witness]]:
    handler = type("Witness", (_Witness,), {"received": [], "status": 201})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/checkpoints"
    yield handler
    server.shutdown()
    server.server_close()


def test_checkpoints_are_posted_to_a_witness_url(app, runner, witness):
    app.config["PORTAL_AUDIT_CHECKPOINT_URL"] = witness.url
    with app.app_context():
        append_events(2)
    result = runner.invoke(args=["audit", "checkpoint", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["published"]["url"] == witness.url
    (posted,) = witness.received
    assert posted["type"] == "application/json"
    assert posted["body"] == {k: v for k, v in out.items() if k not in ("created", "published")}


def test_automatic_checkpoints_are_posted_too_and_a_refusing_witness_is_reported(app, runner, witness, caplog):
    app.config.update(PORTAL_AUDIT_CHECKPOINT_URL=witness.url, PORTAL_AUDIT_CHECKPOINT_EVERY=3)
    with app.app_context():
        append_events(3)
    assert [p["body"]["tree_size"] for p in witness.received] == [3]
    witness.status = 500
    with app.app_context():
        append_events(3)
    assert "not published" in caplog.text
    with app.app_context():
        append_events(1)
    failed = runner.invoke(args=["audit", "checkpoint"])
    assert failed.exit_code == 1 and "checkpoint URL" in failed.stderr


def test_a_checkpoint_whose_compact_range_was_altered_stops_the_next_one(ctx):
    append_events(3)
    make_checkpoint()
    db.session.commit()
    append_events(1)
    tamper("UPDATE audit_checkpoints SET compact_range = :r", r=" ".join(["00" * 32] * 2))
    with pytest.raises(AuditIntegrityError, match="compact range"):
        make_checkpoint()
