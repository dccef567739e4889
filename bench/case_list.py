"""Case-list benchmark: does the agency case list stay as fast on 1M cases as on 10k?

Seeds the first size (default 10k cases) on PostgreSQL, then grows the same database to the next
size (default 1M) by adding rows. Each smaller size is kept as a copy (``CREATE DATABASE ... TEMPLATE``)
and every size is then timed side by side, interleaved request by request, so that background load on a
shared machine hits all sizes alike (``--sequential`` times each size right after loading it instead).

Timed, for one agency agent: the web case list ``GET /cases/`` (logged-in session) and the API list
``GET /api/v1/cases`` (bearer token), each on the first page and on a page ``--deep-pages`` deep reached
by following the ``next`` cursor, plain and with the filters and sorts users pick. A scenario passes
when its median at the largest size is within ``--max-ratio`` (1.5x) of its median at the smallest.

    .venv/bin/python bench/case_list.py                      # fresh database portal_bench, 10k then 1M
    .venv/bin/python bench/case_list.py --sizes 10000,100000 --repeat 20
    .venv/bin/python bench/case_list.py --extra-ddl "CREATE INDEX ..."   # prove an index fixes a FAIL

Cases, customers, phones and placements are bulk-loaded with ``INSERT ... SELECT FROM generate_series``
(deterministic: every value is a hash of the row number); agencies, the agency agent and the API token
are created through the services. Results go to ``bench/results/case_list.json`` (gitignored), with
the ``EXPLAIN (ANALYZE, BUFFERS)`` of each scenario's list query at each size.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import platform
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from sqlalchemy import event, inspect, make_url, text

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "case_list.json"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB_NAME = "portal_bench"
PASSWORD = "bench-portal-password-2026"  # noqa: S105 (a throwaway benchmark user)
AGENCIES = 10
PAGE = 50  # the web page size (PORTAL_PAGE_SIZE) and the API default limit
CHUNK = 200_000  # rows per INSERT statement when growing

# name, query parameters; every variant is timed on the API, WEB_VARIANTS also on the web page.
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("default", {}),
    ("bucket=M2", {"bucket": "M2"}),
    ("sort=-outstanding_balance", {"sort": "-outstanding_balance"}),
    ("sort=-days_past_due", {"sort": "-days_past_due"}),
    ("sort=expires_at", {"sort": "expires_at"}),
]
WEB_VARIANTS = ("default", "bucket=M2", "sort=-outstanding_balance")

NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
CASE_ROW = re.compile(r'<a href="/cases/[^"]+">')

# u(i, k): a uniform number in (0, 1), a pure function of the row number i and the stream k,
# so growing from 10k to 1M gives the same rows as loading 1M at once.
LOAD_FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.u(i bigint, k int) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ((hashint8extended(i, k) & 281474976710655)::float8 + 0.5) / 281474976710656 $$;
"""

LOAD_CUSTOMERS = """
INSERT INTO customers (id, customer_ref, name, id_number, province, timezone, created_at)
SELECT i,
       'CU' || lpad(i::text, 9, '0'),
       (ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭'])
           [1 + floor(pg_temp.u(i, 1) * 16)::int]
       || (ARRAY['伟','芳','娜','敏','静','磊','强','洋','勇','军','杰','娟','涛','明','超','秀英'])
           [1 + floor(pg_temp.u(i, 2) * 16)::int],
       (ARRAY['110101','310104','440305','330106','320102','410106','510107','420106'])
           [1 + floor(pg_temp.u(i, 3) * 8)::int]
       || to_char(date '1960-01-01' + floor(pg_temp.u(i, 4) * 14600)::int, 'YYYYMMDD')
       || lpad(floor(pg_temp.u(i, 5) * 10000)::int::text, 4, '0'),
       (ARRAY['北京','上海','广东','浙江','江苏','河南','四川','湖北'])[1 + floor(pg_temp.u(i, 3) * 8)::int],
       NULL,
       %(now)s - make_interval(days => floor(pg_temp.u(i, 6) * 700)::int)
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
"""

