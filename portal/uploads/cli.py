"""``flask uploads ingest``, ``flask adapters list|check`` and ``flask worker``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from portal.cli import cli_actor, emit, fail, json_option, reports_errors
from portal.errors import _l

uploads_cli = AppGroup("uploads", help="Agency uploads.")
adapters_cli = AppGroup("adapters", help="Installed file adapters.")


class _StderrProgress:
    """A progress bar on stderr (stdout stays clean for --json)."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.last = -1

    def __call__(self, rows: int, read: int, size: int) -> None:
        if not self.enabled:
            return
        percent = min(100, read * 100 // size) if size else 100
        if percent != self.last:
            self.last = percent
            bar = "#" * (percent // 4)
            click.echo(f"\r[{bar:<25}] {percent:3d}%  {rows} rows", err=True, nl=False)

    def done(self) -> None:
        if self.enabled and self.last >= 0:
            click.echo(err=True)


@uploads_cli.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", "agency_code", required=True, help="The agency whose file this is.")
@click.option("--kind", required=True, type=click.Choice(["contacts", "settlements"]))
@click.option("--adapter", default=None, help="Adapter or format key (default: detected).")
@click.option("--user", "email", default=None, help="Record the upload as made by this agency user.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
@json_option
@reports_errors
def ingest_command(file: Path, agency_code, kind, adapter, email, progress, as_json):
    """The same pipeline as a web or API upload; prints the upload's summary."""
    from portal.extensions import db
    from portal.params import check_text
    from portal.uploads.jobs import current_settings, dispatch_note, dispatch_upload, run_upload
    from portal.uploads.models import Upload
    from portal.uploads.services import submit_upload, upload_summary

    if adapter is not None:
        # As the API and the upload form: no adapter has a longer name, nor one with control characters.
        adapter = check_text(adapter, "--adapter", max_length=60)
    actor = cli_actor(email)
    if email and not actor.is_agency:
        fail(_l("%(email)s is not an agency user", email=email))
    if actor.is_agency:
        from portal.agencies.models import Agency

        if db.session.get(Agency, actor.agency_id).code != agency_code.upper():
            fail(_l("%(email)s does not belong to agency %(code)s", email=email, code=agency_code))
    bar = _StderrProgress(progress)
    with file.open("rb") as stream:
        submission = submit_upload(
            actor=actor, kind=kind, stream=stream, filename=file.name, adapter=adapter, agency_code=agency_code
        )
    upload = submission.upload
    if not submission.duplicate and upload.status == "queued":
        outcome = dispatch_upload(upload.id, on_progress=bar)
        if outcome == "deferred":
            # The operator is here and waiting: process it now rather than leave it for a worker.
            # The lease makes a worker that enqueues it later find it done.
            click.echo(
                str(_l("note: the job queue cannot be reached; processing the upload in this process")), err=True
            )
            outcome = run_upload(upload.id, on_progress=bar)
        retries = current_settings().max_attempts
        while outcome == "retry" and retries:
            # The database failed mid-way: try again (a claimed attempt counts one of the upload's bounded
            # attempts; one the database refused to start does not, hence the bound here too).
            retries -= 1
            time.sleep(1)
            outcome = run_upload(upload.id, on_progress=bar)
        if outcome == "retry":
            fail(dispatch_note("retry"))
        if outcome == "queued":
            while upload.status in ("queued", "processing"):
                time.sleep(0.5)
                db.session.expire_all()
                upload = db.session.get(Upload, upload.id)
                bar(upload.rows_processed, upload.bytes_processed, upload.size)
        bar.done()
        db.session.expire_all()
        upload = db.session.get(Upload, upload.id)
    summary = upload_summary(upload, duplicate=submission.duplicate)
    duplicate_note = " (duplicate of an earlier upload)" if submission.duplicate else ""
    text = (
        f"upload {summary['id']} {summary['status']}{duplicate_note}"
        f": {summary['rows_total']} rows, {summary['rows_accepted']} accepted, {summary['rows_rejected']} rejected, "
        f"{summary['rows_duplicate']} duplicate, {summary['findings_total']} findings"
    )
    if not as_json:
        for error in summary["errors"]:
            click.echo(f"row {error['row']}: {error['field']}: {error['code']}: {error['message']}", err=True)
    emit(summary, as_json, text)
    if summary["status"] == "rejected":
        sys.exit(1)


@uploads_cli.command("reap")
@json_option
@reports_errors
def reap_command(as_json):
    """Retry uploads whose worker died and enqueue those left queued; reject those out of attempts."""
    from portal.uploads.jobs import current_settings, reap_uploads

    report = reap_uploads(settings=current_settings())
    emit(
        report,
        as_json,
        f"{len(report['requeued'])} requeued, {len(report['dispatched'])} dispatched, "
        f"{len(report['rejected'])} rejected, {len(report['deferred'])} waiting for the job queue",
    )


@adapters_cli.command("list")
@json_option
def adapters_list_command(as_json):
    """Installed adapters with their formats and kinds."""
    from portal.plugins import list_formats

    formats = list_formats(current_app.extensions["portal.plugins"])
    adapters: dict[str, dict] = {}
    for item in formats:
        entry = adapters.setdefault(
            item.adapter, {"name": item.adapter, "distribution": item.distribution, "formats": []}
        )
        entry["formats"].append(
            {
                "key": item.key,
                "label": item.format.label,
                "kinds": list(item.format.kinds),
                "extensions": list(item.format.extensions),
                "version": item.format.version,
                "can_export": item.format.can_export,
            }
        )
    if as_json:
        click.echo(json.dumps({"adapters": list(adapters.values())}, ensure_ascii=False))
        return
    for entry in adapters.values():
        click.echo(f"{entry['name']} ({entry['distribution'] or 'built in'})")
        for fmt in entry["formats"]:
            click.echo(f"  {fmt['key']:<24} v{fmt['version']:<6} {','.join(fmt['kinds']):<22} {fmt['label']}")


@adapters_cli.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(["contacts", "settlements"]))
@click.option("--adapter", default=None)
@json_option
@reports_errors
def adapters_check_command(file: Path, kind, adapter, as_json):
    """Dry run: which adapter reads FILE, rows read, first errors. Stores nothing."""
    from portal.uploads.services import check_file

    with file.open("rb") as stream:
        result = check_file(
            stream=stream,
            filename=file.name,
            kind=kind,
            adapter=adapter,
            timezone=current_app.config["PORTAL_TIMEZONE"],
        )
    if not as_json:
        for error in result["errors"]:
            click.echo(f"row {error['row']}: {error['field']}: {error['code']}: {error['message']}", err=True)
    emit(
        result,
        as_json,
        f"{result['adapter']}/{result['format']} v{result['version']}: {result['rows_total']} rows, "
        f"{result['rows_valid']} valid, {result['rows_rejected']} rejected"
        + (" (the file would be rejected)" if result["file_rejected"] else ""),
    )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker_command(burst):
    """Process queued uploads (needs PORTAL_REDIS_URL); reaps stranded uploads on start and periodically."""
    from redis.exceptions import RedisError

    from portal.uploads.jobs import run_worker

    if not current_app.config.get("PORTAL_REDIS_URL"):
        fail(_l("PORTAL_REDIS_URL is not set: uploads are processed in-process, no worker is needed"))
    try:
        run_worker(current_app._get_current_object(), burst=burst)
    except RedisError as exc:
        fail(_l("the job queue cannot be reached: %(reason)s", reason=str(exc)))
