"""Audit trail benchmark: appends per second under concurrent writers, and verifying a million events.

1. Appends: 1, 4 and 8 writer processes (like gunicorn or RQ workers, each with its own
   connection) call ``record_event`` and commit, one event per transaction, for a fixed time;
   automatic checkpoints (every 1000 events) included. Afterwards seqs must be 1..N gap-free.
2. Verification: the trail is grown to ``--events`` (default 1M) by bulk-loading events whose
   canonical bytes and leaf hashes are made exactly as ``record_event`` makes them, with a
   signed checkpoint every 1000 events; then ``verify_trail()`` is timed next to hashlib alone
   on the same canonical bytes (already in memory): SHA-256 of every leaf, and SHA-256 of every
   leaf plus the tree's interior nodes. Target: verification within 3x of hashlib.
3. For scale: an inclusion proof and a receipt against the 1M-event tree.

    .venv/bin/python bench/audit.py                          # fresh database portal_bench_audit
    .venv/bin/python bench/audit.py --events 200000 --seconds 3 --writers 1,4
    .venv/bin/python bench/audit.py --full                   # also time verify --full (JCS per event)

Results go to ``bench/results/audit.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import rfc8785
from sqlalchemy import make_url

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "audit.json"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB_NAME = "portal_bench_audit"
CHECKPOINT_EVERY = 1000
COPY_COLUMNS = (
    "seq, occurred_at, actor_user_id, actor_role, agency_id, source, ip, user_agent, action, "
    "object_type, object_id, outcome, details, leaf_hash, canonical"
)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlalchemy_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def fresh_database(server_url: str, name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"bad database name {name!r}")
    with psycopg.connect(_dsn(server_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def build_app(database_url: str, instance: str):
    os.environ["PORTAL_INSTANCE_PATH"] = instance
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(database_url),
            "TESTING": True,
            "PORTAL_AUDIT_CHECKPOINT_EVERY": CHECKPOINT_EVERY,
        }
    )


# --- appends ----------------------------------------------------------------------------------


def _writer(database_url: str, instance: str, writer: int, seconds: float, barrier, results) -> None:
    app = build_app(database_url, instance)
    from portal.audit.services import record_event
    from portal.audit.tags import AuditTag
    from portal.extensions import db
    from portal.security import Actor

    with app.app_context():
        actor = Actor(user_id=writer + 1, role=None, agency_id=1 + writer % 2, ip="203.0.113.9", source="api")
        db.session.execute(db.text("SELECT 1"))  # connect before the clock starts
        db.session.commit()
        barrier.wait()
        began = time.perf_counter()
        deadline = began + seconds
        count = 0
        while time.perf_counter() < deadline:
            record_event(
                actor=actor,
                action=AuditTag.CASE_PII_VIEW,
                object_type="case",
                object_id=count,
                details={"case_ref": f"ZY{count:09d}", "phones_in_full": True},
            )
            db.session.commit()
            count += 1
        elapsed = time.perf_counter() - began
        db.engine.dispose()
    results.put((count, elapsed))


def bench_appends(database_url: str, instance: str, writers: list[int], seconds: float) -> list[dict[str, Any]]:
    spawn = multiprocessing.get_context("spawn")
    rows = []
    for count in writers:
        barrier, results = spawn.Barrier(count + 1), spawn.Queue()
        procs = [
            spawn.Process(target=_writer, args=(database_url, instance, w, seconds, barrier, results))
            for w in range(count)
        ]
        for p in procs:
            p.start()
        barrier.wait(timeout=120)  # every writer has imported and connected
        reports = [results.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        total = sum(count for count, _ in reports)
        elapsed = max(seconds for _, seconds in reports)  # from the common start to the last commit
        rows.append(
            {"writers": count, "events": total, "seconds": round(elapsed, 2), "per_second": round(total / elapsed)}
        )
        print(f"appends, {count} writer(s): {total} events in {elapsed:.1f} s = {total / elapsed:,.0f}/s", flush=True)
    with psycopg.connect(_dsn(database_url)) as conn:
        n, top = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM audit_events").fetchone()
        cps = conn.execute("SELECT count(*) FROM audit_checkpoints").fetchone()[0]
    if n != top:
        raise SystemExit(f"seqs are not gap-free: {n} events, max seq {top}")
    print(f"  gap-free: seqs 1..{top}; {cps} automatic checkpoints", flush=True)
    return rows


# --- bulk load --------------------------------------------------------------------------------

ACTIONS = [
    ("case:personal_data:view", "case", lambda i: {"case_ref": f"ZY{i % 300000:09d}", "phones_in_full": i % 3 == 0}),
    (
        "upload:file:receive",
        "upload",
        lambda i: {"filename": f"催收记录_{i}.csv", "kind": "contacts", "size": 1000 + i},
    ),
    ("case:placement:create", "case", lambda i: {"case_ref": f"ZY{i:09d}", "agency": "ZC", "batch": f"b{i // 500}"}),
    ("account:login:success", "user", lambda i: {}),
    ("case:case:update", "case", lambda i: {"changed": {"days_past_due": [i % 90, i % 90 + 1]}, "fields": ["phones"]}),
]


def _event(seq: int, when: datetime) -> dict[str, Any]:
    action, object_type, details = ACTIONS[seq % len(ACTIONS)]
    return {
        "seq": seq,
        "occurred_at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_user_id": 1 + seq % 40,
        "actor_role": "agency_agent",
        "agency_id": 1 + seq % 10,
        "source": "web",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        "action": action,
        "object_type": object_type,
        "object_id": str(seq % 300000),
        "outcome": "success",
        "details": details(seq),
    }


def bulk_load(database_url: str, target: int, key) -> dict[str, Any]:
    """Grow the trail to ``target`` events by COPY; a signed checkpoint every CHECKPOINT_EVERY events."""
    from portal.audit.merkle import TreeBuilder
    from portal.audit.signing import sign_checkpoint

    began = time.perf_counter()
    with psycopg.connect(_dsn(database_url)) as conn:
        start = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()[0]
        leaves = [bytes.fromhex(h) for (h,) in conn.execute("SELECT leaf_hash FROM audit_events ORDER BY seq")]
        have = {s for (s,) in conn.execute("SELECT tree_size FROM audit_checkpoints")}
        builder = TreeBuilder()
        checkpoints = []
        for leaf in leaves:
            builder.append(leaf)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        with conn.cursor() as cur, cur.copy(f"COPY audit_events ({COPY_COLUMNS}) FROM STDIN") as copy:
            for seq in range(start + 1, target + 1):
                event = _event(seq, base + timedelta(seconds=seq * 3))
                canonical = rfc8785.dumps(event)
                leaf = hashlib.sha256(b"\x00" + canonical).digest()
                builder.append(leaf)
                copy.write_row(
                    (
                        seq, event["occurred_at"], event["actor_user_id"], event["actor_role"], event["agency_id"],
                        event["source"], event["ip"], event["user_agent"], event["action"], event["object_type"],
                        event["object_id"], event["outcome"], rfc8785.dumps(event["details"]).decode(),
                        leaf.hex(), canonical.decode(),
                    )
                )  # fmt: skip
                if seq % CHECKPOINT_EVERY == 0 and seq not in have:
                    signed = sign_checkpoint(seq, builder.root(), datetime.now(UTC).replace(microsecond=0), key)
                    compact = " ".join(h.hex() for h in builder.compact_range)
                    checkpoints.append((seq, signed, compact))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, key_id, public_key, signature, "
                "compact_range) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (s, c["root_hash"], c["timestamp"], c["key_id"], c["public_key"], c["signature"], r)
                    for s, c, r in checkpoints
                ],
            )
        conn.commit()
        conn.execute("ANALYZE audit_events")
    elapsed = time.perf_counter() - began
    print(f"bulk load: {target - start:,} events and {len(checkpoints)} checkpoints in {elapsed:.0f} s", flush=True)
    return {"loaded": target - start, "checkpoints": len(checkpoints), "seconds": round(elapsed, 1)}


# --- verification -----------------------------------------------------------------------------


def _best(fn, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - began)
    return best, result


def bench_verify(app, database_url: str, repeat: int, full: bool) -> dict[str, Any]:
    from portal.audit.integrity import verify_trail
    from portal.audit.merkle import TreeBuilder
    from portal.extensions import db

    with psycopg.connect(_dsn(database_url)) as conn:
        data = [c.encode() for (c,) in conn.execute("SELECT canonical FROM audit_events ORDER BY seq")]
    size = sum(len(d) for d in data)

    def leaves_only():
        sha = hashlib.sha256
        return [sha(b"\x00" + d).digest() for d in data]

    def leaves_and_tree():
        builder = TreeBuilder()
        builder.extend(hashlib.sha256(b"\x00" + d).digest() for d in data)
        return builder.root()

    def read_and_hash():
        """The floor for any verifier in this process: stream the bytes out of PostgreSQL and hash them."""
        from portal.audit.integrity import _leaf_chunks

        with app.app_context():
            count = sum(len(chunk) for chunk in _leaf_chunks(db.session(), len(data)))
            db.session.remove()
        return count

    def verify():
        with app.app_context():
            report = verify_trail()
            db.session.remove()
        return report

    t_leaves, _ = _best(leaves_only, repeat)
    t_tree, root = _best(leaves_and_tree, repeat)
    t_read, _ = _best(read_and_hash, repeat)
    t_verify, report = _best(verify, repeat)
    if not report.ok or report.root != root.hex():
        raise SystemExit("verification failed on the benchmark trail: " + "; ".join(report.describe()[-3:]))
    result = {
        "events": report.events,
        "canonical_bytes": size,
        "checkpoints_checked": report.checkpoints,
        "hashlib_leaves_s": round(t_leaves, 3),
        "hashlib_leaves_and_tree_s": round(t_tree, 3),
        "read_and_hash_s": round(t_read, 3),
        "verify_s": round(t_verify, 3),
        "ratio_to_leaves": round(t_verify / t_leaves, 2),
        "ratio_to_leaves_and_tree": round(t_verify / t_tree, 2),
        "ratio_to_read_and_hash": round(t_verify / t_read, 2),
    }
    print(
        f"verify {report.events:,} events ({size / 1e6:.0f} MB canonical, {report.checkpoints} checkpoints): "
        f"{t_verify:.2f} s; hashlib alone {t_leaves:.2f} s (leaves), {t_tree:.2f} s (leaves + tree): "
        f"{t_verify / t_leaves:.1f}x / {t_verify / t_tree:.1f}x; reading the bytes from PostgreSQL and hashing "
        f"them takes {t_read:.2f} s ({t_verify / t_read:.1f}x)",
        flush=True,
    )
    # The share of verify_trail spent comparing the columns with the canonical bytes, in PostgreSQL.
    from portal.audit.integrity import _PG_COLUMN_MISMATCHES

    with app.app_context():
        began = time.perf_counter()
        db.session.execute(_PG_COLUMN_MISMATCHES, {"last": report.events}).one()
        result["column_check_s"] = round(time.perf_counter() - began, 3)
        db.session.remove()
    print(f"  of which the columns check in PostgreSQL: {result['column_check_s']:.2f} s", flush=True)
    if full:
        t_full, full_report = _best(lambda: _verify_full(app), 1)
        result["verify_full_s"] = round(t_full, 2)
        print(
            f"verify --full (RFC 8785 re-serialisation of every event): {t_full:.1f} s ok={full_report.ok}", flush=True
        )
    return result


def _verify_full(app):
    from portal.audit.integrity import verify_trail
    from portal.extensions import db

    with app.app_context():
        report = verify_trail(full=True)
        db.session.remove()
    return report


def bench_proofs(app, size: int) -> dict[str, Any]:
    """The first proof in a process reads every leaf once (the subtree cache); later ones read a few hundred."""
    from portal.audit.integrity import inclusion
    from portal.audit.receipts import receipt_for, verify_receipt
    from portal.extensions import db

    with app.app_context():
        began = time.perf_counter()
        proof = inclusion(size // 2, size)
        t_cold = time.perf_counter() - began
        t_warm, _ = _best(lambda: inclusion(size // 2 + 1234, size), 5)
        began = time.perf_counter()
        receipt = receipt_for(size // 3)
        t_receipt = time.perf_counter() - began
        assert verify_receipt(receipt)
        db.session.remove()
    print(
        f"inclusion proof in a tree of {size:,} ({len(proof['inclusion_path'])} hashes): first in the process "
        f"{t_cold:.2f} s (builds the subtree cache), then {t_warm * 1000:.1f} ms; a receipt {t_receipt * 1000:.1f} ms",
        flush=True,
    )
    return {
        "inclusion_first_s": round(t_cold, 2),
        "inclusion_ms": round(t_warm * 1000, 1),
        "receipt_ms": round(t_receipt * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL (any database on it)")
    parser.add_argument("--db", default=DEFAULT_DB_NAME, help="database to (re)create")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each append run")
    parser.add_argument("--writers", default="1,4,8")
    parser.add_argument("--repeat", type=int, default=3, help="verification runs (the best counts)")
    parser.add_argument("--full", action="store_true", help="also time verify --full")
    args = parser.parse_args()

    database_url = fresh_database(args.server, args.db)
    workdir = tempfile.mkdtemp(prefix="portal-bench-audit-")
    instance = str(Path(workdir) / "instance")
    app = build_app(database_url, instance)
    from portal.audit.checkpoints import signing_key
    from portal.extensions import db

    with app.app_context():
        db.create_all()
        key = signing_key()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    with psycopg.connect(_dsn(database_url)) as conn:
        results["machine"]["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    results["appends"] = bench_appends(database_url, instance, [int(w) for w in args.writers.split(",")], args.seconds)
    results["bulk_load"] = bulk_load(database_url, args.events, key)
    results["verify"] = bench_verify(app, database_url, args.repeat, args.full)
    results["proofs"] = bench_proofs(app, args.events)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
