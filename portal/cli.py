"""The ``flask`` commands (contract section 3): thin wrappers that call one service each."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.cases.models import FLAGS
from portal.errors import Message, PortalError, _l, messages_in
from portal.security import Actor, Role

agencies_cli = AppGroup("agencies", help="Manage collection agencies.")
users_cli = AppGroup("users", help="Manage users and API tokens.")
cases_cli = AppGroup("cases", help="Import and place cases.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


def cli_locale() -> str:
    """The language of the commands' messages: English, unless the shell's locale is Chinese.

    POSIX order: ``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``; the first one set decides
    (``zh_CN.UTF-8``, ``zh_TW`` and ``zh`` give Simplified Chinese, anything else English).
    Scripts that parse stderr get English unless they ask otherwise; see docs/messages.md.
    """
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").strip()
        if value:
            return "zh_CN" if value.lower().startswith("zh") else "en"
    return "en"


def fail(message: Message | str) -> None:
    """One line on stderr and a non-zero exit: the contract's failure shape."""
    with messages_in(cli_locale()):
        text = str(message)
    click.echo(f"error: {text}", err=True)
    sys.exit(1)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Map domain errors to the failure shape; the command's messages follow ``cli_locale()``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with messages_in(cli_locale()):
            try:
                return command(*args, **kwargs)
            except PortalError as exc:
                fail(exc.text)
            except OSError as exc:
                fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))

    return wrapper


def emit(result: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        click.echo(text)


def cli_actor(email: str | None = None) -> Actor:
    if not email:
        return Actor.system()
    from portal.accounts.services import get_user_by_email

    user = get_user_by_email(email)
    if user is None:
        raise PortalError(_l("unknown user %(email)s", email=email))
    return Actor(user_id=user.id, role=Role(user.role), agency_id=user.agency_id, source="cli")


def open_input(path: str):
    if path == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")


@agencies_cli.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--adapter", default=None, help="Default adapter for this agency's uploads.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@click.option("--capacity", type=int, default=None, help="Most open placements at once.")
@click.option("--commission", default=None, help='e.g. "M1:0.08,M2:0.12,M3:0.18,M4+:0.25"')
@click.option("--channels", default=None, help="e.g. call,sms,visit (default: all)")
@click.option("--term", "placement_term_days", type=int, default=90, show_default=True, help="Placement term in days.")
@json_option
@reports_errors
def create_agency_command(code, name, adapter, timezone, capacity, commission, channels, placement_term_days, as_json):
    """Add an agency."""
    from portal.agencies.services import create_agency

    agency = create_agency(
        actor=Actor.system(),
        code=code,
        name=name,
        adapter=adapter,
        timezone=timezone,
        capacity=capacity,
        commission=commission,
        channels=channels,
        placement_term_days=placement_term_days,
    )
    result = {
        "id": agency.id,
        "code": agency.code,
        "name": agency.name,
        "timezone": agency.timezone,
        "capacity": agency.capacity,
        "channels": agency.allowed_channels,
        "commission": agency.commission_schedule,
        "adapter": agency.default_adapter,
    }
    emit(result, as_json, f"agency {agency.code} created")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([str(r) for r in Role]))
@click.option("--agency", "agency_code", default=None, help="Agency code (agency roles only).")
@click.option("--locale", default=None, type=click.Choice(["zh_CN", "en"]))
@json_option
@reports_errors
def create_user_command(email, role, agency_code, locale, as_json):
    """Add a user; the password is read from stdin (first line)."""
    from portal.accounts.services import create_user

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail(_l("give the password on stdin, as its first line (a pipe or a here-string)"))
    user = create_user(
        actor=Actor.system(), email=email, role=role, password=password, agency_code=agency_code, locale=locale
    )
    emit(
        {"id": user.id, "email": user.email, "role": user.role, "agency": agency_code},
        as_json,
        f"user {user.email} created ({user.role})",
    )


@users_cli.command("token")
@click.argument("email")
@click.option("--name", "label", default="cli", show_default=True, help="A label for the token.")
@json_option
@reports_errors
def token_command(email, label, as_json):
    """Mint an API token; printed once, as the last line of stdout."""
    from portal.accounts.services import create_token, get_user_by_email

    user = get_user_by_email(email)
    if user is None:
        fail(_l("unknown user %(email)s", email=email))
    _token, clear = create_token(actor=Actor.system(), user=user, label=label)
    if as_json:
        click.echo(json.dumps({"token": clear}))
    else:
        click.echo(f"token {label!r} for {user.email} (shown once; store it now):")
        click.echo(clear)


