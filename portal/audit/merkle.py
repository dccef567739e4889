"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification (standard library only)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LeafSource",
    "MerkleTree",
    "TreeBuilder",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

# Leaf indexes throughout this module are RFC 0-based: the audit event with contract
# ``seq`` n is leaf ``index = n - 1``, and a tree of ``tree_size`` leaves holds seqs 1..tree_size.

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"

# Leaf hashes of a tree: a sequence indexed by 0-based leaf index, or a callable
# ``get(start, end)`` returning the leaf hashes of indexes start..end-1 (seqs start+1..end),
# so a host can page them out of its database instead of loading the whole tree.
LeafSource = Sequence[bytes] | Callable[[int, int], Sequence[bytes]]

# Leaves fetched per call from a callable LeafSource.
_CHUNK = 1 << 16


def leaf_hash(data: bytes) -> bytes:
    """MTH of one entry: SHA-256(0x00 || data)."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE + left + right).digest()


class TreeBuilder:
    """Streaming Merkle root in O(log n) memory: a compact range of perfect subtree roots.

    ``compact_range`` holds one root per set bit of ``size``, largest (leftmost) first, so
    a host can persist it next to a checkpoint and resume appending without re-reading
    old leaves: ``TreeBuilder(size, compact_range)``.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self, size: int = 0, compact_range: Iterable[bytes] = ()) -> None:
        stack = [bytes(h) for h in compact_range]
        if size < 0 or len(stack) != size.bit_count():
            raise ValueError("a compact range holds exactly one hash per set bit of size")
        if any(len(h) != HASH_SIZE for h in stack):
            raise ValueError("compact range hashes must be 32 bytes")
        self._size = size
        self._stack = stack

    def __len__(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        return self._size

    @property
    def compact_range(self) -> list[bytes]:
        return list(self._stack)

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf: its 32-byte hash, not its data (unchecked, this is the hot path)."""
        stack = self._stack
        n = self._size
        h = leaf_hash
        # Each trailing 1-bit of the old size is a left sibling that now gets completed.
        while n & 1:
            h = _sha256(_NODE + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaves; the same as repeated ``append`` with less call overhead."""
        stack = self._stack
        pop = stack.pop
        push = stack.append
        sha = _sha256
        node = _NODE
        size = self._size
        for h in leaf_hashes:
            n = size
            while n & 1:
                h = sha(node + pop() + h).digest()
                n >>= 1
            push(h)
            size += 1
        self._size = size

    def root(self) -> bytes:
        """The RFC 6962 MTH of all leaves appended so far (SHA-256 of b"" when empty)."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        # Smaller subtrees sit to the right, so fold from the right edge inwards.
        r = stack[-1]
        for h in reversed(stack[:-1]):
            r = _sha256(_NODE + h + r).digest()
        return r


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH over leaf hashes in order (0-based index = seq - 1); EMPTY_ROOT for no leaves."""
    builder = TreeBuilder()
    builder.extend(leaf_hashes)
    return builder.root()


def _largest_pow2_below(n: int) -> int:
    """The k of RFC 9162 2.1.1: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_path(index: int, size: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]) unrolled; ``mth(a, b)`` gives MTH(D[a:b])."""
    siblings: list[bytes] = []
    start = 0
    while size > 1:
        k = _largest_pow2_below(size)
        if index - start < k:
            siblings.append(mth(start + k, start + size))
            size = k
        else:
            siblings.append(mth(start, start + k))
            start += k
            size -= k
    # The recursion emits the deepest sibling first.
    siblings.reverse()
    return siblings


def _subproof(old: int, size: int, mth: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF(m, D[n], true) unrolled, for 0 < old <= size."""
    nodes: list[bytes] = []
    start = 0
    complete = True  # the b flag: is the old tree's root a node of this subtree?
    m = old
    while m != size:
        k = _largest_pow2_below(size)
        if m <= k:
            nodes.append(mth(start + k, start + size))
            size = k
        else:
            nodes.append(mth(start, start + k))
            start += k
            size -= k
            m -= k
            complete = False
    if not complete:
        nodes.append(mth(start, start + size))
    nodes.reverse()
    return nodes


def _source_mth(leaves: LeafSource, tree_size: int) -> Callable[[int, int], bytes]:
    """MTH(D[a:b]) straight from a leaf source, reading each range once."""
    if callable(leaves):
        fetch = leaves
    else:
        if len(leaves) < tree_size:
            raise ValueError(f"{len(leaves)} leaf hashes given for a tree of {tree_size}")

        def fetch(a: int, b: int) -> Sequence[bytes]:
            return leaves[a:b]

    def mth(a: int, b: int) -> bytes:
        builder = TreeBuilder()
        for lo in range(a, b, _CHUNK):
            hi = min(lo + _CHUNK, b)
            chunk = fetch(lo, hi)
            if len(chunk) != hi - lo:
                raise ValueError(f"leaf source returned {len(chunk)} hashes for indexes {lo}..{hi - 1}")
            builder.extend(chunk)
        return builder.root()

    return mth


def inclusion_proof(leaves: LeafSource, index: int, tree_size: int) -> list[bytes]:
    """The RFC 9162 inclusion path of leaf ``index`` (0-based: ``seq - 1``) in the first ``tree_size`` leaves.

    ``leaves`` is a sequence of leaf hashes (``leaves[i]`` is seq i + 1) or a callable
    ``get(start, end)`` returning the hashes of 0-based indexes start..end-1, i.e. seqs
    start+1..end. Every other leaf of the tree is read once; for many proofs against one
    tree use :class:`MerkleTree`, which reads the leaves once for all of them.
    """
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    return _inclusion_path(index, tree_size, _source_mth(leaves, tree_size))


def consistency_proof(leaves: LeafSource, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 consistency proof PROOF(old_size, D[new_size]); ``leaves`` as for inclusion_proof.

    Sizes are leaf counts (= the last seq of each tree). Equal sizes and ``old_size == 0``
    need no proof and give ``[]``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(old_size, new_size, _source_mth(leaves, new_size))


def inclusion_proof_from(mth: Callable[[int, int], bytes], index: int, tree_size: int) -> list[bytes]:
    """The inclusion path of leaf ``index`` computed with ``mth(a, b)`` = MTH(D[a:b]).

    For hosts that keep subtree hashes themselves: ``mth`` is only asked for the ranges an RFC
    9162 proof uses, each starting at a multiple of the largest power of two that fits in it.
    """
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    return _inclusion_path(index, tree_size, mth)


def consistency_proof_from(mth: Callable[[int, int], bytes], old_size: int, new_size: int) -> list[bytes]:
    """The consistency proof from ``old_size`` to ``new_size`` computed with ``mth``, as above."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(old_size, new_size, mth)


class MerkleTree:
    """An appendable in-memory tree keeping every perfect subtree hash, for many proofs at once.

    Memory is about 64 bytes per leaf (levels are packed ``bytearray``s). Proofs are
    available for any tree size up to ``size``, since the perfect subtrees of a smaller
    tree are nodes of this one. Indexes are 0-based (``seq - 1``).
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    @classmethod
    def from_source(cls, leaves: LeafSource, tree_size: int) -> MerkleTree:
        """Read the first ``tree_size`` leaves from a sequence or ``get(start, end)`` callable."""
        tree = cls()
        if not callable(leaves):
            if len(leaves) < tree_size:
                raise ValueError(f"{len(leaves)} leaf hashes given for a tree of {tree_size}")
            tree.extend(leaves[:tree_size])
            return tree
        for lo in range(0, tree_size, _CHUNK):
            hi = min(lo + _CHUNK, tree_size)
            chunk = leaves(lo, hi)
            if len(chunk) != hi - lo:
                raise ValueError(f"leaf source returned {len(chunk)} hashes for indexes {lo}..{hi - 1}")
            tree.extend(chunk)
        return tree

    def __len__(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        return self._size

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        levels = self._levels
        sha = _sha256
        node = _NODE
        size = self._size
        for h in leaf_hashes:
            if len(h) != HASH_SIZE:
                raise ValueError("leaf hashes must be 32 bytes")
            levels[0] += h
            n = size
            level = 0
            # Completing a right child completes its parent: carry upwards like a binary counter.
            while n & 1:
                below = levels[level]
                h = sha(node + below[-64:]).digest()
                level += 1
                if level == len(levels):
                    levels.append(bytearray())
                levels[level] += h
                n >>= 1
            size += 1
        self._size = size

    def append(self, leaf_hash: bytes) -> None:
        self.extend((leaf_hash,))

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise IndexError(index)
        return bytes(self._levels[0][32 * index : 32 * index + 32])

    def _mth(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) for the ranges proofs use: ``a`` aligned to the largest power of two fitting."""
        levels = self._levels
        parts: list[bytes] = []
        while a < b:
            level = (b - a).bit_length() - 1
            width = 1 << level
            if a & (width - 1):
                raise ValueError(f"range {a}..{b} is not a proof range")
            i = a >> level
            parts.append(bytes(levels[level][32 * i : 32 * i + 32]))
            a += width
        r = parts.pop()
        while parts:
            r = _sha256(_NODE + parts.pop() + r).digest()
        return r

    def _check_size(self, tree_size: int | None) -> int:
        size = self._size if tree_size is None else tree_size
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is outside 0..{self._size}")
        return size

    def root(self, tree_size: int | None = None) -> bytes:
        """MTH of the first ``tree_size`` leaves (default: all)."""
        size = self._check_size(tree_size)
        return self._mth(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Inclusion path of leaf ``index`` (= seq - 1) in the tree of ``tree_size`` leaves."""
        size = self._check_size(tree_size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
        return _inclusion_path(index, size, self._mth)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof from the tree of ``old_size`` leaves to the one of ``new_size``."""
        size = self._check_size(new_size)
        if not 0 <= old_size <= size:
            raise ValueError(f"no consistency proof from size {old_size} to size {size}")
        if old_size in (0, size):
            return []
        return _subproof(old_size, size, self._mth)


def _all_hashes(values: Iterable[bytes]) -> bool:
    return all(isinstance(v, bytes | bytearray) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` prove leaf ``index`` (0-based, = seq - 1) under ``root``?"""
    if not 0 <= index < tree_size:
        return False
    if not _all_hashes((leaf_hash, root, *path)):
        return False
    sha = _sha256
    node = _NODE
    fn = index
    sn = tree_size - 1
    r = bytes(leaf_hash)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(node + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(node + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 2.1.4.2: is the tree (new_size, new_root) an append-only extension of (old_size, old_root)?

    Sizes are leaf counts (the last seq of each tree). The RFC algorithm covers
    0 < old_size < new_size; as in the RFC 6962 reference implementations, equal sizes
    are consistent when the roots are equal and the proof is empty, and the empty tree
    is a prefix of every tree (empty proof).
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(bytes(old_root), bytes(new_root))
    if old_size == 0:
        return not proof
    if not proof or not _all_hashes((old_root, new_root, *proof)):
        return False
    path = list(proof)
    # Step 2: a power-of-two old tree is itself a node of the new tree, so its root starts the path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn = old_size - 1
    sn = new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    sha = _sha256
    node = _NODE
    fr = sr = bytes(path[0])
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha(node + c + fr).digest()
            sr = sha(node + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(node + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, bytes(old_root)) and hmac.compare_digest(sr, bytes(new_root))