LOAD_PHONES = """
INSERT INTO customer_phones (customer_id, number, party)
SELECT i,
       (ARRAY['13','15','17','18'])[1 + floor(pg_temp.u(i * 4 + n, 7) * 4)::int]
       || lpad(floor(pg_temp.u(i * 4 + n, 8) * 1e9)::bigint::text, 9, '0'),
       CASE n WHEN 1 THEN 'debtor'
              ELSE (ARRAY['spouse','parent','emergency_contact','colleague'])[1 + floor(pg_temp.u(i, 10) * 4)::int] END
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
CROSS JOIN generate_series(1, 2) AS n
WHERE n = 1 OR pg_temp.u(i, 9) < 0.5
"""

# 90% of cases are placed now (u(i,20) < 0.9) and open; the rest are partly settled or closed.
# days_past_due: 2% current (M0), else exponential with a 60-day mean, capped at 720.
# principal: log-normal around 20,000 CNY; outstanding 15-100% of it (0 once settled).
LOAD_CASES = """
INSERT INTO cases (id, case_ref, loan_ref, customer_id, product, principal, outstanding_balance, currency,
                   days_past_due, bucket, status, created_at, updated_at)
SELECT i, 'ZY' || lpad(i::text, 9, '0'), 'LN' || lpad(i::text, 10, '0'), i, product, principal,
       CASE WHEN status = 'settled' THEN 0 ELSE round(principal * (0.15 + 0.85 * pg_temp.u(i, 13))::numeric, 2) END,
       'CNY', dpd,
       CASE WHEN dpd <= 0 THEN 'M0' WHEN dpd <= 30 THEN 'M1' WHEN dpd <= 60 THEN 'M2'
            WHEN dpd <= 90 THEN 'M3' ELSE 'M4+' END,
       status, created, created
FROM (
    SELECT i,
           (ARRAY['personal_loan','personal_loan','card_instalment','auto_loan','consumer_loan'])
               [1 + floor(pg_temp.u(i, 11) * 5)::int] AS product,
           greatest(500, round(exp(ln(20000) + 0.8 * sqrt(-2 * ln(pg_temp.u(i, 14)))
                                   * cos(2 * pi() * pg_temp.u(i, 15)))))::numeric(18, 2) AS principal,
           CASE WHEN pg_temp.u(i, 12) < 0.02 THEN 0
                ELSE least(720, 1 + floor(-ln(pg_temp.u(i, 16)) * 60)::int) END AS dpd,
           CASE WHEN pg_temp.u(i, 20) < 0.9 THEN 'open'
                WHEN pg_temp.u(i, 17) < 0.4 THEN 'open'
                WHEN pg_temp.u(i, 17) < 0.8 THEN 'settled'
                ELSE 'closed' END AS status,
           %(now)s - make_interval(days => floor(pg_temp.u(i, 6) * 700)::int) AS created
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
) AS c
"""

# One open placement for ~90% of cases, spread evenly over the agencies, placed 0-85 days ago
# for 90 days. About 30% of cases also have an earlier, ended placement with another agency.
LOAD_OPEN_PLACEMENTS = """
INSERT INTO placements (case_id, agency_id, placed_at, expires_at, ended_at, end_reason, batch)
SELECT i, (%(agencies)s::int[])[1 + floor(pg_temp.u(i, 21) * %(n_agencies)s)::int],
       placed, placed + interval '90 days', NULL, NULL, 'BENCH-' || to_char(placed, 'YYYYMMDD')
FROM (
    SELECT i, %(now)s - make_interval(secs => pg_temp.u(i, 22) * 85 * 86400) AS placed
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
    WHERE pg_temp.u(i, 20) < 0.9
) AS p
"""

