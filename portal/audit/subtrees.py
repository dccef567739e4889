"""Proofs in O(log n): each process keeps the hashes of the trail's complete subtrees of 256 leaves and more.

An inclusion or consistency proof needs the hashes of O(log n) subtrees. Without help, each of
them is computed from its leaves, so every proof reads the whole tree (a million leaf hashes
for a million events). The subtrees of 256 leaves and more never change once complete (the
trail is append-only), so a process keeps their hashes (about n/4 bytes: 250 KB per million
events), extends them as the trail grows, and computes a proof from them plus at most a few
hundred leaves. The cache lives on the app (one per process) and is dropped when the leaf it
ends with is no longer the trail's (a restored or replaced database).

It serves proofs, not verification: ``verify_trail`` always recomputes everything from the
stored events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.merkle import TreeBuilder, node_hash
from portal.audit.models import AuditEvent

TILE_LEVEL = 8
TILE = 1 << TILE_LEVEL
_EXTENSION = "portal.audit_subtrees"
_READ_CHUNK = 256 * TILE


def _leaves(session: Session, start: int, end: int) -> list[bytes]:
    """Stored leaf hashes of seqs start+1..end (0-based indexes start..end-1); refuses gaps."""
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.leaf_hash)
        .where(AuditEvent.seq > start, AuditEvent.seq <= end)
        .order_by(AuditEvent.seq)
    ).all()
    if len(rows) != end - start or (rows and (rows[0][0] != start + 1 or rows[-1][0] != end)):
        from portal.audit.checkpoints import AuditIntegrityError

        raise AuditIntegrityError(f"audit events {start + 1}..{end} are not all stored")
    return [bytes.fromhex(h) for _seq, h in rows]


class SubtreeCache:
    """Hashes of every complete, aligned subtree of TILE << j leaves within the first ``size`` leaves."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.size = 0  # a multiple of TILE
        self.levels: list[list[bytes]] = []  # levels[j][i]: the subtree of leaves i*(TILE<<j) .. (i+1)*(TILE<<j)-1
        self.last_leaf: bytes | None = None

    def _push(self, tile_root: bytes) -> None:
        """Add the next tile's root; completing a right sibling completes its parent, like a binary counter."""
        h, level = tile_root, 0
        while True:
            if level == len(self.levels):
                self.levels.append([])
            row = self.levels[level]
            row.append(h)
            if len(row) % 2:
                return
            h = node_hash(row[-2], row[-1])
            level += 1

    def prepare(self, session: Session, size: int) -> None:
        """Make the cache cover every complete tile of a tree of ``size`` leaves."""
        if self.last_leaf is not None:
            still = session.execute(select(AuditEvent.leaf_hash).where(AuditEvent.seq == self.size)).scalar()
            if still is None or bytes.fromhex(still) != self.last_leaf:
                self.reset()
        target = size - size % TILE
        while self.size < target:
            end = min(self.size + _READ_CHUNK, target)
            leaves = _leaves(session, self.size, end)
            for at in range(0, len(leaves), TILE):
                builder = TreeBuilder()
                builder.extend(leaves[at : at + TILE])
                self._push(builder.root())
            self.size = end
            self.last_leaf = leaves[-1]

    def mth(self, session: Session, size: int) -> Callable[[int, int], bytes]:
        """MTH(D[a:b]) for the ranges proofs use, from cached subtrees and at most a few tiles of leaves."""
        tiles: dict[int, list[bytes]] = {}

        def leaves_of(a: int, b: int) -> list[bytes]:
            tile = a // TILE
            if tile not in tiles:
                tiles[tile] = _leaves(session, tile * TILE, min(tile * TILE + TILE, size))
            offset = tile * TILE
            return tiles[tile][a - offset : b - offset]

        def subtree(a: int, width: int) -> bytes:
            level = width.bit_length() - 1
            if width >= TILE and a + width <= self.size:
                return self.levels[level - TILE_LEVEL][a >> level]
            builder = TreeBuilder()  # smaller than a tile: within one tile
            builder.extend(leaves_of(a, a + width))
            return builder.root()

        def mth(a: int, b: int) -> bytes:
            parts: list[bytes] = []
            while a < b:
                width = 1 << ((b - a).bit_length() - 1)
                if a & (width - 1):
                    raise ValueError(f"range {a}..{b} is not a proof range")
                parts.append(subtree(a, width))
                a += width
            root = parts.pop()
            while parts:
                root = node_hash(parts.pop(), root)
            return root

        return mth


@contextmanager
def subtrees(session: Session, size: int) -> Iterator[Callable[[int, int], bytes]]:
    """This process's cache, brought up to a tree of ``size`` leaves: yields its ``mth`` for that tree."""
    cache = current_app.extensions.get(_EXTENSION)
    if cache is None:
        cache = current_app.extensions.setdefault(_EXTENSION, SubtreeCache())
    with cache.lock:
        cache.prepare(session, size)
        yield cache.mth(session, size)
