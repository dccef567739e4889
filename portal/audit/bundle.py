"""Writing the auditor's export bundle (contract section 9): events, checkpoint, proofs, README."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from portal.audit import verify as verifier
from portal.audit.canonical import canonical_bytes
from portal.audit.merkle import LeafSource, MerkleTree, leaf_hash

__all__ = ["README_TEXT", "build_proofs", "write_bundle"]

README_TEXT = """\
Audit trail export bundle
=========================

This zip is an extract of the portal's append-only audit trail. Every audit event is a
leaf of a Merkle tree built exactly as in RFC 6962 section 2.1 (RFC 9162 section 2.1):

    leaf_hash = SHA-256(0x00 || JCS(event))        JCS = RFC 8785 canonical JSON
    node      = SHA-256(0x01 || left || right)

Leaves are in "seq" order; seq starts at 1 with no gaps, so the event with seq n is the
RFC's leaf index n - 1.

Files
-----
audit_events.jsonl  one line per exported event: {"seq": n, "leaf_hash": "<hex>", "event": {...}}
checkpoint.json     the signed tree head: {"tree_size", "root_hash" (hex), "timestamp"
                    (ISO 8601 UTC), "key_id", "public_key" (base64 raw Ed25519),
                    "signature" (base64)}. The signature is Ed25519 over the JCS bytes of
                    the same object without "signature"; key_id is the first 16 hex
                    digits of SHA-256 over the raw public key.
proofs.json         for every exported event an RFC 6962 inclusion proof against the
                    checkpoint: {"seq", "tree_size", "path": [hex, ...]} (leaf index = seq - 1)
export.json         what was exported (filters, event count); informative, not signed
verify_bundle.py    a copy of the portal's offline verifier, for convenience

Verifying offline
-----------------
With Python 3.11+ and the "cryptography" package, and nothing else, extract
verify_bundle.py from this zip (or take it from the portal's source, where it is
portal/audit/verify.py) and run it on the zip itself:

    python verify_bundle.py THIS_BUNDLE.zip            (in the portal: python -m portal.audit.verify)
    python verify_bundle.py THIS_BUNDLE.zip --json
    python verify_bundle.py THIS_BUNDLE.zip --trusted-key <key_id the lender published>

Exit status 0 means every check passed, 1 that a check failed (the report names the first
failing seq and why), 2 that the bundle could not be read. The verifier checks the
checkpoint signature, recomputes every leaf hash from its event, checks that seqs ascend
and that each event's own "seq" matches its line, verifies every inclusion proof against
the checkpoint's root, and, when the bundle holds the whole tree (seqs 1..tree_size),
recomputes the root from all leaves.

For a check independent of the portal's own code, use your own copy of the verifier or any
RFC 6962 / RFC 9162 implementation (for example proof.VerifyInclusion of the Go module
transparency-dev/merkle): recompute each leaf hash from
the JCS bytes of "event", verify the "path" of proofs.json with leaf index seq - 1 and
tree size tree_size against root_hash, and verify the Ed25519 signature.

What this proves, and what it does not
--------------------------------------
- Each exported event is, byte for byte, the event the portal committed to in the signed
  tree of tree_size events: no field can be altered without failing the checks.
- The embedded public key proves the checkpoint is intact, not who signed it: compare
  key_id with the key the lender publishes (or pass it with --trusted-key).
- A bundle filtered by time or agency cannot by itself prove that every matching event
  was included; the full trail (an unfiltered export) can, since its root is recomputed.
- Keep checkpoint.json: a later checkpoint of the same trail can be proven to extend it
  with an RFC 9162 consistency proof.