LOAD_ENDED_PLACEMENTS = """
INSERT INTO placements (case_id, agency_id, placed_at, expires_at, ended_at, end_reason, batch)
SELECT i,
       (%(agencies)s::int[])[1 + ((floor(pg_temp.u(i, 21) * %(n_agencies)s)::int
                                  + 1 + floor(pg_temp.u(i, 24) * (%(n_agencies)s - 1))::int) %% %(n_agencies)s)],
       placed, placed + interval '90 days',
       placed + make_interval(days => CASE WHEN pg_temp.u(i, 25) < 0.7 THEN 90
                                           ELSE 10 + floor(pg_temp.u(i, 26) * 70)::int END),
       CASE WHEN pg_temp.u(i, 25) < 0.7 THEN 'expired' ELSE 'recalled' END,
       'BENCH-' || to_char(placed, 'YYYYMMDD')
FROM (
    SELECT i, %(now)s - make_interval(days => 100 + floor(pg_temp.u(i, 27) * 200)::int) AS placed
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
    WHERE pg_temp.u(i, 23) < 0.3
) AS p
"""

LOADED_TABLES = ("customers", "customer_phones", "cases", "placements")


# --- database ---------------------------------------------------------------------------------


def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlalchemy_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create ``name`` on the server; return its URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"bad database name {name!r}")
    with psycopg.connect(_psycopg_dsn(server_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def build_app(database_url: str, workdir: Path):
    # Keep the instance folder (secret key, uploads) out of the repository.
    os.environ["PORTAL_INSTANCE_PATH"] = str(workdir / "instance")
    os.environ.setdefault("PORTAL_SECRET_KEY", secrets.token_hex(32))
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(database_url),
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "PORTAL_STORAGE_DIR": str(workdir / "files"),
        }
    )


def seed_accounts() -> dict[str, Any]:
    """Agencies A01..A10, an agent of A01 (the one measured) and the agent's API token."""
    from portal.accounts.services import create_token, create_user
    from portal.agencies.services import create_agency
    from portal.security import Actor

    system = Actor.system(source="bench")
    agencies = [
        create_agency(actor=system, code=f"A{n:02d}", name=f"Bench agency {n:02d}") for n in range(1, AGENCIES + 1)
    ]
    agent = create_user(
        actor=system, email="agent@a01.bench.example.com", role="agency_agent", password=PASSWORD, agency_code="A01"
    )
    _token, clear = create_token(actor=system, user=agent, label="bench")
    return {"agency_ids": [a.id for a in agencies], "agent_email": agent.email, "token": clear}


