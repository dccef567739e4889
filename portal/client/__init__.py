"""``portal-client``: upload files to the portal's API and fetch results, for agencies that automate.

This runs on agency machines: it needs the standard library and requests, never Flask or the
app (``portal.plugins`` is imported only for its formula-neutralising helper). See docs/client.md.

Exit statuses: ``EXIT_STATUSES`` in ``portal.client.transport`` (and ``portal-client --help``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TextIO

from portal.client.commands import (
    CASE_COLUMNS,
    cell,
    cmd_cases,
    cmd_errors,
    cmd_me,
    cmd_public_key,
    cmd_status,
    cmd_upload,
    cmd_verify_receipt,
)
from portal.client.times import TIMEZONE_ENV, override_zone
from portal.client.transport import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_STATUSES,
    EXIT_USAGE,
    VERSION,
    Api,
    ClientError,
    MultipartBody,
    Progress,
)

__all__ = ["CASE_COLUMNS", "Api", "ClientError", "MultipartBody", "build_parser", "cell", "main"]

DEFAULTS = {"timeout": 120.0, "retries": 4, "backoff": 0.5}


# --- command line --------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--url", default=default, help="portal address (env PORTAL_URL)")
    group.add_argument("--token", default=default, help="API token (env PORTAL_TOKEN; prefer the environment)")
    group.add_argument(
        "--timeout", type=float, default=default, help="seconds to wait for an answer (env PORTAL_CLIENT_TIMEOUT; 120)"
    )
    group.add_argument(
        "--retries", type=int, default=default, help="retries when unreachable (PORTAL_CLIENT_RETRIES; 4)"
    )
    group.add_argument(
        "--backoff",
        type=float,
        default=default,
        help="first retry delay in seconds, doubling (PORTAL_CLIENT_BACKOFF; 0.5)",
    )
    parser.add_argument("--json", action="store_true", default=default, help="compact JSON on stdout")
    parser.add_argument(
        "--timezone",
        default=default,
        help=f"show times in this IANA timezone (env {TIMEZONE_ENV}; default: your portal account's)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    exit_statuses = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_STATUSES.items())
    parser = argparse.ArgumentParser(
        prog="portal-client",
        description="Upload files to the collections portal and fetch results.",
        epilog=f"exit statuses:\n{exit_statuses}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"portal-client {VERSION}")
    _common(parser, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _common(sub, argparse.SUPPRESS)
        sub.set_defaults(handler=handler)
        return sub

    upload = command("upload", cmd_upload, "upload a contacts or settlements file and print its summary")
    upload.add_argument("file", help="the file to upload")
    upload.add_argument("--kind", required=True, choices=("contacts", "settlements"))
    upload.add_argument("--adapter", help="the adapter or format to read the file with (default: detected)")
    upload.add_argument("--wait", action="store_true", help="poll until the upload is completed or rejected")
    upload.add_argument("--interval", type=float, default=2.0, help="seconds between polls with --wait (2)")
    upload.add_argument("--wait-timeout", type=float, default=0, help="give up waiting after this many seconds")
    upload.add_argument(
        "--fail-on-rejected",
        action="store_true",
        help="exit 4 when the upload completed but some rows were rejected (implies --wait)",
    )
    upload.add_argument("--receipt-dir", help="save upload-<id>-receipt.json here when the server sends a receipt")

    status = command("status", cmd_status, "print an upload's summary")
    status.add_argument("id", type=upload_id, help="the upload's id, as the upload printed it (up_...)")

    errors = command("errors", cmd_errors, "download every rejected row of an upload as CSV")
    errors.add_argument("id", type=upload_id, help="the upload's id, as the upload printed it (up_...)")
    errors.add_argument("-o", "--output", default="-", help="file to write, - for stdout (default)")

    verify = command(
        "verify-receipt", cmd_verify_receipt, "check a saved upload receipt offline: signature, proof and event"
    )
    verify.add_argument("file", help="an upload-<id>-receipt.json saved by upload --receipt-dir")
    verify.add_argument(
        "--trusted-key",
        action="append",
        default=[],
        help="the portal's published key (key id or base64); repeatable. Without it the receipt's own key is used",
    )
    verify.add_argument(
        "--trusted-key-file",
        action="append",
        default=[],
        help="a key file saved by 'portal-client public-key -o FILE'; repeatable",
    )
    verify.set_defaults(offline=True)

    key = command(
        "public-key", cmd_public_key, "print the key that signs the audit checkpoints, to pin for verify-receipt"
    )
    key.add_argument("-o", "--output", default="-", help="file to write, - for stdout (default)")

    command("me", cmd_me, "print your account: e-mail, role, agency, timezone and language")

    cases = command("cases", cmd_cases, "download your cases as CSV, all pages")
    cases.add_argument("--status", help="only cases with this status")
    cases.add_argument("--bucket", help="only cases in this bucket (M1, M2, ...)")
    cases.add_argument("-o", "--output", default="-", help="file to write, - for stdout (default)")
    return parser


def _setting(args: argparse.Namespace, name: str, env: str, cast: Callable[[str], Any]) -> Any:
    value = getattr(args, name, None)
    if value is not None:
        return value
    raw = os.environ.get(env, "").strip()
    if not raw:
        return DEFAULTS[name]
    try:
        return cast(raw)
    except ValueError as exc:
        raise ClientError(None, f"{env}={raw!r} is not a number", EXIT_USAGE) from exc


def connect(args: argparse.Namespace, err: TextIO) -> Api:
    url = (args.url or os.environ.get("PORTAL_URL") or "").strip()
    token = (args.token or os.environ.get("PORTAL_TOKEN") or "").strip()
    if not url:
        raise ClientError(None, "no portal address: pass --url or set PORTAL_URL", EXIT_USAGE)
    if not url.startswith(("http://", "https://")):
        raise ClientError(None, f"the portal address must start with http:// or https:// (got {url!r})", EXIT_USAGE)
    if not token:
        raise ClientError(None, "no API token: pass --token or set PORTAL_TOKEN", EXIT_USAGE)
    timeout = _setting(args, "timeout", "PORTAL_CLIENT_TIMEOUT", float)
    retries = _setting(args, "retries", "PORTAL_CLIENT_RETRIES", int)
    backoff = _setting(args, "backoff", "PORTAL_CLIENT_BACKOFF", float)
    if timeout <= 0 or retries < 0 or backoff < 0:
        raise ClientError(None, "timeout must be positive, retries and backoff not negative", EXIT_USAGE)
    return Api(url, token, timeout=timeout, retries=retries, backoff=backoff, err=err)


# An upload's public id (portal.db.new_public_id): "up_" and 22 characters of Crockford's base32.
_UPLOAD_ID = re.compile(r"up_[0-9a-hjkmnp-tv-z]{22}")


def upload_id(value: str) -> str:
    """argparse type: an upload id as the portal prints it; anything else is a usage error, not a request."""
    if not _UPLOAD_ID.fullmatch(value.strip()):
        raise argparse.ArgumentTypeError(f"{value!r} is not an upload id (they look like up_7m2q...)")
    return value.strip()


def main(argv: list[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.json, args.quiet = bool(args.json), bool(args.quiet)
    Progress.open_line = False
    try:
        args.zone = override_zone(args.timezone)
        if getattr(args, "offline", False):
            return args.handler(None, args, out, err)
        with connect(args, err) as api:
            return args.handler(api, args, out, err)
    except ClientError as exc:
        err.write(f"\n{exc}\n" if Progress.open_line else f"{exc}\n")
        return exc.exit_code
    except OSError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