"""


def _hex_leaf(value: bytes | str) -> str:
    text = value.hex() if isinstance(value, bytes | bytearray) else str(value).lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"not a SHA-256 leaf hash: {value!r}")
    return text


def build_proofs(tree_leaves: LeafSource, seqs: Iterable[int], tree_size: int) -> list[dict[str, Any]]:
    """Inclusion proofs (contract shape) for ``seqs`` against the tree of ``tree_size`` leaves.

    ``tree_leaves`` holds the leaf hashes of the whole tree: a sequence where item i is
    seq i + 1, or a callable ``get(start, end)`` returning those of seqs start+1..end
    (0-based half-open indexes). Leaves are read once; about 64 bytes per leaf are kept
    while proofs are built.
    """
    tree = MerkleTree.from_source(tree_leaves, tree_size)
    proofs = []
    for seq in seqs:
        path = tree.inclusion_proof(seq - 1, tree_size)
        proofs.append({"seq": seq, "tree_size": tree_size, "path": [p.hex() for p in path]})
    return proofs


def _write_events(
    zf: zipfile.ZipFile,
    events: Iterable[tuple[int, Mapping[str, Any]]],
    leaf_hash_for_seq: Callable[[int], bytes | str] | None,
    tree_size: int,
) -> list[int]:
    seqs: list[int] = []
    last = 0
    with zf.open(verifier.EVENTS_MEMBER, "w", force_zip64=True) as out:
        for seq, event in events:
            if not isinstance(seq, int) or not last < seq <= tree_size:
                raise ValueError(f"seq {seq!r} must ascend and lie within the checkpoint's 1..{tree_size}")
            last = seq
            # The stored hash goes out as is: the bundle shows what the database holds, and
            # the verifier, not the writer, decides whether it matches the event.
            stored = leaf_hash(canonical_bytes(event)) if leaf_hash_for_seq is None else leaf_hash_for_seq(seq)
            line = {"seq": seq, "leaf_hash": _hex_leaf(stored), "event": event}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
            seqs.append(seq)
    return seqs


def _write_proofs(zf: zipfile.ZipFile, proofs: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    with zf.open(verifier.PROOFS_MEMBER, "w", force_zip64=True) as out:
        out.write(b"[")
        for proof in proofs:
            out.write(b",\n" if count else b"\n")
            out.write(json.dumps(proof, separators=(",", ":")).encode("ascii"))
            count += 1
        out.write(b"\n]\n")
    return count


def write_bundle(
    out: str | os.PathLike[str] | IO[bytes],
    events: Iterable[tuple[int, Mapping[str, Any]]],
    leaf_hash_for_seq: Callable[[int], bytes | str] | None,
    checkpoint: Mapping[str, Any],
    proofs: Iterable[Mapping[str, Any]] | None = None,
    *,
    tree_leaves: LeafSource | None = None,
    filters: Mapping[str, Any] | None = None,
    include_verifier: bool = True,
) -> dict[str, Any]:
    """Write the bundle zip to a path or binary file; returns ``{"events", "proofs", "tree_size"}``.

    ``events`` yields ``(seq, event)`` in ascending seq order (streamed, not held in memory).
    ``leaf_hash_for_seq(seq)`` gives the stored leaf hash (bytes or hex); None computes it
    from the event. ``proofs`` are contract-shaped inclusion proofs against ``checkpoint``;
    when None, pass ``tree_leaves`` (all leaf hashes of the checkpoint's tree, see
    :func:`build_proofs`) and they are computed for the exported seqs. ``filters`` are
    recorded in export.json for the reader. A path is removed again if writing fails.
    """
    problem = verifier.checkpoint_problem(dict(checkpoint))
    if problem:
        raise ValueError(f"checkpoint does not verify: {problem}")
    if proofs is None and tree_leaves is None:
        raise ValueError("pass proofs, or tree_leaves to compute them")
    tree_size = int(checkpoint["tree_size"])
    is_path = isinstance(out, str | os.PathLike)
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(verifier.README_MEMBER, README_TEXT)
            zf.writestr(
                verifier.CHECKPOINT_MEMBER,
                json.dumps(dict(checkpoint), indent=2) + "\n",
            )
            seqs = _write_events(zf, events, leaf_hash_for_seq, tree_size)
            if proofs is None:
                proofs = build_proofs(tree_leaves, seqs, tree_size)  # type: ignore[arg-type]
            proof_count = _write_proofs(zf, proofs)
            manifest = {
                "format": "portal-audit-bundle/1",
                "tree_size": tree_size,
                "events": len(seqs),
                "first_seq": seqs[0] if seqs else None,
                "last_seq": seqs[-1] if seqs else None,
                "filters": dict(filters or {}),
            }
            zf.writestr(
                verifier.EXPORT_MEMBER,
                json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n",
            )
            if include_verifier:
                zf.writestr("verify_bundle.py", Path(verifier.__file__).read_text("utf-8"))
    except BaseException:
        if is_path:
            Path(out).unlink(missing_ok=True)  # type: ignore[arg-type]
        raise
    return {"events": len(seqs), "proofs": proof_count, "tree_size": tree_size}
