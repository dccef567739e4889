"""Receipts: made from the stored trail, verified offline with nothing but the standard library and cryptography."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from portal.audit import verify as offline
from portal.audit.checkpoints import make_checkpoint
from portal.audit.models import AuditCheckpoint
from portal.audit.receipts import receipt_for, receipt_problem, verify_receipt
from portal.audit.services import record_event
from portal.audit.signing import sign_checkpoint
from portal.audit.tags import AuditTag
from portal.errors import NotFoundError
from portal.extensions import db
from portal.security import Actor
from tests.audit.conftest import append_events

pytestmark = pytest.mark.usefixtures("ctx")


def checkpoints() -> int:
    return db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar()


def test_a_receipt_proves_its_event_against_the_first_checkpoint_covering_it():
    append_events(5)
    make_checkpoint()
    db.session.commit()
    append_events(5)
    make_checkpoint()
    db.session.commit()
    receipt = receipt_for(3)
    assert set(receipt) == {"format", "seq", "leaf_hash", "event", "checkpoint", "proof"}
    assert receipt["checkpoint"]["tree_size"] == 5 and receipt["proof"]["tree_size"] == 5
    assert receipt["event"]["seq"] == 3 and verify_receipt(receipt)
    later = receipt_for(8, include_event=False)
    assert "event" not in later and later["checkpoint"]["tree_size"] == 10 and verify_receipt(later)
    key_id = receipt["checkpoint"]["key_id"]
    assert verify_receipt(receipt, trusted_keys=[key_id])
    assert receipt_problem(receipt, trusted_keys=["0" * 16]) == "checkpoint is not signed by a trusted key"


def test_a_receipt_for_a_committed_event_signs_and_keeps_a_checkpoint_when_none_covers_it():
    append_events(4)
    assert checkpoints() == 0
    receipt = receipt_for(4)
    db.session.rollback()  # the caller's transaction does not matter: the checkpoint was committed on its own
    assert checkpoints() == 1 and receipt["checkpoint"]["tree_size"] == 4 and verify_receipt(receipt)


def test_a_receipt_inside_the_recording_transaction_joins_it():
    append_events(2)
    event = record_event(actor=Actor.system(source="test"), action=AuditTag.AGENCY_CREATE, object_id=1)
    receipt = receipt_for(event.seq)
    assert receipt["checkpoint"]["tree_size"] == 3 and verify_receipt(receipt)
    db.session.commit()
    assert checkpoints() == 1


def test_receipt_for_an_unknown_seq():
    with pytest.raises(NotFoundError):
        receipt_for(1)
    with pytest.raises(NotFoundError):
        receipt_for(0)


def _forged_checkpoint(receipt):
    """A valid signature by someone else's key over a different root."""
    when = datetime.fromisoformat(receipt["checkpoint"]["timestamp"])
    other = sign_checkpoint(receipt["checkpoint"]["tree_size"], bytes(32), when, Ed25519PrivateKey.generate())
    return {**receipt, "checkpoint": other}


TAMPERINGS = {
    "event edited": lambda r: {**r, "event": {**r["event"], "outcome": "failure"}},
    "event of another seq": lambda r: {**r, "event": {**r["event"], "seq": 2}},
    "leaf hash swapped": lambda r: {**r, "leaf_hash": "ab" * 32},
    "proof path edited": lambda r: {**r, "proof": {**r["proof"], "path": ["00" * 32, *r["proof"]["path"][1:]]}},
    "proof for another tree": lambda r: {**r, "proof": {**r["proof"], "tree_size": 2}},
    "checkpoint root edited": lambda r: {**r, "checkpoint": {**r["checkpoint"], "root_hash": "00" * 32}},
    "checkpoint re-signed by another key": _forged_checkpoint,
    "seq changed": lambda r: {**r, "seq": 4},
    "no format": lambda r: {k: v for k, v in r.items() if k != "format"},
}


@pytest.mark.parametrize("change", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_a_tampered_receipt_does_not_verify(change):
    append_events(6)
    receipt = receipt_for(3)
    assert verify_receipt(receipt)
    assert not verify_receipt(change(copy.deepcopy(receipt)))


def test_verify_receipt_runs_offline_with_only_the_standalone_verifier(tmp_path: Path):
    append_events(3)
    receipt = receipt_for(2)
    shutil.copy(offline.__file__, tmp_path / "portal_verify.py")
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import portal_verify as v\n"
        "r = json.load(open(sys.argv[2]))\n"
        "ok = v.verify_receipt(r); r['event']['action'] = 'x'; bad = v.verify_receipt(r)\n"
        "loaded = sorted(m for m in ('flask', 'sqlalchemy', 'rfc8785', 'portal') if m in sys.modules)\n"
        "print(json.dumps([ok, bad, loaded]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(tmp_path), str(tmp_path / "receipt.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, False, []]
