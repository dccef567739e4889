"""RFC 6962 / 9162 Merkle tree: published test vectors, reference cross-checks and tamper probes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from portal.audit import merkle
from portal.audit import verify as offline
from portal.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# Test vectors transcribed (data only) from the GitHub repository transparency-dev/merkle:
#   testonly/constants.go       LeafInputs, NodeHashes, RootHashes
#   testonly/reference_test.go  TestRefInclusionProof, TestRefConsistencyProof (0-based index)
#   proof/verify_test.go        inclusionProofs (1-based leaf), consistencyProofs
# They are the RFC 6962 vectors that certificate-transparency and trillian also use.
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
NODE_HASHES = [  # [level][index] of every perfect subtree of the 8-leaf tree
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
ROOTS = [  # by tree size 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
_N = NODE_HASHES
# (0-based index, tree size, path); the verify_test.go entries are converted from 1-based leaves.
INCLUSION_VECTORS = [
    (0, 1, []),
    (0, 2, [_N[0][1]]),
    (1, 2, [_N[0][0]]),
    (2, 3, [_N[1][0]]),
    (1, 5, [_N[0][0], _N[1][1], _N[0][4]]),
    (0, 8, [_N[0][1], _N[1][1], _N[2][1]]),
    (5, 8, [_N[0][4], _N[1][3], _N[2][0]]),
]
CONSISTENCY_VECTORS = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, [_N[0][1], _N[1][1], _N[2][1]]),
    (2, 5, [_N[1][1], _N[0][4]]),
    (6, 8, [_N[1][2], _N[1][3], _N[2][0]]),
    (6, 7, [_N[1][2], _N[0][6], _N[2][0]]),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

LEAVES = [leaf_hash(x) for x in LEAF_INPUTS]
VERIFIERS = [
    pytest.param(verify_inclusion, id="merkle"),
    pytest.param(offline.verify_inclusion, id="offline"),
]


def h(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


# Literal transcriptions of the RFC 9162 2.1 recursive definitions, as an independent reference.
def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def test_hash_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert root_hash([]) == EMPTY_ROOT == TreeBuilder().root() == MerkleTree().root()


def test_leaf_and_node_hashes_match_vectors() -> None:
    assert [x.hex() for x in LEAVES] == NODE_HASHES[0]
    for level in range(1, 4):
        width = 1 << level
        for i, want in enumerate(NODE_HASHES[level]):
            assert root_hash(LEAVES[i * width : (i + 1) * width]).hex() == want


@pytest.mark.parametrize("size", range(9))
def test_roots_match_vectors(size: int) -> None:
    assert root_hash(LEAVES[:size]).hex() == ROOTS[size]
    assert MerkleTree(LEAVES).root(size).hex() == ROOTS[size]
    assert ref_mth(LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "want"), INCLUSION_VECTORS)
def test_inclusion_proofs_match_vectors(index: int, size: int, want: list[str]) -> None:
    assert inclusion_proof(LEAVES, index, size) == h(want)
    assert MerkleTree(LEAVES).inclusion_proof(index, size) == h(want)
    assert verify_inclusion(LEAVES[index], index, size, h(want), bytes.fromhex(ROOTS[size]))
    assert offline.verify_inclusion(LEAVES[index], index, size, h(want), bytes.fromhex(ROOTS[size]))


def test_every_inclusion_path_of_the_vector_tree() -> None:
    for size in range(1, 9):
        root = bytes.fromhex(ROOTS[size])
        for index in range(size):
            path = inclusion_proof(LEAVES, index, size)
            assert path == ref_path(index, LEAVES[:size])
            assert verify_inclusion(LEAVES[index], index, size, path, root)


@pytest.mark.parametrize(("old", "new", "want"), CONSISTENCY_VECTORS)
def test_consistency_proofs_match_vectors(old: int, new: int, want: list[str]) -> None:
    assert consistency_proof(LEAVES, old, new) == h(want)
    assert MerkleTree(LEAVES).consistency_proof(old, new) == h(want)
    assert verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), h(want))


def test_consistency_edge_cases_from_vectors() -> None:
    # proof/verify_test.go TestVerifyConsistency: trivially consistent and rejected sizes.
    r1, r2, empty = b"don't care 1", b"don't care 2", bytes.fromhex(ROOTS[0])
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    for old, new, a, b, proof in [
        (0, 0, r1, r2, []),
        (1, 1, r1, r2, []),
        (1, 0, r1, r2, []),
        (2, 1, r1, r2, []),
        (1, 2, r1, r2, []),
        (0, 0, empty, r2, []),
        (1, 1, empty, r2, []),
        (0, 0, empty, empty, [empty]),
        (0, 1, empty, empty, [empty]),
        (1, 1, empty, empty, [empty]),
    ]:
        assert not verify_consistency(old, new, a, b, proof), (old, new)


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_inclusion_edge_cases_from_vectors(verifier) -> None:
    single = leaf_hash(b"data")
    assert verifier(single, 0, 1, [], single)
    assert not verifier(single, 0, 1, [], b"")
    assert not verifier(b"", 0, 1, [], single)
    assert not verifier(b"", 0, 1, [], b"")
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not verifier(SOME_HASH, index, size, [], b"")
        assert not verifier(b"", index, size, [], EMPTY_ROOT)
        assert not verifier(SOME_HASH, index, size, [], EMPTY_ROOT)


def inclusion_probes(index: int, size: int, path: list[bytes], root: bytes, leaf: bytes):
    """The corruptions of proof/verify_test.go corruptInclusionProof: each must fail."""
    yield index - 1, size, path, root, leaf
    yield index + 1, size, path, root, leaf
    yield index ^ 2, size, path, root, leaf
    yield index, size * 2, path, root, leaf
    yield index, size // 2, path, root, leaf
    yield index, size, path, root, b"WrongLeaf"
    yield index, size, path, EMPTY_ROOT, leaf
    yield index, size, path, SOME_HASH, leaf
    yield index, size, [*path, b""], root, leaf
    yield index, size, [*path, root], root, leaf
    yield index, size, [b"", *path], root, leaf
    yield index, size, [root, *path], root, leaf
    for i in range(len(path)):
        flipped = [*path]
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        yield index, size, flipped, root, leaf
    if path:
        yield index, size, path[:-1], root, leaf
    if len(path) > 1:
        yield index, size, [path[0], SOME_HASH, *path[1:]], root, leaf


def _many_leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_every_inclusion_proof_up_to_70_leaves(verifier) -> None:
    leaves = _many_leaves(70)
    tree = MerkleTree(leaves)
    for size in range(1, 71):
        root = ref_mth(leaves[:size])
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            assert path == ref_path(index, leaves[:size])
            assert verifier(leaves[index], index, size, path, root)
            for probe in inclusion_probes(index, size, path, root, leaves[index]):
                p_index, p_size, p_path, p_root, p_leaf = probe
                if (p_index, p_size) == (index, size) and p_path == path and p_root == root and p_leaf == leaves[index]:
                    continue
                assert not verifier(p_leaf, p_index, p_size, p_path, p_root), (
                    index,
                    size,
                    probe[:2],
                )


def consistency_probes(old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes]):
    """The corruptions of proof/verify_test.go corruptConsistencyProof: each must fail."""
    yield old - 1, new, r1, r2, proof
    yield old + 1, new, r1, r2, proof
    yield old ^ 2, new, r1, r2, proof
    yield old, new * 2, r1, r2, proof
    yield old, new // 2, r1, r2, proof
    yield old, new, b"WrongRoot", r2, proof
    yield old, new, r1, b"WrongRoot", proof
    yield old, new, r2, r1, proof
    yield old, new, r1, r2, []
    yield old, new, r1, r2, [*proof, b""]
    yield old, new, r1, r2, [*proof, r1]
    yield old, new, r1, r2, [*proof, r2]
    yield old, new, r1, r2, [b"", *proof]
    yield old, new, r1, r2, [r1, *proof]
    yield old, new, r1, r2, [r2, *proof]
    yield old, new, r1, r2, [proof[0], *proof]
    yield old, new, r1, r2, proof[:-1]
    for i in range(len(proof)):
        flipped = [*proof]
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        yield old, new, r1, r2, flipped


def test_every_consistency_proof_up_to_70_leaves() -> None:
    leaves = _many_leaves(70)
    tree = MerkleTree(leaves)
    roots = [ref_mth(leaves[:n]) for n in range(71)]
    for new in range(1, 71):
        for old in range(1, new + 1):
            proof = tree.consistency_proof(old, new)
            assert proof == ref_subproof(old, leaves[:new], True)
            assert verify_consistency(old, new, roots[old], roots[new], proof)
            if old == new:
                assert proof == []
                continue
            for probe in consistency_probes(old, new, roots[old], roots[new], proof):
                assert not verify_consistency(*probe), (old, new, probe[:2])


def test_source_callable_and_sequence_agree_with_tree() -> None:
    leaves = _many_leaves(45)
    calls: list[tuple[int, int]] = []

    def get(start: int, end: int) -> list[bytes]:
        calls.append((start, end))
        return leaves[start:end]

    tree = MerkleTree.from_source(get, 45)
    assert tree.root() == ref_mth(leaves)
    for size in (1, 7, 32, 45):
        for index in (0, size // 2, size - 1):
            want = tree.inclusion_proof(index, size)
            assert inclusion_proof(leaves, index, size) == want
            assert inclusion_proof(get, index, size) == want
        for old in (1, size // 3 or 1, size - 1 or 1):
            assert consistency_proof(get, old, size) == tree.consistency_proof(old, size)
    assert all(0 <= a < b <= 45 for a, b in calls)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES, 0, 9)  # fewer leaves than the tree size
    with pytest.raises(ValueError):
        consistency_proof(LEAVES, 5, 4)
    with pytest.raises(ValueError):
        inclusion_proof(lambda a, b: LEAVES[a : b - 1], 0, 8)  # short page from the source
    assert consistency_proof(LEAVES, 0, 8) == [] == consistency_proof(LEAVES, 8, 8)
    with pytest.raises(ValueError):
        MerkleTree(LEAVES).root(9)
    with pytest.raises(ValueError):
        MerkleTree([b"short"])


def test_tree_builder_matches_reference_for_sizes_0_to_300() -> None:
    leaves = _many_leaves(300)
    builder = TreeBuilder()
    tree = MerkleTree()
    for size in range(301):
        want = ref_mth(leaves[:size]) if size <= 64 or size % 17 == 0 else tree.root()
        assert builder.root() == want == root_hash(leaves[:size]) == tree.root(), size
        assert len(builder) == size
        if size < 300:
            builder.append(leaves[size])
            tree.append(leaves[size])
    # The independent streaming root in the offline verifier agrees too.
    stream = offline.StreamingRoot()
    for leaf in leaves:
        stream.append(leaf)
    assert stream.root() == builder.root() == ref_mth(leaves)


def test_tree_builder_resumes_from_compact_range() -> None:
    leaves = _many_leaves(100)
    for cut in (0, 1, 37, 64, 99):
        first = TreeBuilder()
        first.extend(leaves[:cut])
        resumed = TreeBuilder(first.size, first.compact_range)
        resumed.extend(leaves[cut:])
        assert resumed.root() == root_hash(leaves)
        assert len(first.compact_range) == cut.bit_count()
    with pytest.raises(ValueError):
        TreeBuilder(3, [leaves[0]])


def test_module_is_standard_library_only() -> None:
    source = Path(merkle.__file__).read_text("utf-8")
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "hashlib", "hmac", "collections"}
