"""portal-client's commands: upload, status, errors, cases, me, public-key, verify-receipt."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import requests

from portal.client.times import Clock, human_time, parse_instant
from portal.client.transport import (
    CHUNK,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_ROWS_REJECTED,
    EXIT_USAGE,
    Api,
    ClientError,
    MultipartBody,
    Progress,
    api_error,
    describe,
    human_size,
    json_body,
)
from portal.plugins import neutralise_formula

FINAL_STATUSES = frozenset({"completed", "rejected"})
CASE_COLUMNS = (
    "case_ref",
    "status",
    "bucket",
    "days_past_due",
    "outstanding_balance",
    "currency",
    "placed_at",
    "placement_expires_at",
    "agency",
)
PAGE_SIZE = 500


# --- output helpers ------------------------------------------------------------------------------


@contextmanager
def binary_output(target: str, out: TextIO) -> Iterator[BinaryIO]:
    """stdout for ``-``; otherwise ``target.part`` renamed to ``target`` once complete (never a half file)."""
    if target == "-":
        out.flush()
        sink = getattr(out, "buffer", None)
        if sink is None:  # a text-only stream (rare): decode on the way
            buffer = io.BytesIO()
            yield buffer
            out.write(buffer.getvalue().decode("utf-8"))
        else:
            yield sink
            sink.flush()
        return
    path = Path(target)
    part = path.with_name(path.name + ".part")
    try:
        handle = part.open("wb")
    except OSError as exc:
        raise ClientError(None, f"cannot write {target}: {exc.strerror or exc}", EXIT_USAGE) from exc
    try:
        with handle:
            yield handle
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)


def clock_for(api: Api | None, args: argparse.Namespace, err: TextIO) -> Clock:
    """``--timezone``/``PORTAL_CLIENT_TIMEZONE`` when given, else the portal's answer for this token."""
    return Clock(args.zone, (lambda: api.get_json("/me")) if api is not None else None, err)


def print_object(record: dict[str, Any], args: argparse.Namespace, out: TextIO, clock: Clock) -> None:
    """``--json``: the API's object exactly, times in UTC for programs. Otherwise indented, with its
    times on the agency's clock for people."""
    if args.json:
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        out.write(json.dumps(clock.human_fields(record), ensure_ascii=False, indent=2) + "\n")


def describe_upload(summary: dict[str, Any]) -> str:
    counts = ", ".join(
        f"{summary.get(key) or 0} {label}"
        for key, label in (
            ("rows_accepted", "accepted"),
            ("rows_rejected", "rejected"),
            ("rows_duplicate", "already held"),
            ("findings_total", "findings"),
        )
    )
    return f"upload {summary.get('id')} {summary.get('status')}: {summary.get('rows_total') or 0} rows ({counts})"


# --- commands ------------------------------------------------------------------------------------


def wait_for(api: Api, summary: dict[str, Any], args: argparse.Namespace, err: TextIO) -> dict[str, Any]:
    progress = Progress(err, f"processing upload {summary['id']}", enabled=not args.quiet)
    deadline = time.monotonic() + args.wait_timeout if args.wait_timeout else None
    while summary.get("status") not in FINAL_STATUSES:
        rows = summary.get("rows_processed")
        status = str(summary.get("status"))
        progress.show(int(summary.get("progress") or 0), f"{status}, {rows or 0} rows", status)
        if deadline is not None and time.monotonic() >= deadline:
            raise ClientError(
                "wait_timeout", f"upload {summary['id']} is still {summary.get('status')} after {args.wait_timeout:g}s"
            )
        time.sleep(args.interval)
        summary = api.get_json(f"/uploads/{summary['id']}")
    progress.show(100, f"{summary['status']}, {summary.get('rows_total') or 0} rows", str(summary["status"]))
    return summary