def load_rows(database_url: str, lo: int, hi: int, agency_ids: list[int], now: datetime) -> float:
    """Add cases ``lo..hi`` (with their customers, phones and placements); return seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(_psycopg_dsn(database_url)) as conn:
        conn.execute(LOAD_FUNCTIONS)
        conn.commit()
        for start in range(lo, hi + 1, CHUNK):
            end = min(hi, start + CHUNK - 1)
            params = {"lo": start, "hi": end, "now": now, "agencies": agency_ids, "n_agencies": len(agency_ids)}
            with conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = off")
                for sql in (LOAD_CUSTOMERS, LOAD_PHONES, LOAD_CASES, LOAD_OPEN_PLACEMENTS, LOAD_ENDED_PLACEMENTS):
                    conn.execute(sql, params)
            print(f"    loaded cases {start:,}..{end:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        for table in LOADED_TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        for table in LOADED_TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return time.perf_counter() - started


def table_sizes(database_url: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(_psycopg_dsn(database_url)) as conn:
        out = {}
        for table in LOADED_TABLES:
            rows, size = conn.execute(
                f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}"
            ).fetchone()
            out[table] = {"rows": rows, "total_size": size}
        return out


# --- timing -----------------------------------------------------------------------------------


@dataclass
class SqlLog:
    """Time spent in SQL during a request, and (when capturing) each statement with its parameters."""

    capture: bool = False
    seconds: float = 0.0
    statements: list[tuple[float, str, Any]] = field(default_factory=list)
    _started: list[float] = field(default_factory=list)

    def reset(self, capture: bool = False) -> None:
        self.capture, self.seconds, self.statements = capture, 0.0, []

    def install(self, engine) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def before(conn, cursor, statement, parameters, context, executemany):
            self._started.append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn, cursor, statement, parameters, context, executemany):
            took = time.perf_counter() - self._started.pop()
            self.seconds += took
            if self.capture:
                self.statements.append((took, statement, parameters))


@dataclass
class Scenario:
    name: str
    surface: str  # "web" or "api"
    variant: str
    params: dict[str, str]
    deep: bool
    url: str = ""
    depth: int = 1  # the page number timed (1 = first page)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


class Bench:
    def __init__(self, app, accounts: dict[str, Any], sql: SqlLog, args: argparse.Namespace):
        self.app, self.accounts, self.sql, self.args = app, accounts, sql, args
        self.web = app.test_client()
        self.api = app.test_client()
        self.headers = {"Authorization": f"Bearer {accounts['token']}"}
        response = self.web.post("/login", data={"email": accounts["agent_email"], "password": PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"login failed: {response.status_code} {response.get_data(as_text=True)[:300]}")

    def get(self, scenario: Scenario, url: str):
        response = self.web.get(url) if scenario.surface == "web" else self.api.get(url, headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"{scenario.name}: GET {url} -> {response.status_code}")
        return response

    @staticmethod
    def rows_and_next(scenario: Scenario, response) -> tuple[int, str | None]:
        if scenario.surface == "web":
            body = response.get_data(as_text=True)
            link = NEXT_LINK.search(body)
            return len(CASE_ROW.findall(body)), html.unescape(link.group(1)) if link else None
        payload = response.get_json()
        cursor = payload["next"]
        if not cursor:
            return len(payload["items"]), None
        return len(payload["items"]), scenario_url(scenario, cursor)

    def resolve(self, scenario: Scenario) -> int:
        """Set ``scenario.url``: the first page, or the page ``--deep-pages`` deep (or the last one)."""
        scenario.url, scenario.depth = scenario_url(scenario), 1
        rows, next_url = self.rows_and_next(scenario, self.get(scenario, scenario.url))
        if not scenario.deep:
            return rows
        previous = (scenario.url, scenario.depth, rows)
        while next_url and scenario.depth < self.args.deep_pages:
            previous = (scenario.url, scenario.depth, rows)
            scenario.url, scenario.depth = next_url, scenario.depth + 1
            rows, next_url = self.rows_and_next(scenario, self.get(scenario, next_url))
        if rows < PAGE and scenario.depth > 1:
            # The list ended before --deep-pages: time its last full page, not a short tail.
            scenario.url, scenario.depth, rows = previous
        return rows

    def explain(self, scenario: Scenario) -> dict[str, Any]:
        """EXPLAIN (ANALYZE, BUFFERS) the list query the scenario's request runs, with the same parameters."""
        self.sql.reset(capture=True)
        self.get(scenario, scenario.url)
        self.sql.capture = False
        # The list query itself (the one with the LIMIT); failing that, the slowest statement.
        listing = [s for s in self.sql.statements if "FROM cases" in s[1] and " LIMIT " in s[1]]
        _took, statement, parameters = max(listing or self.sql.statements, key=lambda s: s[0])
        with self.app.app_context():
            from portal.extensions import db

            with db.engine.connect() as conn:
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
        return {"sql": statement, "parameters": _jsonable(parameters), "plan": plan}


@dataclass
class Run:
    """One scenario on one size's app."""

    size: int
    bench: Bench
    scenario: Scenario
    rows: int = 0
    wall: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)

    def once(self) -> None:
        self.bench.sql.reset()
        started = time.perf_counter()
        self.bench.get(self.scenario, self.scenario.url)
        self.wall.append((time.perf_counter() - started) * 1000)
        self.sql.append(self.bench.sql.seconds * 1000)

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.scenario.url,
            "page": self.scenario.depth,
            "rows": self.rows,
            "median_ms": round(statistics.median(self.wall), 2),
            "p95_ms": round(percentile(self.wall, 95), 2),
            "min_ms": round(min(self.wall), 2),
            "sql_median_ms": round(statistics.median(self.sql), 2),
        }


def time_runs(runs: list[Run], *, repeat: int, warmup: int) -> None:
    """Time every run interleaved (one request of each per round), so background load hits all alike."""
    for run in runs:
        run.rows = run.bench.resolve(run.scenario)
    for _ in range(warmup):
        for run in runs:
            run.bench.get(run.scenario, run.scenario.url)
    for _ in range(repeat):
        for run in runs:
            run.once()


