"""``flask audit``: verify the trail, sign a checkpoint, export the auditor's bundle, receipts, retention."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from portal.cli import emit, fail, json_option, reports_errors
from portal.security import Actor

audit_cli = AppGroup("audit", help="Verify, checkpoint and export the audit trail.")


@audit_cli.command("verify")
@click.option("--full", is_flag=True, help="Also re-serialise every event from its columns (slow).")
@json_option
@reports_errors
def verify_command(full, as_json):
    """Recompute every leaf and the root and check every checkpoint, stored and witnessed (files, witness URL);
    exit 0 if intact, 1 if not. Also says how many events no witnessed checkpoint covers yet."""
    from portal.audit.trail import verify_audit_trail
    from portal.audit.witness import WitnessSettings

    witness = WitnessSettings.from_config(current_app.config)
    report = verify_audit_trail(actor=Actor.system(), full=full, witness=witness)
    emit(report.as_dict(), as_json, "\n".join(report.describe()))
    if not report.ok:
        first = sorted(report.problems, key=lambda p: (p.seq is None, p.seq or 0))[0]
        where = f"seq {first.seq}" if first.seq is not None else "checkpoints"
        fail(f"the audit trail is not intact: {where}: {first.reason}")


@audit_cli.command("checkpoint")
@json_option
@reports_errors
def checkpoint_command(as_json):
    """Sign a checkpoint of the trail now (and publish it to the configured second locations).

    Nothing new since the latest checkpoint: it is published again, nothing is signed. Run it every
    minute from cron so that the tail left by short-lived processes is signed (docs/audit.md)."""
    from portal.audit.checkpoints import create_checkpoint

    checkpoint, created, published = create_checkpoint()
    result = {**checkpoint.as_checkpoint(), "created": created, "published": published.as_dict()}
    state = "signed" if created else "unchanged since the latest checkpoint"
    lines = [f"checkpoint of {checkpoint.tree_size} events {state}: root {checkpoint.root_hash}"]
    lines += [f"written to {where}" for where in (published.path, published.url) if where]
    emit(result, as_json, "\n".join(lines))
    if published.errors:
        fail("; ".join(published.errors))


@audit_cli.command("grant")
@click.argument("role")
@click.option("--dry-run", is_flag=True, help="Print the statements, change nothing.")
@json_option
@reports_errors
def grant_command(role, dry_run, as_json):
    """Give the PostgreSQL ROLE the portal runs as its privileges: read and write the business tables, only read
    and append the audit tables. Run as the tables' owner, after every flask db upgrade (docs/security.md)."""
    from portal.audit.roles import grant_app_role

    grants = grant_app_role(role=role, dry_run=dry_run)
    emit({**grants.as_dict(), "applied": not dry_run}, as_json, ";\n".join(grants.statements) + ";")


@audit_cli.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The zip file to write.")
@click.option("--since", default=None, help="ISO date or time (inclusive); without an offset, PORTAL_TIMEZONE.")
@click.option("--until", default=None, help="ISO date or time (exclusive; a date includes that whole day).")
@click.option("--agency", "agency", default=None, help="Only events of this agency (code).")
@json_option
@reports_errors
def export_command(out, since, until, agency, as_json):
    """The auditor's bundle (contract section 9), verifiable with python -m portal.audit.verify."""
    from portal.audit.export import export_audit_bundle
    from portal.audit.trail import EventFilters, parse_when

    timezone = current_app.config["PORTAL_TIMEZONE"]
    filters = EventFilters(
        since=parse_when(since, timezone, field_name="since"),
        until=parse_when(until, timezone, field_name="until", end_of_day=True),
        agency=agency or "",
    )
    result = export_audit_bundle(actor=Actor.system(), out=out, filters=filters)
    text = (
        f"{result['events']} events with their proofs against the checkpoint of {result['tree_size']} events "
        f"written to {out} (sha256 {result['sha256']})"
    )
    emit({**result, "out": out}, as_json, text)


@audit_cli.command("receipt")
@click.argument("seq", type=int)
@click.option("--no-event", is_flag=True, help="Leave the event itself out of the receipt.")
@json_option
@reports_errors
def receipt_command(seq, no_event, as_json):
    """The receipt of one event: its leaf hash, a signed checkpoint including it and the inclusion proof."""
    from portal.audit.receipts import receipt_for
    from portal.extensions import db

    receipt = receipt_for(seq, include_event=not no_event)
    db.session.commit()
    click.echo(json.dumps(receipt, ensure_ascii=False, indent=None if as_json else 2))


@audit_cli.command("retention")
@json_option
@reports_errors
def retention_command(as_json):
    """What has outlived its retention period, per record type (nothing is deleted)."""
    from portal.audit.retention import retention_report

    report = retention_report(current_app.config["PORTAL_RETENTION"])
    lines = [f"as of {report['as_of']}"]
    for item in report["items"]:
        if item["stored"] is None:
            lines.append(f"  {item['record_type']:<13} {item['retention']:>7}  {item.get('note', '')}")
        else:
            lines.append(
                f"  {item['record_type']:<13} {item['retention']:>7}  {item['due']} due of {item['stored']} stored"
            )
    emit(report, as_json, "\n".join(lines))
