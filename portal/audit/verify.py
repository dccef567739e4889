"""Offline verifier for audit export bundles: ``python -m portal.audit.verify BUNDLE.zip [--json]``."""

# This file must keep working when copied out of the repository on its own: it imports only
# the standard library and ``cryptography`` (never Flask, SQLAlchemy, rfc8785 or its siblings),
# so its RFC 8785 serialiser and RFC 9162 checks are deliberately independent re-implementations.

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

EVENTS_MEMBER = "audit_events.jsonl"
CHECKPOINT_MEMBER = "checkpoint.json"
PROOFS_MEMBER = "proofs.json"
README_MEMBER = "README.txt"
EXPORT_MEMBER = "export.json"
CHECKPOINT_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "public_key", "signature")

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2
_MAX_LISTED_FAILURES = 100

# --------------------------------------------------------------------------- RFC 8785 (JCS)

# JSON numbers are IEEE doubles: beyond 2**53 an integer no longer has one exact spelling.
_MAX_SAFE_INT = 2**53 - 1
# Python's JSON string escaping with ensure_ascii=False is exactly ECMAScript's JSON.stringify
# (short escapes for \b \f \n \r \t \" \\, \u00xx for other C0 controls, everything else literal).
_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def _utf16_key(item: tuple[Any, Any]) -> bytes:
    key = item[0]
    if not isinstance(key, str):
        raise TypeError(f"JCS: object keys must be strings, not {type(key).__name__}")
    # RFC 8785 3.2.3 orders keys by UTF-16 code units; big-endian bytes compare the same way.
    return key.encode("utf-16-be")


def _jcs(value: Any, out: Callable[[str], None]) -> None:
    if value is None:
        out("null")
    elif isinstance(value, bool):
        out("true" if value else "false")
    elif isinstance(value, str):
        out(_encode_str(value))
    elif isinstance(value, int):
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise ValueError(f"JCS: integer {value} is beyond ±(2**53-1)")
        out(int.__repr__(value))
    elif isinstance(value, float):
        raise TypeError(f"JCS: no floats in audit events (got {value!r})")
    elif isinstance(value, dict):
        out("{")
        for i, (key, item) in enumerate(sorted(value.items(), key=_utf16_key)):
            if i:
                out(",")
            out(_encode_str(key))
            out(":")
            _jcs(item, out)
        out("}")
    elif isinstance(value, list | tuple):
        out("[")
        for i, item in enumerate(value):
            if i:
                out(",")
            _jcs(item, out)
        out("]")
    else:
        raise TypeError(f"JCS: {type(value).__name__} is not a JSON value")


def jcs_bytes(value: Any) -> bytes:
    """RFC 8785 canonical bytes of dicts, lists, str, int, bool and None; floats raise TypeError."""
    parts: list[str] = []
    try:
        _jcs(value, parts.append)
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        # Lone surrogates have no UTF-8 (nor UTF-16 ordering) form.
        raise ValueError("JCS: string is not valid Unicode (lone surrogate)") from exc


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # Different JSON readers keep different duplicates; refusing them keeps one meaning.
        raise ValueError("duplicate object key")
    return obj


def _reject_number(text: str) -> Any:
    raise ValueError(f"number {text} is not an integer (audit data holds no floats)")


def strict_json_loads(text: str | bytes) -> Any:
    """json.loads that refuses floats, NaN/Infinity and duplicate keys."""
    hooks = {"parse_float": _reject_number, "parse_constant": _reject_number}
    return json.loads(text, object_pairs_hook=_reject_duplicates, **hooks)


# --------------------------------------------------------------------------- RFC 6962 / 9162

_sha256 = hashlib.sha256
_EMPTY_ROOT = _sha256(b"").digest()


def event_leaf_hash(event: Any) -> bytes:
    """SHA-256(0x00 || JCS(event)): the contract's audit leaf hash."""
    return _sha256(b"\x00" + jcs_bytes(event)).digest()


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2 inclusion check; ``index`` is 0-based (= seq - 1)."""
    if not 0 <= index < tree_size or len(leaf_hash) != 32 or len(root) != 32:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in path:
        if sn == 0 or len(p) != 32:
            return False
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


class StreamingRoot:
    """Merkle root of leaves appended in order, keeping one hash per set bit of the count."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf_hash: bytes) -> None:
        n, h, stack = self.size, leaf_hash, self._stack
        while n & 1:
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return _EMPTY_ROOT
        r = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            r = _sha256(b"\x01" + h + r).digest()
        return r


