"""Export bundles: written by bundle.write_bundle, checked by the standalone offline verifier."""

from __future__ import annotations

import io
import itertools
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.audit import verify as offline
from portal.audit.bundle import README_TEXT, build_proofs, write_bundle
from portal.audit.canonical import canonical_bytes
from portal.audit.merkle import EMPTY_ROOT, MerkleTree, leaf_hash
from portal.audit.signing import key_id, sign_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
N_EVENTS = 40
KEY = Ed25519PrivateKey.generate()


def make_event(seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "occurred_at": f"2025-03-01T08:{seq % 60:02d}:00.000000Z",
        "actor_user_id": seq % 3 or None,
        "actor_role": "agency_agent",
        "agency_id": 1 + seq % 2,
        "source": "api",
        "ip": "203.0.113.7",
        "user_agent": None,
        "action": "upload.created",
        "object_type": "upload",
        "object_id": str(seq),
        "outcome": "success",
        "details": {
            "filename": f"催收记录_{seq}.xlsx",
            "rows": seq * 10,
            "note": 'tab\there "quoted"',
        },
    }


EVENTS = [make_event(seq) for seq in range(1, N_EVENTS + 1)]
LEAVES = [leaf_hash(canonical_bytes(e)) for e in EVENTS]
TREE = MerkleTree(LEAVES)
CHECKPOINT = sign_checkpoint(N_EVENTS, TREE.root(), datetime(2025, 3, 2, tzinfo=UTC), KEY)


def write(path: Path, seqs: list[int] | None = None, **kwargs: Any) -> Path:
    chosen = [(e["seq"], e) for e in EVENTS if seqs is None or e["seq"] in seqs]
    stored = {i + 1: leaf.hex() for i, leaf in enumerate(LEAVES)}
    write_bundle(path, chosen, stored.__getitem__, CHECKPOINT, tree_leaves=LEAVES, **kwargs)
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write(tmp_path / "audit_export.zip", filters={"until": "2025-03-02T00:00:00Z"})


_COPIES = itertools.count()


def rewrite(src: Path, member: str, change: Callable[[bytes], bytes | None]) -> Path:
    """Copy the bundle with one member transformed (None drops the member)."""
    out = src.with_name(f"tampered-{next(_COPIES)}.zip")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == member:
                data = change(data)
                if data is None:
                    continue
            zout.writestr(info.filename, data)
    return out


def edit_lines(
    change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        lines = [json.loads(line) for line in data.decode().splitlines()]
        return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in change(lines)).encode()

    return apply


def test_full_bundle_passes(bundle: Path) -> None:
    report = offline.verify_bundle(str(bundle))
    assert report["ok"], report["failures"]
    assert report["events"] == N_EVENTS and report["complete_tree"]
    assert report["tree_size"] == N_EVENTS and report["root_hash"] == TREE.root().hex()
    checks = report["checks"]
    assert checks["checkpoint_signature"]["ok"]
    assert checks["leaf_hashes"]["checked"] == N_EVENTS
    assert checks["inclusion_proofs"]["checked"] == N_EVENTS
    assert checks["full_tree_root"]["ran"] and checks["full_tree_root"]["ok"]
    assert not checks["trusted_key"]["ran"]
    assert checks["export_manifest"]["filters"] == {"until": "2025-03-02T00:00:00Z"}
    assert report["first_failure"] is None and report["first_bad_seq"] is None
    with zipfile.ZipFile(bundle) as zf:
        assert zf.read("README.txt").decode() == README_TEXT
        assert json.loads(zf.read("checkpoint.json")) == CHECKPOINT
        assert zf.read("verify_bundle.py") == Path(offline.__file__).read_bytes()
        first = json.loads(zf.read("audit_events.jsonl").decode().splitlines()[0])
        assert first == {"seq": 1, "leaf_hash": LEAVES[0].hex(), "event": EVENTS[0]}


def test_writer_computes_leaf_hashes_and_takes_given_proofs(tmp_path: Path) -> None:
    proofs = build_proofs(lambda a, b: LEAVES[a:b], [3, 5], N_EVENTS)
    path = tmp_path / "b.zip"
    write_bundle(path, [(3, EVENTS[2]), (5, EVENTS[4])], None, CHECKPOINT, proofs)
    assert offline.verify_bundle(str(path))["ok"]
    with pytest.raises(ValueError, match="ascend"):
        write_bundle(
            tmp_path / "c.zip",
            [(5, EVENTS[4]), (3, EVENTS[2])],
            None,
            CHECKPOINT,
            proofs,
        )
    assert not (tmp_path / "c.zip").exists()


