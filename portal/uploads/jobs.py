"""Running uploads: on RQ workers when PORTAL_REDIS_URL is set, in the same process otherwise."""

from __future__ import annotations

import os

from flask import Flask, current_app

QUEUE = "uploads"
JOB_TIMEOUT = 4 * 3600
_apps: dict[int, Flask] = {}


def redis_connection(url: str):
    from redis import Redis

    return Redis.from_url(url)


def dispatch_upload(upload_id: int, on_progress=None) -> str:
    """Queue the upload on RQ, or process it now; returns ``"queued"`` or ``"processed"``."""
    url = current_app.config.get("PORTAL_REDIS_URL")
    if url:
        from rq import Queue

        Queue(QUEUE, connection=redis_connection(url)).enqueue(
            process_upload_job, upload_id, job_timeout=JOB_TIMEOUT, result_ttl=3600, failure_ttl=7 * 86400
        )
        return "queued"
    from portal.uploads.processing import process_upload

    process_upload(upload_id, on_progress)
    return "processed"


def _worker_app() -> Flask:
    """One app per worker process (RQ forks a child per job: connections must not cross the fork)."""
    app = _apps.get(os.getpid())
    if app is None:
        from portal import create_app

        app = _apps[os.getpid()] = create_app()
    return app


def process_upload_job(upload_id: int) -> None:
    from portal.extensions import db
    from portal.uploads.processing import process_upload

    try:
        current_app._get_current_object()
    except RuntimeError:
        with _worker_app().app_context():
            db.engine.dispose(close=False)
            process_upload(upload_id)
            db.session.remove()
        return
    process_upload(upload_id)