@cases_cli.command("import")
@click.argument("file")
@click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row is bad.")
@click.option("--user", "email", default=None, help="Act as this user (default: the system).")
@json_option
@reports_errors
def import_command(file, all_or_nothing, email, as_json):
    """Insert or update cases from a lender cases file (docs/reference/records.md)."""
    from portal.cases.importing import import_cases

    with open_input(file) as stream:
        result = import_cases(
            actor=cli_actor(email), stream=stream, filename=Path(file).name, all_or_nothing=all_or_nothing
        )
    for error in result.errors:
        click.echo(f"line {error.line}: {error.field}: {error.code}: {error.message}", err=True)
    verb = "imported" if result.applied else "nothing imported (--all-or-nothing)"
    emit(
        result.as_dict(),
        as_json,
        f"{verb}: {result.inserted} inserted, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.rejected} rejected",
    )
    if result.errors and not result.applied:
        sys.exit(1)


@cases_cli.command("place")
@click.argument("file")
@click.option("--user", "email", default=None, help="Act as this user (default: the system).")
@json_option
@reports_errors
def place_command(file, email, as_json):
    """Place cases by hand from a CSV case_ref,agency,placed_at,expires_at."""
    from portal.cases.placing import place_cases

    with open_input(file) as stream:
        result = place_cases(
            actor=cli_actor(email), stream=stream, lender_timezone=current_app.config["PORTAL_TIMEZONE"]
        )
    for error in result.errors:
        click.echo(f"line {error.line}: {error.field}: {error.code}: {error.message}", err=True)
    by_agency = ", ".join(f"{k} {v}" for k, v in sorted(result.by_agency.items())) or "none"
    emit(
        result.as_dict(),
        as_json,
        f"{result.placed} placed ({by_agency}), {result.unchanged} already placed, {result.rejected} rejected",
    )


@cases_cli.command("flag")
@click.argument("case_ref")
@click.argument("flag", type=click.Choice(FLAGS))
@click.option("--reason", required=True, help="Why (kept in the flag's history and the audit trail).")
@click.option(
    "--from",
    "from_day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day it takes effect, in the debtor's timezone (default: today; with --clear: now).",
)
@click.option("--clear", is_flag=True, help="End the flag instead of setting it.")
@click.option("--user", "email", default=None, help="Act as this user (default: the system).")
@json_option
@reports_errors
def flag_command(case_ref, flag, reason, from_day, clear, email, as_json):
    """Set (or clear) a case flag from a day; the flag's history is kept (docs/cases.md)."""
    from portal.cases.flags import change_case_flag

    change = change_case_flag(
        actor=cli_actor(email),
        case_ref=case_ref,
        flag=flag,
        reason=reason,
        from_day=from_day.date() if from_day else None,
        clear=clear,
    )
    if change.action == "set":
        since = change.effective_from.isoformat() if change.effective_from else ""
        text = _l("%(case_ref)s: %(flag)s set from %(since)s", case_ref=case_ref, flag=flag, since=since)
    elif change.action == "cleared":
        until = change.effective_to.isoformat() if change.effective_to else ""
        text = _l("%(case_ref)s: %(flag)s cleared at %(until)s", case_ref=case_ref, flag=flag, until=until)
    elif clear:
        text = _l("%(case_ref)s: %(flag)s is not set; nothing changed", case_ref=case_ref, flag=flag)
    else:
        text = _l("%(case_ref)s: %(flag)s is already set; nothing changed", case_ref=case_ref, flag=flag)
    emit(change.as_dict(), as_json, str(text))


@demo_cli.command("seed")
@json_option
@reports_errors
def seed_command(as_json):
    """Demo agencies, one user per role (passwords printed), cases and placements."""
    from portal.demo.seed import DEMO_PASSWORD, seed_demo

    result = seed_demo()
    lines = [
        "" if result["created"] else "demo data already present; nothing added",
        f"demo logins (password for all: {DEMO_PASSWORD}):",
    ]
    lines += [f"  {u['role']:<13} {u['email']}" for u in result["users"]]
    emit(result, as_json, "\n".join(line for line in lines if line))


def register_commands(app: Flask) -> None:
    from portal.audit.cli import audit_cli
    from portal.uploads.cli import adapters_cli, uploads_cli, worker_command

    for group in (agencies_cli, users_cli, cases_cli, demo_cli, uploads_cli, adapters_cli, worker_command, audit_cli):
        app.cli.add_command(group)
