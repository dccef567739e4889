"""Proofs from the per-process subtree cache are exactly the proofs of the whole tree, at every size."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import insert

from portal.audit import integrity
from portal.audit.merkle import MerkleTree
from portal.audit.models import AuditEvent
from portal.audit.subtrees import TILE
from portal.db import utcnow
from portal.extensions import db
from tests.audit.conftest import tamper

pytestmark = pytest.mark.usefixtures("ctx")


def leaves_for(start: int, end: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(start, end)]


def store(leaves: list[bytes], first_seq: int = 1) -> None:
    """Rows carrying given leaf hashes (proofs read only the stored leaf hashes)."""
    now = utcnow()
    rows = [
        {
            "seq": first_seq + i,
            "occurred_at": now,
            "source": "test",
            "action": "test:leaf:stored",
            "outcome": "success",
            "details": {},
            "leaf_hash": leaf.hex(),
            "canonical": "{}",
        }
        for i, leaf in enumerate(leaves)
    ]
    db.session.execute(insert(AuditEvent), rows)
    db.session.commit()


EDGES = [1, 2, 3, TILE - 1, TILE, TILE + 1, 2 * TILE - 1, 2 * TILE, 3 * TILE + 5, 4 * TILE, 4 * TILE + 77]


def test_inclusion_and_consistency_proofs_match_the_whole_tree():
    leaves = leaves_for(0, 4 * TILE + 77)
    store(leaves)
    tree = MerkleTree(leaves)
    for size in EDGES:
        for seq in sorted({1, 2, size // 2 or 1, max(size - TILE, 1), size - 1 or 1, size} & set(range(1, size + 1))):
            proof = integrity.inclusion(seq, size)
            assert proof["inclusion_path"] == [h.hex() for h in tree.inclusion_proof(seq - 1, size)], (seq, size)
            assert proof["root_hash"] == tree.root(size).hex() and proof["leaf_hash"] == leaves[seq - 1].hex()
        for old in sorted({1, size // 3 or 1, max(size - 1, 1), size}):
            proof = integrity.consistency(old, size)
            assert proof["consistency_path"] == [h.hex() for h in tree.consistency_proof(old, size)], (old, size)
            assert (proof["first_hash"], proof["second_hash"]) == (tree.root(old).hex(), tree.root(size).hex())


def test_the_cache_grows_with_the_trail_and_is_dropped_for_a_replaced_one():
    first = leaves_for(0, TILE + 3)
    store(first)
    assert integrity.inclusion(5, TILE + 3)["root_hash"] == MerkleTree(first).root().hex()
    more = leaves_for(TILE + 3, 3 * TILE)
    store(more, first_seq=TILE + 4)
    grown = MerkleTree(first + more)
    assert integrity.inclusion(TILE + 10, 3 * TILE)["root_hash"] == grown.root().hex()
    # A restored (different) trail: the cached subtrees must not be reused.
    other = leaves_for(0, 3 * TILE, salt="restored")
    tamper("DELETE FROM audit_events")
    store(other)
    proof = integrity.inclusion(7, 3 * TILE)
    assert proof["root_hash"] == MerkleTree(other).root().hex()
    assert proof["inclusion_path"] == [h.hex() for h in MerkleTree(other).inclusion_proof(6)]