def save_receipt(summary: dict[str, Any], directory: str | None, err: TextIO) -> None:
    if not directory:
        return
    if "receipt" not in summary:
        err.write(f"portal-client: the server sent no receipt for upload {summary.get('id')}; none saved\n")
        return
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload-{summary['id']}-receipt.json"
    path.write_text(json.dumps(summary["receipt"], ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    err.write(f"portal-client: receipt saved to {path}\n")


def cmd_upload(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise ClientError(None, f"{args.file}: no such file", EXIT_USAGE)
    fields = {"kind": args.kind} | ({"adapter": args.adapter} if args.adapter else {})
    progress = Progress(err, f"uploading {path.name}", enabled=not args.quiet)
    body = MultipartBody(
        path, fields, lambda sent, total: progress.show(sent * 100 // total if total else 100, human_size(sent))
    )
    with api.request("POST", "/uploads", data=body, headers={"Content-Type": body.content_type}) as response:
        if response.status_code == 422:
            error = api_error(response)
            if error.code == "ambiguous_format":
                candidates = response.json()["error"].get("candidates") or []
                err.write(f"{error}\n")
                for c in candidates:
                    err.write(
                        f"  --adapter {c.get('format')}  ({c.get('adapter')}, confidence {c.get('confidence')})\n"
                    )
                err.write("pass --adapter with one of the formats above to choose\n")
                return EXIT_USAGE
            raise error
        summary = json_body(response)
    if summary.get("duplicate"):
        err.write(
            f"portal-client: {path.name} is a duplicate of upload {summary['id']} "
            f"(status {summary.get('status')}); nothing was stored again\n"
        )
    if args.wait or args.fail_on_rejected:
        summary = wait_for(api, summary, args, err)
    print_object(summary, args, out, clock_for(api, args, err))
    save_receipt(summary, args.receipt_dir, err)
    err.write(f"portal-client: {describe_upload(summary)}\n")
    fetch_errors = f"portal-client errors {summary['id']} -o errors.csv"
    if summary.get("status") == "rejected":
        err.write(f"portal-client: every rejected row: {fetch_errors}\n")
        return EXIT_FAILED
    rejected_rows = int(summary.get("rows_rejected") or 0)
    if summary.get("status") == "completed" and rejected_rows:
        # Said even with --quiet: the accepted rows are stored, but the rejected ones need someone's attention.
        err.write(
            f"portal-client: warning: {rejected_rows} of {summary.get('rows_total') or 0} rows of upload "
            f"{summary['id']} were rejected; every rejected row: {fetch_errors}\n"
        )
        if args.fail_on_rejected:
            return EXIT_ROWS_REJECTED
    return EXIT_OK


def cmd_status(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    print_object(api.get_json(f"/uploads/{args.id}"), args, out, clock_for(api, args, err))
    return EXIT_OK


def cmd_me(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    print_object(api.get_json("/me"), args, out, clock_for(api, args, err))
    return EXIT_OK


def cmd_public_key(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    key = api.get_json("/audit/public-key")
    with binary_output(args.output, out) as sink:
        text = json.dumps(key, ensure_ascii=False, **({"separators": (",", ":")} if args.json else {"indent": 2}))
        sink.write((text + "\n").encode("utf-8"))
    if args.output != "-":
        err.write(
            f"portal-client: audit key {key.get('key_id')} saved to {args.output}; confirm the key id with the "
            f"lender, then: portal-client verify-receipt RECEIPT --trusted-key-file {args.output}\n"
        )
    return EXIT_OK


def cmd_errors(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with api.request("GET", f"/uploads/{args.id}/errors.csv", stream=True, headers={"Accept": "text/csv"}) as response:
        if not response.ok:
            raise api_error(response)
        size = 0
        try:
            with binary_output(args.output, out) as sink:
                for chunk in response.iter_content(CHUNK):
                    sink.write(chunk)
                    size += len(chunk)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise ClientError("incomplete", f"the download broke off: {describe(exc)}") from exc
    if args.output != "-":
        err.write(f"portal-client: errors of upload {args.id} written to {args.output} ({human_size(size)})\n")
    return EXIT_OK


def cmd_cases(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    params = {"limit": PAGE_SIZE} | {k: v for k, v in (("status", args.status), ("bucket", args.bucket)) if v}
    clock = clock_for(api, args, err)
    columns: list[str] | None = None
    count = 0
    with binary_output(args.output, out) as sink:
        cursor = None
        while True:
            page = api.get_json("/cases", params | ({"cursor": cursor} if cursor else {}))
            items = page.get("items") or []
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\r\n")
            if columns is None:
                columns = list(CASE_COLUMNS) + [k for k in (items[0] if items else {}) if k not in CASE_COLUMNS]
                writer.writerow(columns)
            for item in items:
                writer.writerow([cell(local_iso(column, item.get(column), clock)) for column in columns])
            sink.write(text.getvalue().encode("utf-8"))
            count += len(items)
            cursor = page.get("next")
            if not cursor:
                break
    if args.output != "-":
        err.write(f"portal-client: {count} cases written to {args.output}\n")
    return EXIT_OK


def local_iso(column: str, value: Any, clock: Clock) -> Any:
    """A ``*_at`` time as ISO 8601 in the agency's timezone: still exact and machine-readable, and the
    wall-clock time a spreadsheet shows is the one the agency lives by."""
    return clock.iso(value) if column.endswith("_at") else value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, (dict, list)):
        return neutralise_formula(json.dumps(value, ensure_ascii=False))
    return str(value)


def cmd_verify_receipt(api: None, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Offline: no portal needed, only the standard library and ``cryptography``."""
    from portal.audit.verify import receipt_problem

    try:
        receipt = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClientError(None, f"cannot read the receipt {args.file}: {exc}", EXIT_USAGE) from exc
    trusted = list(args.trusted_key) + [key for path in args.trusted_key_file for key in pinned_keys(path)]
    problem = receipt_problem(receipt, trusted_keys=trusted)
    if problem:
        err.write(f"receipt NOT valid: {problem}\n")
        return EXIT_FAILED
    checkpoint = receipt["checkpoint"]
    trust = "a trusted key" if trusted else "the key it names (pass --trusted-key-file to pin the portal's key)"
    # Offline there is no portal to ask for the agency's timezone: UTC unless --timezone says otherwise.
    signed_at = parse_instant(checkpoint["timestamp"])
    when = human_time(signed_at, args.zone or UTC) if signed_at else checkpoint["timestamp"]
    out.write(
        f"receipt OK: audit event {receipt['seq']} is leaf {receipt['leaf_hash']} of the tree of size "
        f"{checkpoint['tree_size']} signed at {when} by key {checkpoint['key_id']} ({trust})\n"
    )
    return EXIT_OK


def pinned_keys(path: str) -> list[str]:
    """The public keys a file saved by ``portal-client public-key -o`` pins: the current one and earlier ones.

    The full key, not its 64-bit id: the id only names a key, the key itself is what the signature checks."""
    try:
        saved = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = [saved, *(saved.get("previous_keys") or [])]
        return [str(key["public_key"]) for key in keys]
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        raise ClientError(
            None, f"{path}: not a key file saved by portal-client public-key -o ({exc})", EXIT_USAGE
        ) from exc
