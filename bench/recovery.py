"""Benchmark: how long an upload takes to finish by itself after its RQ work-horse is killed (kill -9).

    .venv/bin/python bench/recovery.py                     # 200,000 rows, the default job settings
    .venv/bin/python bench/recovery.py --settings test     # lease 6 s, heartbeat 1 s, reap every 2 s
    .venv/bin/python bench/recovery.py --rows 50000 --kill-at 10000

Needs PostgreSQL (as `postgres` on 127.0.0.1:5432) and Redis (`--redis-url`). It **drops and
recreates the database `portal_bench_recovery`**, seeds one agency with 200 placed cases through
the portal's commands, submits a file of N contact rows, starts `flask worker`, kills the
work-horse with SIGKILL once it has read `--kill-at` rows, stops that worker, starts a fresh one
and waits. It prints the seconds from the kill until the upload is claimed again and until it is
`completed`, and checks that every row is stored exactly once (the contacts table against the
upload's counts). The exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "portal_bench_recovery"
CASES = 200
SETTINGS = {
    # The shipped defaults (portal/config.py) and the fault tests' (tests/uploads/test_faults.py).
    "default": {
        "PORTAL_UPLOAD_LEASE_SECONDS": "60",
        "PORTAL_UPLOAD_HEARTBEAT_SECONDS": "10",
        "PORTAL_UPLOAD_REAP_SECONDS": "30",
    },
    "test": {
        "PORTAL_UPLOAD_LEASE_SECONDS": "6",
        "PORTAL_UPLOAD_HEARTBEAT_SECONDS": "1",
        "PORTAL_UPLOAD_REAP_SECONDS": "2",
    },
}


def flask(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True, capture_output=True)


def seed(env: dict[str, str], workdir: Path) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    flask(env, "db", "upgrade")
    flask(env, "agencies", "create", "BX", "--name", "Bench agency")
    from portal.cases.importing import CASE_COLUMNS

    cases = workdir / "cases.csv"
    with cases.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CASE_COLUMNS)
        for n in range(CASES):
            identity = [f"BX{n:08d}", f"L{n:08d}", f"C{n:08d}", "王五", "110101199001011234", f"13{n:09d}:debtor"]
            writer.writerow([*identity, "", "", "personal_loan", "1000.00", "900.00", "CNY", 45, ""])
    flask(env, "cases", "import", str(cases))
    placements = workdir / "placements.csv"
    placements.write_text(
        "case_ref,agency,placed_at,expires_at\n"
        + "".join(f"BX{n:08d},BX,2026-01-01T00:00:00+08:00,2027-12-31T00:00:00+08:00\n" for n in range(CASES))
    )
    flask(env, "cases", "place", str(placements))


def contacts(rows: int) -> bytes:
    from portal.plugins.records import CONTACT_FIELDS

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CONTACT_FIELDS)
    start = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    for n in range(rows):
        case = n % CASES
        moment = (start + timedelta(seconds=n * 20)).strftime("%Y-%m-%d %H:%M:%S")
        writer.writerow(
            [f"BX{case:08d}", moment, "call", "debtor", f"13{case:09d}", "no_answer"]
            + [""] * 4
            + [f"C{n % 50:03d}", "", ""]
        )
    return out.getvalue().encode()


def submit(data: bytes) -> int:
    """Submit and enqueue through the one pipeline, in this process (the environment names the database)."""
    from portal import create_app
    from portal.security import Actor
    from portal.uploads.jobs import dispatch_upload
    from portal.uploads.services import submit_upload

    app = create_app()
    with app.app_context():
        submission = submit_upload(
            actor=Actor.system(source="bench"),
            kind="contacts",
            stream=io.BytesIO(data),
            filename="bench.csv",
            agency_code="BX",
        )
        assert dispatch_upload(submission.upload.id) == "queued"
        return submission.upload.id


def upload_row(conn: psycopg.Connection, upload_id: int) -> dict:
    cursor = conn.execute(
        "SELECT status, attempts, lease_owner, rows_processed, rows_total, rows_accepted, rows_rejected, rows_duplicate"
        " FROM uploads WHERE id = %s",
        [upload_id],
    )
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def wait(conn: psycopg.Connection, upload_id: int, done, timeout: float) -> tuple[dict, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = upload_row(conn, upload_id)
        if done(row):
            return row, time.monotonic()
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout} s: {upload_row(conn, upload_id)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--kill-at", type=int, default=40_000, help="kill the work-horse once it has read this many rows"
    )
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="default")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    queue = f"bench-recovery-{uuid.uuid4().hex[:8]}"
    env = dict(
        os.environ,
        PORTAL_DATABASE_URL=f"{SERVER}/{DATABASE}",
        PORTAL_REDIS_URL=args.redis_url,
        PORTAL_UPLOAD_QUEUE=queue,
        PORTAL_INSTANCE_PATH=str(workdir / "instance"),
        PORTAL_STORAGE_DIR=str(workdir / "files"),
        **SETTINGS[args.settings],
    )
    env.pop("FLASK_APP", None)
    os.environ.update(env)
    seed(env, workdir)
    upload_id = submit(contacts(args.rows))

    workers: list[subprocess.Popen] = []

    def worker() -> subprocess.Popen:
        log = (workdir / f"worker-{len(workers)}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)
        log.close()
        workers.append(process)
        return process

    conn = psycopg.connect(env["PORTAL_DATABASE_URL"], autocommit=True)
    try:
        first = worker()
        busy, _ = wait(
            conn, upload_id, lambda r: r["status"] == "processing" and r["rows_processed"] >= args.kill_at, 600
        )
        horse = int(busy["lease_owner"].split(":")[1])
        os.kill(horse, signal.SIGKILL)
        killed = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        worker()
        _, claimed_at = wait(conn, upload_id, lambda r: r["attempts"] >= 2, args.timeout)
        done, done_at = wait(conn, upload_id, lambda r: r["status"] in ("completed", "rejected"), args.timeout)
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (case_id, contacted_at, collector_id)) FROM contacts WHERE upload_id = %s",
            [upload_id],
        ).fetchone()
        everywhere = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    finally:
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        conn.close()
        from redis import Redis

        redis = Redis.from_url(args.redis_url)
        keys = list(redis.scan_iter(match=f"*{queue}*", count=1000))
        if keys:
            redis.delete(*keys)
    checks = {
        "completed": done["status"] == "completed",
        "lease ended with it": done["lease_owner"] is None,
        "counts add up": done["rows_total"]
        == done["rows_accepted"] + done["rows_rejected"] + done["rows_duplicate"]
        == args.rows,
        "every row stored once": stored == distinct == everywhere == done["rows_accepted"] == args.rows,
    }
    report = {
        "settings": {k.removeprefix("PORTAL_UPLOAD_").lower(): float(v) for k, v in SETTINGS[args.settings].items()},
        "rows": args.rows,
        "killed_at_rows": busy["rows_processed"],
        "claimed_again_after_s": round(claimed_at - killed, 1),
        "completed_after_s": round(done_at - killed, 1),
        "upload": done,
        "contacts_stored": stored,
        "checks": checks,
    }
    print(json.dumps(report, indent=2, default=str))
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