def scenario_url(scenario: Scenario, cursor: str | None = None) -> str:
    query = dict(scenario.params)
    if scenario.surface == "api":
        query["limit"] = str(PAGE)
    if cursor:
        query["cursor"] = cursor
    base = "/cases/" if scenario.surface == "web" else "/api/v1/cases"
    return base + ("?" + urlencode(query) if query else "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)


def scenarios() -> list[Scenario]:
    out = []
    for surface in ("web", "api"):
        for variant, params in VARIANTS:
            if surface == "web" and variant not in WEB_VARIANTS:
                continue
            for deep in (False, True):
                name = f"{surface} {variant} {'deep' if deep else 'first'}"
                out.append(Scenario(name=name, surface=surface, variant=variant, params=params, deep=deep))
    return out


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        help="an EMPTY PostgreSQL database to use (default: drop and create portal_bench on --server-url)",
    )
    parser.add_argument("--server-url", default=DEFAULT_SERVER, help=f"server of the fresh database ({DEFAULT_SERVER})")
    parser.add_argument("--database-name", default=DEFAULT_DB_NAME)
    parser.add_argument("--sizes", default="10000,1000000", help="case counts, ascending, comma-separated")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per scenario and size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests before timing")
    parser.add_argument("--deep-pages", type=int, default=200, help="how many pages deep the deep page is")
    parser.add_argument("--max-ratio", type=float, default=1.5, help="largest/smallest median that still passes")
    parser.add_argument(
        "--extra-ddl",
        action="append",
        default=[],
        metavar="SQL",
        help="DDL run after the schema is built (e.g. a candidate index); repeatable",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="time each size right after loading it instead of side by side at the end (always so with --database-url)",
    )
    parser.add_argument("--output", default=str(RESULTS), help="where to write the JSON results")
    args = parser.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.size_list != sorted(set(args.size_list)) or not args.size_list or args.size_list[0] < 1:
        parser.error("--sizes must be ascending positive numbers")
    return args


