"""Audit tail benchmark: what the interval, the checkpoint files and the witness cost (PostgreSQL).

1. Appends, one event per commit, with the interval off and at 60 s (the after-commit check).
2. ``checkpoint_if_due`` on its own when nothing is due (the two queries a commit pays when no
   timer is armed).
3. ``verify_trail`` over a trail with a checkpoint every ``--every`` events: without witness; with
   the checkpoint files (each the twin of a stored checkpoint); with the stored checkpoints gone
   (every file then costs a signature check).
4. A commit that signs while the witness URL hangs (accepts, never answers): bounded by the timeout.

    .venv/bin/python bench/audit_tail.py                  # fresh database portal_bench_audit_tail

Results go to ``bench/results/audit_tail.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "audit_tail.json"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.audit import DEFAULT_SERVER, _sqlalchemy_url, fresh_database  # noqa: E402


def build_app(url: str, instance: str, **config):
    """A fresh app on an emptied database, with a checkpoint folder of its own."""
    os.environ["PORTAL_INSTANCE_PATH"] = instance
    from portal import create_app

    config.setdefault("PORTAL_AUDIT_CHECKPOINT_DIR", tempfile.mkdtemp(dir=instance))
    app = create_app({"SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(url), "TESTING": True, **config})
    from portal.extensions import db

    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def append(app, count: int) -> float:
    from portal.audit.services import record_event
    from portal.audit.tags import AuditTag
    from portal.extensions import db
    from portal.security import Actor

    actor = Actor.system(source="bench")
    with app.app_context():
        began = time.perf_counter()
        for i in range(count):
            record_event(actor=actor, action=AuditTag.AGENCY_UPDATE, object_type="agency", object_id=i)
            db.session.commit()
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--every", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, object] = {}
    url = fresh_database(args.server, "portal_bench_audit_tail")
    from portal.audit import tail
    from portal.audit.checkpoints import signing_key
    from portal.audit.integrity import verify_trail
    from portal.audit.signing import key_id
    from portal.audit.witness import WitnessSettings
    from portal.extensions import db

    with tempfile.TemporaryDirectory() as instance:
        for interval in (0, 60, 0, 60):
            app = build_app(url, instance, PORTAL_AUDIT_CHECKPOINT_INTERVAL=interval, PORTAL_AUDIT_CHECKPOINT_EVERY=0)
            elapsed = append(app, args.events)
            results.setdefault(f"appends_per_s_interval_{interval}", []).append(round(args.events / elapsed))
            tail.tail_state(app).cancel()
        app = build_app(url, instance, PORTAL_AUDIT_CHECKPOINT_INTERVAL=60, PORTAL_AUDIT_CHECKPOINT_EVERY=0)
        append(app, 10)
        tail.tail_state(app).cancel()
        with app.app_context():
            began = time.perf_counter()
            for _ in range(200):
                tail.checkpoint_if_due(app)
                tail.tail_state(app).cancel()
            results["checkpoint_if_due_ms"] = round((time.perf_counter() - began) / 200 * 1000, 2)

        folder = Path(instance) / "bench-checkpoints"
        app = build_app(
            url,
            instance,
            PORTAL_AUDIT_CHECKPOINT_INTERVAL=0,
            PORTAL_AUDIT_CHECKPOINT_EVERY=args.every,
            PORTAL_AUDIT_CHECKPOINT_DIR=str(folder),
        )
        append(app, args.events)
        witness = WitnessSettings(directory=str(folder))
        with app.app_context():
            current = key_id(signing_key().public_key())
            files = len(os.listdir(folder))
            timings = {}
            for label, settings in (("verify_s_no_witness", None), ("verify_s_with_files", witness)):
                db.session.rollback()
                began = time.perf_counter()
                report = verify_trail(witness=settings, current_key_id=current)
                timings[label] = round(time.perf_counter() - began, 3)
                assert report.ok, report.describe()
            from sqlalchemy import text

            db.session.execute(text("SET LOCAL session_replication_role = replica"))
            db.session.execute(text("DELETE FROM audit_checkpoints"))
            db.session.commit()
            began = time.perf_counter()
            report = verify_trail(witness=witness, current_key_id=current)
            timings["verify_s_files_without_stored_checkpoints"] = round(time.perf_counter() - began, 3)
            assert report.ok and report.witnessed_checkpoints == files, report.describe()
            results.update(timings, events=args.events, checkpoint_files=files)

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        app = build_app(
            url,
            instance,
            PORTAL_AUDIT_CHECKPOINT_INTERVAL=60,
            PORTAL_AUDIT_CHECKPOINT_EVERY=0,
            PORTAL_AUDIT_CHECKPOINT_URL=f"http://127.0.0.1:{listener.getsockname()[1]}/",
            PORTAL_AUDIT_CHECKPOINT_TIMEOUT=2,
        )
        results["commit_s_signing_with_hanging_witness"] = round(append(app, 1), 3)
        results["commit_s_next_with_timer_armed"] = round(append(app, 1), 4)
        tail.tail_state(app).cancel()
        listener.close()
        with app.app_context():
            db.engine.dispose()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
