"""portal-client's commands: upload, status, errors, cases."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import requests

from portal.client.transport import (
    CHUNK,
    EXIT_FAILED,
    EXIT_OK,
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


def print_summary(summary: dict[str, Any], args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        out.write(json.dumps(summary, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        out.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")


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
    if args.wait:
        summary = wait_for(api, summary, args, err)
    print_summary(summary, args, out)
    save_receipt(summary, args.receipt_dir, err)
    err.write(f"portal-client: {describe_upload(summary)}\n")
    if summary.get("status") == "rejected":
        err.write(f"portal-client: every rejected row: portal-client errors {summary['id']} -o errors.csv\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_status(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    print_summary(api.get_json(f"/uploads/{args.id}"), args, out)
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
                writer.writerow([cell(item.get(column)) for column in columns])
            sink.write(text.getvalue().encode("utf-8"))
            count += len(items)
            cursor = page.get("next")
            if not cursor:
                break
    if args.output != "-":
        err.write(f"portal-client: {count} cases written to {args.output}\n")
    return EXIT_OK


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
    problem = receipt_problem(receipt, trusted_keys=args.trusted_key)
    if problem:
        err.write(f"receipt NOT valid: {problem}\n")
        return EXIT_FAILED
    checkpoint = receipt["checkpoint"]
    trust = "a trusted key" if args.trusted_key else "the key it names (pass --trusted-key to pin the portal's key)"
    out.write(
        f"receipt OK: audit event {receipt['seq']} is leaf {receipt['leaf_hash']} of the tree of size "
        f"{checkpoint['tree_size']} signed at {checkpoint['timestamp']} by key {checkpoint['key_id']} ({trust})\n"
    )
    return 0
