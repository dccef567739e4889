"""verify_trail: an intact trail passes; any edit, deletion or reordering is caught and named by its seq."""

from __future__ import annotations

import hashlib
import json

import pytest
import rfc8785
from sqlalchemy import select

from portal.audit.checkpoints import make_checkpoint
from portal.audit.integrity import verify_trail
from portal.audit.merkle import root_hash
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.extensions import db
from portal.security import Actor
from tests.audit.conftest import append_events, tamper
from tests.conftest import audit_actions

pytestmark = pytest.mark.usefixtures("ctx")


def checkpoint() -> None:
    make_checkpoint()
    db.session.commit()


def result() -> dict[str, object]:
    db.session.rollback()
    return verify_trail().as_dict()


def test_record_event_stores_the_canonical_bytes_it_hashed():
    record_event(
        actor=Actor.system(source="test"),
        action=AuditTag.AGENCY_CREATE,
        object_type="agency",
        object_id=7,
        details={"name": "中诚", "b": [1, "x"], "a": None},
    )
    db.session.commit()
    event = db.session.get(AuditEvent, 1)
    leaf = event.as_leaf_object()
    assert event.canonical.encode() == rfc8785.dumps(leaf)
    assert event.leaf_hash == hashlib.sha256(b"\x00" + rfc8785.dumps(leaf)).hexdigest()
    assert json.loads(event.canonical)["details"] == {"name": "中诚", "b": [1, "x"], "a": None}


def test_an_empty_trail_is_intact():
    assert result() == {
        "ok": True,
        "events": 0,
        "first_bad_seq": None,
        "root": hashlib.sha256(b"").hexdigest(),
        "unproven_events": 0,
        "witnessed_tree_size": None,
    }


def test_an_intact_trail_verifies_with_every_checkpoint():
    append_events(5)
    checkpoint()
    append_events(4, commit_each=True)
    checkpoint()
    append_events(3)
    report = verify_trail()
    leaves = [
        bytes.fromhex(h) for h in db.session.execute(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)).scalars()
    ]
    assert report.as_dict() == {
        "ok": True,
        "events": 12,
        "first_bad_seq": None,
        "root": root_hash(leaves).hex(),
        # Checkpoints only in the database (no witness given): none of the 12 is proven against an outside copy.
        "unproven_events": 12,
        "witnessed_tree_size": None,
    }
    assert report.checkpoints == 2 and report.problems == []
    full = verify_trail(full=True)
    assert full.ok and full.root == report.root


@pytest.mark.parametrize(
    ("statements", "bad_seq"),
    [
        pytest.param(["UPDATE audit_events SET action = 'case:case:create' WHERE seq = 4"], 4, id="edit-action"),
        pytest.param(["UPDATE audit_events SET details = '{\"i\": 99}' WHERE seq = 6"], 6, id="edit-details"),
        pytest.param(["UPDATE audit_events SET agency_id = 2 WHERE seq = 2"], 2, id="edit-agency"),
        pytest.param(["UPDATE audit_events SET leaf_hash = :fake WHERE seq = 7"], 7, id="edit-leaf-hash"),
        pytest.param(
            ["UPDATE audit_events SET canonical = replace(canonical, :old, :new) WHERE seq = 5"],
            5,
            id="edit-canonical",
        ),
        pytest.param(["DELETE FROM audit_events WHERE seq = 3"], 3, id="delete-middle"),
        pytest.param(["DELETE FROM audit_events WHERE seq >= 9"], 9, id="delete-the-checkpointed-tail"),
        pytest.param(
            [
                "UPDATE audit_events SET seq = 100 WHERE seq = 3",
                "UPDATE audit_events SET seq = 3 WHERE seq = 5",
                "UPDATE audit_events SET seq = 5 WHERE seq = 100",
            ],
            3,
            id="reorder",
        ),
    ],
)
def test_tampering_is_detected_and_the_first_bad_seq_named(statements, bad_seq):
    append_events(10)
    checkpoint()
    assert result()["ok"] is True
    tamper(*statements, fake="ab" * 32, old='"i":4', new='"i":5')
    found = result()
    assert found["ok"] is False and found["first_bad_seq"] == bad_seq, verify_trail().describe()


def test_a_consistent_rewrite_of_a_row_is_caught_by_the_checkpoint():
    """An attacker who rewrites columns, canonical bytes and leaf hash together fools every per-row check."""
    append_events(4)
    checkpoint()
    append_events(4)
    checkpoint()
    event = db.session.get(AuditEvent, 6)
    forged = {**event.as_leaf_object(), "details": {"i": 42}}
    data = rfc8785.dumps(forged)
    tamper(
        "UPDATE audit_events SET details = :details, canonical = :canonical, leaf_hash = :leaf WHERE seq = 6",
        details=rfc8785.dumps({"i": 42}).decode(),
        canonical=data.decode(),
        leaf=hashlib.sha256(b"\x00" + data).hexdigest(),
    )
    report = verify_trail()
    # Seqs 1..4 are proven by the first checkpoint, so the change lies in 5..8.
    assert not report.ok and report.first_bad_seq == 5
    assert [p.check for p in report.problems] == ["checkpoint"]


def test_a_forged_checkpoint_signature_fails_verification():
    append_events(3)
    checkpoint()
    tamper("UPDATE audit_checkpoints SET signature = :sig", sig="A" * 86 + "==")
    report = verify_trail()
    assert not report.ok and report.first_bad_seq is None
    assert "signature" in report.problems[0].reason


def test_verification_records_an_event_with_its_result(app):
    from portal.audit.trail import verify_audit_trail

    append_events(2)
    report = verify_audit_trail(actor=Actor.system(source="test"))
    assert report.ok and audit_actions(2) == ["audit:trail:verify"]
    event = db.session.get(AuditEvent, 3)
    assert event.details == {**report.as_dict(), "full": False, "checkpoints": 0}


def test_strings_that_json_escapes_differently_still_verify_on_every_path():
    awkward = 'tab\t quote" back\\ bell\x07 del\x7f é 中文 😀 \u2028 </script>'
    actor = Actor(user_id=None, role=None, ip="2001:db8::1", user_agent=awkward, source="test")
    record_event(
        actor=actor,
        action=AuditTag.AGENCY_UPDATE,
        object_type="agency",
        object_id=awkward[:60],
        details={awkward: [awkward, {"\U0001f600": 1, "\uff61": 2, "a": None}], "n": -(2**53 - 1), "t": True},
    )
    db.session.commit()
    assert verify_trail().ok and verify_trail(full=True).ok
    event = db.session.get(AuditEvent, 1)
    assert event.details[awkward][0] == awkward and event.user_agent == awkward
