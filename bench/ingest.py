"""Benchmark: `flask uploads ingest` of N canonical contact rows into PostgreSQL against a bare COPY of the same file.

    .venv/bin/python bench/ingest.py                 # N = 100k and 1M on a fresh local database
    .venv/bin/python bench/ingest.py --rows 100000   # one size

Prints rows/s for the pipeline (stream + validate + compliance step + store + audit) and for a
bare `COPY` into a plain table, their ratio, and the pipeline's peak RSS (target: within 8x of
COPY, and 1M rows within 1.3x the peak memory of 100k). The pipeline is timed twice: the whole
`flask uploads ingest` process (the target's measure) and the command alone, without the
interpreter and app start that a long-running worker pays once.

The seeded cases are made once per run in a template database (`<database>_seed`) and copied
for each size; `--reuse-seed` keeps that template from an earlier run (upgraded to the current
schema), which saves the minutes that importing and placing 20,000 cases takes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from portal.cases.importing import CASE_COLUMNS
from portal.plugins.records import CONTACT_FIELDS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SERVER = "postgresql://postgres@127.0.0.1:5432"
CASES = 20_000
HEADER = list(CONTACT_FIELDS)
OUTCOMES = ["no_answer", "busy", "refused", "callback", "left_message", "promise_to_pay"]


def fresh_database(name: str) -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{SERVER}/{name}"


def flask(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )


def seed(env: dict[str, str], workdir: Path) -> None:
    """Schema, one agency and CASES cases placed with it, through the portal's own commands."""
    flask(env, "db", "upgrade")
    flask(env, "agencies", "create", "BX", "--name", "Bench agency")
    rng = random.Random(7)
    cases = workdir / "cases.csv"
    with cases.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CASE_COLUMNS)
        for n in range(CASES):
            writer.writerow(
                [
                    f"BX{n:08d}",
                    f"L{n:08d}",
                    f"C{n:08d}",
                    "王五",
                    "110101199001011234",
                    f"1{rng.choice('3589')}{n:09d}:debtor",
                    "",
                    "",
                    "personal_loan",
                    "1000.00",
                    "900.00",
                    "CNY",
                    rng.randint(1, 200),
                    "",
                ]
            )
    flask(env, "cases", "import", str(cases))
    placements = workdir / "placements.csv"
    placements.write_text(
        "case_ref,agency,placed_at,expires_at\n"
        + "".join(f"BX{n:08d},BX,2026-01-01T00:00:00+08:00,2027-12-31T00:00:00+08:00\n" for n in range(CASES))
    )
    flask(env, "cases", "place", str(placements))
    with psycopg.connect(env["PORTAL_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("ANALYZE")  # as autovacuum would have done on a live database


def contacts_file(path: Path, rows: int) -> None:
    rng = random.Random(rows)
    start = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            case = n % CASES
            outcome = rng.choice(OUTCOMES)
            moment = (start + timedelta(seconds=n * 20)).strftime("%Y-%m-%d %H:%M:%S")
            promise = ("500.00", "2026-12-31") if outcome == "promise_to_pay" else ("", "")
            writer.writerow(
                [
                    f"BX{case:08d}",
                    moment,
                    "call",
                    "debtor",
                    f"13{case:09d}",
                    outcome,
                    "",
                    rng.randint(0, 300),
                    *promise,
                    f"C{n % 50:03d}",
                    f"R{n}" if n % 3 else "",
                    "",
                ]
            )


def bare_copy(url: str, path: Path) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_contacts")
        conn.execute("CREATE TABLE bench_raw_contacts (" + ", ".join(f"{c} text" for c in HEADER) + ")")
        began = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_raw_contacts FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as data,
        ):
            while chunk := data.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - began


def seeded_database(name: str, env: dict[str, str], workdir: Path, *, reuse: bool) -> str:
    """A fresh database `name` copied from the seeded template, seeding the template first if needed."""
    template = f"{name}_seed"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
    if reuse and exists:
        flask(dict(env, PORTAL_DATABASE_URL=f"{SERVER}/{template}"), "db", "upgrade")
    else:
        seed(dict(env, PORTAL_DATABASE_URL=fresh_database(template)), workdir)
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"{SERVER}/{name}"


def pipeline(env: dict[str, str], path: Path) -> tuple[float, dict, int, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    # A fresh process per run so that ru_maxrss is this ingest's own peak.
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-ingest", str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary, rss, command_seconds = json.loads(done.stdout)
    return elapsed, summary, max(rss, peak if peak > before else rss), command_seconds


def child_ingest(path: str) -> None:
    """Runs `flask uploads ingest` in this process and prints its summary with this process's peak RSS."""
    from click.testing import CliRunner

    from portal import create_app

    app = create_app()
    began = time.perf_counter()
    result = CliRunner().invoke(
        app.cli,
        ["uploads", "ingest", path, "--agency", "BX", "--kind", "contacts", "--json", "--no-progress"],
        catch_exceptions=False,
    )
    command_seconds = time.perf_counter() - began
    if result.exit_code != 0:
        raise SystemExit(result.output)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps([json.loads(result.stdout), peak_kb, command_seconds]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--database", default="portal_bench_ingest")
    parser.add_argument("--reuse-seed", action="store_true", help="keep the seeded template of an earlier run")
    parser.add_argument("--child-ingest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ingest:
        child_ingest(args.child_ingest)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = RESULTS / "ingest-work"
    workdir.mkdir(exist_ok=True)
    results = []
    env = dict(
        os.environ,
        PORTAL_STORAGE_DIR=str(workdir / "files"),
        PORTAL_MAX_UPLOAD_MB="2000",
        PORTAL_INSTANCE_PATH=str(workdir / "instance"),
    )
    env.pop("PORTAL_REDIS_URL", None)
    reuse = args.reuse_seed
    for rows in [int(r) for r in args.rows.split(",")]:
        url = seeded_database(args.database, env, workdir, reuse=reuse)
        reuse = True  # seeded once per run
        env["PORTAL_DATABASE_URL"] = url
        shutil.rmtree(workdir / "files", ignore_errors=True)  # each run stores its file afresh, as a new upload does
        path = workdir / f"contacts-{rows}.csv"
        contacts_file(path, rows)
        copy_seconds = bare_copy(url, path)
        seconds, summary, peak_kb, command_seconds = pipeline(env, path)
        assert summary["rows_accepted"] == rows, summary
        result = {
            "rows": rows,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "copy_rows_per_s": round(rows / copy_seconds),
            "pipeline_rows_per_s": round(rows / seconds),
            "ratio": round(seconds / copy_seconds, 2),
            "pipeline_seconds": round(seconds, 1),
            "command_rows_per_s": round(rows / command_seconds),
            "command_ratio": round(command_seconds / copy_seconds, 2),
            "peak_rss_mb": round(peak_kb / 1024, 1),
        }
        results.append(result)
        print(json.dumps(result), flush=True)
    if len(results) > 1:
        print(
            f"peak RSS {results[-1]['rows']:,} rows / {results[0]['rows']:,} rows: "
            f"{results[-1]['peak_rss_mb'] / results[0]['peak_rss_mb']:.2f}x (target <= 1.3x)"
        )
    for result in results:
        verdict = "PASS" if result["ratio"] <= 8 else "FAIL"
        print(
            f"{result['rows']:>9,} rows: COPY {result['copy_rows_per_s']:>8,}/s  pipeline "
            f"{result['pipeline_rows_per_s']:>7,}/s  ratio {result['ratio']:.1f}x (target <= 8x) {verdict}  "
            f"(command alone {result['command_rows_per_s']:,}/s, {result['command_ratio']:.1f}x)  "
            f"peak RSS {result['peak_rss_mb']} MB"
        )
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