# --------------------------------------------------------------------------- checkpoint

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def key_id_for(raw_public_key: bytes) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def _b64(value: Any, size: int, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if len(raw) != size:
        raise ValueError(f"{what} decodes to {len(raw)} bytes, not {size}")
    return raw


def checkpoint_problem(checkpoint: Any) -> str | None:
    """Why the checkpoint is malformed or its Ed25519 signature is wrong; None when it verifies."""
    # Imported here so the JCS half of this module works without cryptography.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(checkpoint, dict):
        return "checkpoint is not a JSON object"
    missing = [f for f in CHECKPOINT_FIELDS if f not in checkpoint]
    if missing:
        return f"checkpoint lacks {', '.join(missing)}"
    size = checkpoint["tree_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return "checkpoint tree_size is not a non-negative integer"
    if not _is_hex64(checkpoint["root_hash"]):
        return "checkpoint root_hash is not 64 lowercase hex digits"
    stamp = checkpoint["timestamp"]
    try:
        parsed = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() != timedelta(0):
        return "checkpoint timestamp is not an ISO 8601 UTC time"
    try:
        raw_key = _b64(checkpoint["public_key"], 32, "checkpoint public_key")
        signature = _b64(checkpoint["signature"], 64, "checkpoint signature")
    except (TypeError, ValueError) as exc:
        return str(exc)
    if checkpoint["key_id"] != key_id_for(raw_key):
        return "checkpoint key_id does not match its public_key"
    unsigned = {k: v for k, v in checkpoint.items() if k != "signature"}
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw_key)
        public_key.verify(signature, jcs_bytes(unsigned))
    except InvalidSignature:
        return "checkpoint signature does not verify"
    except (TypeError, ValueError) as exc:
        return f"checkpoint cannot be canonicalised: {exc}"
    return None


# --------------------------------------------------------------------------- receipts

RECEIPT_FORMAT = "portal-audit-receipt/1"


def receipt_problem(receipt: Any, *, trusted_keys: Iterable[str] = ()) -> str | None:
    """Why an audit receipt does not prove its event; None when it does.

    A receipt is ``{"format", "seq", "leaf_hash", "event" (optional), "checkpoint", "proof"}``:
    the signed checkpoint must verify (and, given ``trusted_keys``, be signed by one of them,
    named by key id or base64 public key), the event, when present, must hash to ``leaf_hash``
    and carry the same seq, and the inclusion proof must lead from ``leaf_hash`` at leaf index
    seq - 1 to the checkpoint's root.
    """
    if not isinstance(receipt, dict):
        return "receipt is not a JSON object"
    if receipt.get("format") != RECEIPT_FORMAT:
        return f"receipt format is not {RECEIPT_FORMAT}"
    seq, stored, checkpoint, proof = (receipt.get(k) for k in ("seq", "leaf_hash", "checkpoint", "proof"))
    if type(seq) is not int or seq < 1:
        return "receipt seq is not a positive integer"
    if not _is_hex64(stored):
        return "receipt leaf_hash is not 64 lowercase hex digits"
    problem = checkpoint_problem(checkpoint)
    if problem:
        return problem
    trusted = {k.strip() for k in trusted_keys if k.strip()}
    if trusted and checkpoint["key_id"] not in trusted and checkpoint["public_key"] not in trusted:
        return "checkpoint is not signed by a trusted key"
    if "event" in receipt:
        event = receipt["event"]
        if not isinstance(event, dict) or event.get("seq") != seq:
            return "receipt event does not carry the receipt's seq"
        try:
            if event_leaf_hash(event).hex() != stored:
                return "receipt event does not hash to leaf_hash"
        except (TypeError, ValueError) as exc:
            return f"receipt event cannot be canonicalised: {exc}"
    if not isinstance(proof, dict) or proof.get("seq") != seq:
        return "receipt proof is not for the receipt's seq"
    problem = _proof_problem(
        proof, seq, bytes.fromhex(stored), checkpoint["tree_size"], bytes.fromhex(checkpoint["root_hash"])
    )
    return problem or None


def verify_receipt(receipt: Any, *, trusted_keys: Iterable[str] = ()) -> bool:
    """True when the receipt proves that its event is in the portal's signed audit tree."""
    return receipt_problem(receipt, trusted_keys=trusted_keys) is None


# --------------------------------------------------------------------------- bundle


class BundleUnreadable(Exception):
    """The bundle is not a zip, lacks a required member, or a member is not JSON."""


class _Report:
    def __init__(self, bundle: str) -> None:
        self.bundle = bundle
        self.failures: list[dict[str, Any]] = []
        self.failure_count = 0
        self.checks: dict[str, dict[str, Any]] = {}
        self.info: dict[str, Any] = {}

    def fail(self, check: str, seq: int | None, reason: str) -> None:
        self.failure_count += 1
        entry = self.checks.setdefault(check, {"ran": True, "checked": 0, "failed": 0})
        entry["failed"] += 1
        if len(self.failures) < _MAX_LISTED_FAILURES:
            self.failures.append({"check": check, "seq": seq, "reason": reason})

    def ran(self, check: str, checked: int = 0, **detail: Any) -> None:
        entry = self.checks.setdefault(check, {"ran": True, "checked": 0, "failed": 0})
        entry["ran"] = True
        entry["checked"] += checked
        entry.update(detail)

    def skipped(self, check: str, why: str) -> None:
        self.checks[check] = {"ran": False, "checked": 0, "failed": 0, "why_not": why}

    def as_dict(self) -> dict[str, Any]:
        for entry in self.checks.values():
            entry["ok"] = entry["ran"] and entry["failed"] == 0
        bad_seqs = [f["seq"] for f in self.failures if f["seq"] is not None]
        return {
            "ok": self.failure_count == 0,
            "bundle": self.bundle,
            **self.info,
            "checks": self.checks,
            "first_failure": self.failures[0] if self.failures else None,
            "first_bad_seq": min(bad_seqs) if bad_seqs else None,
            "failures_total": self.failure_count,
            "failures": self.failures,
        }


def _read_json_member(zf: zipfile.ZipFile, name: str) -> Any:
    try:
        return strict_json_loads(zf.read(name).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleUnreadable(f"{name} is not valid JSON: {exc}") from exc


def _index_proofs(proofs: Any, report: _Report) -> dict[int, Any]:
    if not isinstance(proofs, list):
        raise BundleUnreadable(f"{PROOFS_MEMBER} is not a JSON list")
    by_seq: dict[int, Any] = {}
    for i, entry in enumerate(proofs):
        seq = entry.get("seq") if isinstance(entry, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool):
            report.fail("inclusion_proofs", None, f"proofs.json item {i} has no seq")
        elif seq in by_seq:
            report.fail("inclusion_proofs", seq, "more than one proof for this seq")
        else:
            by_seq[seq] = entry
    return by_seq


def _proof_problem(entry: Any, seq: int, leaf: bytes, size: int, root: bytes) -> str:
    if entry.get("tree_size") != size:
        return f"proof is for tree_size {entry.get('tree_size')!r}, not {size}"
    path = entry.get("path")
    if not isinstance(path, list) or not all(_is_hex64(p) for p in path):
        return "proof path is not a list of 64-hex-digit hashes"
    if not verify_inclusion(leaf, seq - 1, size, [bytes.fromhex(p) for p in path], root):
        return "inclusion proof does not lead to the checkpoint root"
    return ""


def _parse_line(raw: bytes) -> tuple[int, str, dict[str, Any]]:
    record = strict_json_loads(raw.decode("utf-8"))
    if not isinstance(record, dict) or set(record) != {"seq", "leaf_hash", "event"}:
        raise ValueError('line is not {"seq", "leaf_hash", "event"}')
    seq, stored, event = record["seq"], record["leaf_hash"], record["event"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("seq is not a positive integer")
    if not _is_hex64(stored):
        raise ValueError("leaf_hash is not 64 lowercase hex digits")
    if not isinstance(event, dict):
        raise TypeError("event is not a JSON object")
    return seq, stored, event


def _check_events(zf: zipfile.ZipFile, report: _Report, size: int, root: bytes, proofs: dict[int, Any]) -> None:
    fail = report.fail
    builder = StreamingRoot()
    in_order = True  # the lines so far are exactly seqs 1, 2, 3, ...
    events = proofs_checked = last_seq = 0
    first_seq: int | None = None
    with zf.open(EVENTS_MEMBER) as stream:
        for line_no, raw in enumerate(stream, 1):
            if not raw.strip():
                continue
            try:
                seq, stored, event = _parse_line(raw)
            except (UnicodeDecodeError, TypeError, ValueError) as exc:
                fail("events", None, f"{EVENTS_MEMBER} line {line_no}: {exc}")
                in_order = False
                continue
            events += 1
            first_seq = seq if first_seq is None else first_seq
            if seq <= last_seq:
                fail("seq_order", seq, f"line {line_no}: seq {seq} follows seq {last_seq}")
            if seq > size:
                fail("events", seq, f"seq {seq} is beyond the checkpoint's tree_size")
            if event.get("seq") != seq:
                fail("events", seq, f"event.seq is {event.get('seq')!r}, line says {seq}")
            try:
                leaf = event_leaf_hash(event)
            except (TypeError, ValueError) as exc:
                fail("leaf_hashes", seq, f"event cannot be canonicalised: {exc}")
                leaf = bytes.fromhex(stored)
            else:
                if leaf.hex() != stored:
                    fail("leaf_hashes", seq, f"leaf_hash {stored} != {leaf.hex()} recomputed")
            entry = proofs.pop(seq, None)
            if entry is None:
                fail("inclusion_proofs", seq, "no inclusion proof for this event")
            elif seq <= size:
                proofs_checked += 1
                problem = _proof_problem(entry, seq, leaf, size, root)
                if problem:
                    fail("inclusion_proofs", seq, problem)
            if in_order and seq == builder.size + 1:
                builder.append(leaf)
            else:
                in_order = False
            last_seq = max(last_seq, seq)
    for check in ("events", "seq_order", "leaf_hashes"):
        report.ran(check, events)
    report.ran("inclusion_proofs", proofs_checked)
    for seq in sorted(proofs):
        fail("inclusion_proofs", seq, "proof for a seq that has no event in the bundle")
    complete = in_order and builder.size == size
    info = {"events": events, "first_seq": first_seq, "last_seq": last_seq or None}
    report.info.update(info, complete_tree=complete)
    if not complete:
        why = "the bundle does not hold every seq 1..tree_size in order (filtered)"
        report.skipped("full_tree_root", why)
        return
    report.ran("full_tree_root", builder.size)
    if not hmac.compare_digest(builder.root(), root):
        fail("full_tree_root", None, "root recomputed from all leaves != root_hash")


def _open_bundle(source: str | IO[bytes]) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise BundleUnreadable(f"cannot open bundle as a zip file: {exc}") from exc
    names = zf.namelist()
    for name in (EVENTS_MEMBER, CHECKPOINT_MEMBER, PROOFS_MEMBER):
        count = names.count(name)
        if count != 1:
            zf.close()
            raise BundleUnreadable(f"bundle holds {count} copies of {name}, not one")
    return zf


def _has_usable_tree(checkpoint: Any) -> bool:
    """tree_size and root_hash are usable even when the signature over them is not."""
    if not isinstance(checkpoint, dict):
        return False
    size, root = checkpoint.get("tree_size"), checkpoint.get("root_hash")
    # type() rather than isinstance(): bool is an int subclass.
    return type(size) is int and size >= 0 and _is_hex64(root)


def verify_bundle(source: str | IO[bytes], *, trusted_keys: Iterable[str] = ()) -> dict[str, Any]:
    """Check a bundle and return the report (``report["ok"]``); raise BundleUnreadable.

    ``trusted_keys`` are key ids or base64 public keys obtained out of band: the checkpoint's
    own embedded key only proves integrity, a trusted key also proves who signed.
    """
    report = _Report(getattr(source, "name", None) or str(source))
    with _open_bundle(source) as zf:
        checkpoint = _read_json_member(zf, CHECKPOINT_MEMBER)
        proofs = _index_proofs(_read_json_member(zf, PROOFS_MEMBER), report)
        has_manifest = EXPORT_MEMBER in zf.namelist()
        manifest = _read_json_member(zf, EXPORT_MEMBER) if has_manifest else None
        if isinstance(checkpoint, dict):
            shown = ("tree_size", "root_hash", "timestamp", "key_id")
            report.info.update({f: checkpoint.get(f) for f in shown})
        report.ran("checkpoint_signature", 1)
        problem = checkpoint_problem(checkpoint)
        if problem:
            report.fail("checkpoint_signature", None, problem)
        _check_trusted_key(report, checkpoint, trusted_keys)
        if _has_usable_tree(checkpoint):
            root = bytes.fromhex(checkpoint["root_hash"])
            _check_events(zf, report, checkpoint["tree_size"], root, proofs)
        else:
            for check in ("events", "seq_order", "leaf_hashes", "inclusion_proofs", "full_tree_root"):
                report.skipped(check, "checkpoint has no usable tree_size/root_hash")
        if isinstance(manifest, dict):
            report.ran("export_manifest", 1, filters=manifest.get("filters"))
            announced, got = manifest.get("events"), report.info.get("events")
            if announced is not None and announced != got:
                reason = f"export.json announces {announced} events, bundle has {got}"
                report.fail("export_manifest", None, reason)
    return report.as_dict()


def _check_trusted_key(report: _Report, checkpoint: Any, trusted_keys: Iterable[str]) -> None:
    trusted = {k.strip() for k in trusted_keys if k.strip()}
    if not trusted or not isinstance(checkpoint, dict):
        report.skipped("trusted_key", "no --trusted-key: signer taken from the bundle")
        return
    report.ran("trusted_key", 1)
    # checkpoint_problem binds key_id to public_key, so either may be the trusted value.
    named = {checkpoint.get("key_id"), checkpoint.get("public_key")}
    if not any(isinstance(v, str) and v in trusted for v in named):
        report.fail("trusted_key", None, "checkpoint is not signed by a trusted key")


def format_text(report: dict[str, Any]) -> str:
    lines = [f"Bundle: {report['bundle']}"]
    if report.get("root_hash"):
        cp = " ".join(f"{k}={report.get(k)}" for k in CHECKPOINT_FIELDS[:4])
        lines.append(f"Checkpoint: {cp}")
    if "events" in report:
        span = f"seq {report['first_seq']}..{report['last_seq']}" if report["events"] else "none"
        whole = "the whole tree" if report["complete_tree"] else "part of the tree"
        lines.append(f"Events: {report['events']} ({span}; {whole})")
    for name, check in report["checks"].items():
        if not check["ran"]:
            lines.append(f"  [skip] {name}: {check.get('why_not', '')}")
        else:
            mark = "ok" if check["ok"] else "FAIL"
            counts = f"{check['checked']} checked, {check['failed']} failed"
            lines.append(f"  [{mark:>4}] {name}: {counts}")
    first = report["first_failure"]
    if first:
        where = f"seq {first['seq']}" if first["seq"] is not None else "bundle"
        lines.append(f"First failure: {where} ({first['check']}): {first['reason']}")
        lines.append(f"Failures: {report['failures_total']}")
    lines.append("RESULT: " + ("PASS" if report["ok"] else "FAIL"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal.audit.verify",
        description="Verify an audit export bundle offline (exit 0 pass, 1 fail, 2 unreadable).",
    )
    parser.add_argument("bundle", help="the export zip")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    trusted_help = "key_id or base64 public key the lender published (repeatable)"
    parser.add_argument("--trusted-key", action="append", default=[], metavar="KEY", help=trusted_help)
    args = parser.parse_args(argv)
    try:
        report = verify_bundle(args.bundle, trusted_keys=args.trusted_key)
    except BundleUnreadable as exc:
        if args.json:
            error = {"ok": False, "bundle": args.bundle, "error": str(exc)}
            print(json.dumps(error, ensure_ascii=False))
        print(f"unreadable bundle: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_text(report))
    if not report["ok"]:
        first = report["first_failure"]
        where = f"seq {first['seq']}: " if first["seq"] is not None else ""
        print(f"verification failed: {where}{first['reason']}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