def test_trusted_key(bundle: Path) -> None:
    assert offline.verify_bundle(str(bundle), trusted_keys=[key_id(KEY.public_key())])["ok"]
    assert offline.verify_bundle(str(bundle), trusted_keys=[CHECKPOINT["public_key"]])["ok"]
    report = offline.verify_bundle(str(bundle), trusted_keys=["0123456789abcdef"])
    assert not report["ok"] and report["first_failure"]["check"] == "trusted_key"


def test_edited_event_fails_naming_its_seq(bundle: Path) -> None:
    def edit(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[16]["event"]["details"]["rows"] = 1
        return lines

    report = offline.verify_bundle(str(rewrite(bundle, "audit_events.jsonl", edit_lines(edit))))
    assert not report["ok"]
    assert report["first_bad_seq"] == 17
    assert report["first_failure"]["check"] == "leaf_hashes" and report["first_failure"]["seq"] == 17
    assert not report["checks"]["full_tree_root"]["ok"]


def test_edited_event_with_recomputed_leaf_hash_fails_its_proof(bundle: Path) -> None:
    def edit(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[16]["event"]["action"] = "upload.deleted"
        lines[16]["leaf_hash"] = leaf_hash(canonical_bytes(lines[16]["event"])).hex()
        return lines

    report = offline.verify_bundle(str(rewrite(bundle, "audit_events.jsonl", edit_lines(edit))))
    assert report["first_failure"] == {
        "check": "inclusion_proofs",
        "seq": 17,
        "reason": "inclusion proof does not lead to the checkpoint root",
    }


def test_deleted_line_fails(bundle: Path) -> None:
    tampered = rewrite(bundle, "audit_events.jsonl", edit_lines(lambda lines: lines[:9] + lines[10:]))
    report = offline.verify_bundle(str(tampered))
    assert not report["ok"] and report["first_bad_seq"] == 10
    assert "no event" in report["first_failure"]["reason"]
    assert not report["complete_tree"]
    assert not report["checks"]["export_manifest"]["ok"]


def test_deleting_a_line_and_its_proof_is_visible_as_an_incomplete_tree(
    bundle: Path,
) -> None:
    # Without the signed root recomputed, a missing event is only visible as a gap:
    # the report must say the tree is incomplete (as for a filtered export).
    step = rewrite(bundle, "audit_events.jsonl", edit_lines(lambda lines: lines[:9] + lines[10:]))
    step = rewrite(
        step,
        "proofs.json",
        lambda d: json.dumps([p for p in json.loads(d) if p["seq"] != 10]).encode(),
    )
    report = offline.verify_bundle(str(rewrite(step, "export.json", lambda d: None)))
    assert report["ok"] and not report["complete_tree"]
    assert not report["checks"]["full_tree_root"]["ran"]


def test_reordered_lines_fail(bundle: Path) -> None:
    def swap(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[4], lines[5] = lines[5], lines[4]
        return lines

    report = offline.verify_bundle(str(rewrite(bundle, "audit_events.jsonl", edit_lines(swap))))
    assert not report["ok"]
    assert report["first_failure"]["check"] == "seq_order" and report["first_failure"]["seq"] == 5


def test_mismatched_event_seq_fails(bundle: Path) -> None:
    def renumber(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[2]["event"]["seq"] = 4
        return lines

    report = offline.verify_bundle(str(rewrite(bundle, "audit_events.jsonl", edit_lines(renumber))))
    assert report["first_failure"]["seq"] == 3 and "event.seq" in report["first_failure"]["reason"]


def test_wrong_signature_fails(bundle: Path) -> None:
    def resign(data: bytes) -> bytes:
        cp = json.loads(data)
        cp["signature"] = sign_checkpoint(N_EVENTS, bytes(32), datetime.now(UTC), KEY)["signature"]
        return json.dumps(cp).encode()

    report = offline.verify_bundle(str(rewrite(bundle, "checkpoint.json", resign)))
    assert not report["ok"]
    assert report["first_failure"] == {
        "check": "checkpoint_signature",
        "seq": None,
        "reason": "checkpoint signature does not verify",
    }
    # The proofs are still checked against the (unauthenticated) root and reported.
    assert report["checks"]["inclusion_proofs"]["ok"]


def test_filtered_bundle_passes_against_full_tree_checkpoint(tmp_path: Path) -> None:
    agency_two = [e["seq"] for e in EVENTS if e["agency_id"] == 2]
    path = write(tmp_path / "agency2.zip", agency_two, filters={"agency": "AG2"})
    report = offline.verify_bundle(str(path))
    assert report["ok"], report["failures"]
    assert report["events"] == len(agency_two) and not report["complete_tree"]
    assert report["checks"]["inclusion_proofs"]["checked"] == len(agency_two)
    assert not report["checks"]["full_tree_root"]["ran"]

    def corrupt(data: bytes) -> bytes:
        proofs = json.loads(data)
        proofs[3]["path"][0] = "00" * 32
        return json.dumps(proofs).encode()

    report = offline.verify_bundle(str(rewrite(path, "proofs.json", corrupt)))
    assert not report["ok"] and report["first_bad_seq"] == agency_two[3]


def test_empty_tree_bundle(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    checkpoint = sign_checkpoint(0, EMPTY_ROOT, datetime(2025, 1, 1, tzinfo=UTC), KEY)
    write_bundle(path, [], None, checkpoint, [])
    report = offline.verify_bundle(str(path))
    assert report["ok"] and report["complete_tree"] and report["events"] == 0


def test_unreadable_bundles_exit_2(tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_zip = tmp_path / "junk.zip"
    not_zip.write_bytes(b"this is not a zip")
    cases = [
        not_zip,
        tmp_path / "missing.zip",
        rewrite(bundle, "proofs.json", lambda d: None),
    ]
    for path in cases:
        assert offline.main([str(path), "--json"]) == 2
        out, err = capsys.readouterr()
        assert json.loads(out)["ok"] is False and err.count("\n") == 1
    assert offline.main([str(rewrite(bundle, "checkpoint.json", lambda d: b"{not json"))]) == 2
    dup = io.BytesIO()
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(dup, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zout.writestr("proofs.json", b"[]")
    dup.seek(0)
    with pytest.raises(offline.BundleUnreadable, match="copies"):
        offline.verify_bundle(dup)


def test_text_report(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert offline.main([str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "RESULT: PASS" in out and f"tree_size={N_EVENTS}" in out and "[  ok] full_tree_root" in out


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_cli_as_module_from_repo_root(bundle: Path) -> None:
    done = run([sys.executable, "-m", "portal.audit.verify", str(bundle), "--json"], REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    tampered = rewrite(bundle, "audit_events.jsonl", lambda d: d.replace(b'"rows":170', b'"rows":171'))
    done = run([sys.executable, "-m", "portal.audit.verify", str(tampered)], REPO_ROOT)
    assert done.returncode == 1
    assert "RESULT: FAIL" in done.stdout
    assert done.stderr.startswith("verification failed: seq 17:") and done.stderr.count("\n") == 1


MODULE_HARNESS = """
import json, runpy, sys
sys.argv = ["verify", sys.argv[1], "--json"]
try:
    runpy.run_module("portal.audit.verify", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "all": sorted({m.split(".")[0] for m in sys.modules})}), file=sys.stderr)
"""


def test_module_run_in_repo_imports_no_web_stack(bundle: Path) -> None:
    done = run([sys.executable, "-c", MODULE_HARNESS, str(bundle)], REPO_ROOT)
    outcome = json.loads(done.stderr.strip().splitlines()[-1])
    assert outcome["code"] == 0
    assert not {"flask", "sqlalchemy", "rfc8785", "werkzeug"} & set(outcome["all"])


# Runs the copied verifier as __main__ in an isolated interpreter (-I: no script folder,
# no user site, no PYTHON* variables), then lists every non-stdlib module it imported.
HARNESS = """
import json, runpy, sys
before = set(sys.modules)
sys.argv = ["verify.py", sys.argv[1], "--json"]
try:
    runpy.run_path("verify.py", run_name="__main__")
except SystemExit as exc:
    code = exc.code
loaded = {m.split(".")[0] for m in set(sys.modules) - before}
extra = sorted(loaded - set(sys.stdlib_module_names))
everything = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"code": code, "extra": extra, "all": everything}), file=sys.stderr)
"""


def test_standalone_copy_needs_only_stdlib_and_cryptography(bundle: Path, tmp_path: Path) -> None:
    alone = tmp_path / "standalone"
    alone.mkdir()
    shutil.copy(REPO_ROOT / "portal" / "audit" / "verify.py", alone / "verify.py")
    done = run([sys.executable, "-I", "-c", HARNESS, str(bundle)], alone)
    outcome = json.loads(done.stderr.strip().splitlines()[-1])
    assert outcome["code"] == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    # cryptography's own native parts show up as _openssl/_rust/_cffi_backend.
    assert set(outcome["extra"]) <= {
        "cryptography",
        "_cffi_backend",
        "cffi",
        "_openssl",
        "_rust",
    }, outcome["extra"]
    assert "cryptography" in outcome["extra"]
    assert not {"portal", "flask", "sqlalchemy", "rfc8785"} & set(outcome["all"])
    # The copy inside the bundle is the same program and runs the same way.
    with zipfile.ZipFile(bundle) as zf:
        (alone / "verify.py").write_bytes(zf.read("verify_bundle.py"))
    done = run([sys.executable, "-I", "verify.py", str(bundle)], alone)
    assert done.returncode == 0 and "RESULT: PASS" in done.stdout