def snapshot_database(server_url: str, source_url: str, size: int) -> str:
    """Copy the database as it is at ``size`` cases (CREATE DATABASE ... TEMPLATE); return the copy's URL."""
    source = make_url(source_url).database
    name = f"{source}_{size}"
    with psycopg.connect(_psycopg_dsn(server_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
    return make_url(source_url).set(database=name).render_as_string(hide_password=False)


def open_bench(database_url: str, workdir: Path, accounts: dict[str, Any], args: argparse.Namespace) -> Bench:
    app = build_app(database_url, workdir)
    sql = SqlLog()
    with app.app_context():
        from portal.extensions import db

        sql.install(db.engine)
    return Bench(app, accounts, sql, args)


def dispose(bench: Bench) -> None:
    with bench.app.app_context():
        from portal.extensions import db

        db.session.remove()
        db.engine.dispose()


def measure(benches: dict[int, Bench], args: argparse.Namespace, results: dict[str, Any]) -> None:
    runs = [Run(size=size, bench=bench, scenario=s) for size, bench in benches.items() for s in scenarios()]
    print(f"   timing {len(runs)} runs x {args.repeat} requests, interleaved", flush=True)
    time_runs(runs, repeat=args.repeat, warmup=args.warmup)
    for run in runs:
        timing = run.summary()
        name = run.scenario.name
        results["scenarios"].setdefault(name, {})[str(run.size)] = timing
        results["plans"].setdefault(name, {})[str(run.size)] = run.bench.explain(run.scenario)
        print(
            f"   {run.size:>9,} {name:<38} page {timing['page']:>3}  median {timing['median_ms']:8.2f} ms"
            f"  p95 {timing['p95_ms']:8.2f} ms  (sql {timing['sql_median_ms']:7.2f} ms)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    try:
        return run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> int:
    bench_started = time.perf_counter()
    now = datetime.now(UTC)
    paired = not args.sequential and not args.database_url
    database_url = args.database_url or fresh_database(args.server_url, args.database_name)
    print(f"database: {make_url(database_url).render_as_string(hide_password=True)}", flush=True)

    app = build_app(database_url, workdir)
    with app.app_context():
        from portal.extensions import db

        if inspect(db.engine).has_table("cases"):
            raise SystemExit("the database already has portal tables; give an empty one (or omit --database-url)")
        db.create_all()
        for ddl in args.extra_ddl:
            db.session.execute(text(ddl))
        db.session.commit()
        accounts = seed_accounts()
        server_version = db.session.execute(text("SHOW server_version")).scalar()
        db.session.remove()
        db.engine.dispose()

    results: dict[str, Any] = {
        "mode": "paired" if paired else "sequential",
        "sizes": args.size_list,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "deep_pages": args.deep_pages,
        "max_ratio": args.max_ratio,
        "extra_ddl": args.extra_ddl,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgresql": server_version},
        "load_seconds": {},
        "tables": {},
        "scenarios": {},
        "plans": {},
    }
    loaded = 0
    benches: dict[int, Bench] = {}
    for size in args.size_list:
        print(f"\n== {size:,} cases: loading {loaded + 1:,}..{size:,}", flush=True)
        seconds = load_rows(database_url, loaded + 1, size, accounts["agency_ids"], now)
        loaded = size
        results["load_seconds"][str(size)] = round(seconds, 1)
        results["tables"][str(size)] = table_sizes(database_url)
        print(f"   loaded (and vacuumed, analysed) in {seconds:.1f} s", flush=True)
        if not paired:
            bench = open_bench(database_url, workdir, accounts, args)
            measure({size: bench}, args, results)
            dispose(bench)
        elif size != args.size_list[-1]:
            # Keep this size as a copy and time it later side by side with the largest one.
            copy_url = snapshot_database(args.server_url, database_url, size)
            benches[size] = open_bench(copy_url, workdir, accounts, args)
            print(f"   kept a copy as {make_url(copy_url).database}", flush=True)
    if paired:
        benches[args.size_list[-1]] = open_bench(database_url, workdir, accounts, args)
        print("\n== timing every size side by side", flush=True)
        measure(benches, args, results)

    small, large = str(args.size_list[0]), str(args.size_list[-1])
    failures = report(results, small, large, args.max_ratio)
    shown: dict[str, str] = {}
    for name in failures:
        plan = results["plans"][name][large]
        key = plan["sql"] + json.dumps(plan["parameters"], sort_keys=True)
        if key in shown:
            print(f"\n--- {name}: same query as {shown[key]}")
            continue
        shown[key] = name
        print(f"\n--- {name}: EXPLAIN (ANALYZE, BUFFERS) at {int(large):,} cases\n{plan['sql']}\n{plan['parameters']}")
        print("\n".join(plan["plan"]))
    results["total_seconds"] = round(time.perf_counter() - bench_started, 1)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {output}; total {results['total_seconds']:.0f} s")
    return 1 if failures else 0


def report(results: dict[str, Any], small: str, large: str, max_ratio: float) -> list[str]:
    label_small, label_large = _size_label(int(small)), _size_label(int(large))
    header = (
        f"{'scenario':<38} {label_small + ' ms':>10} {label_large + ' ms':>10} {'ratio':>6}"
        f" {'p95 ' + label_small:>10} {'p95 ' + label_large:>10}  result"
    )
    print("\nmedian wall time per request (Flask test client, in-process)\n" + header + "\n" + "-" * len(header))
    failures = []
    for name, by_size in results["scenarios"].items():
        a, b = by_size[small], by_size[large]
        ratio = b["median_ms"] / a["median_ms"]
        verdict = "PASS" if ratio <= max_ratio else "FAIL"
        by_size["ratio"], by_size["result"] = round(ratio, 2), verdict
        if verdict == "FAIL":
            failures.append(name)
        pages = f" (p{a['page']}/p{b['page']})" if b["page"] > 1 else ""
        print(
            f"{name:<38} {a['median_ms']:>10.1f} {b['median_ms']:>10.1f} {ratio:>6.2f}"
            f" {a['p95_ms']:>10.1f} {b['p95_ms']:>10.1f}  {verdict}{pages}"
        )
    return failures


def _size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


if __name__ == "__main__":
    sys.exit(main())
