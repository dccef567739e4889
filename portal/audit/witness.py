"""Checkpoints outside the database: write-once files and a witness URL, written after signing and read by verify."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from portal.audit.verify import checkpoint_problem
from portal.errors import PortalError

FILE_PATTERN = re.compile(r"checkpoint-(\d{12})\.json")
CHECKPOINT_KEYS = ("tree_size", "root_hash", "timestamp", "key_id", "public_key", "signature")


class CheckpointPublishError(PortalError):
    """The checkpoint is stored, but could not be written to the second location."""

    code = "checkpoint_publish_failed"
    status = 502


@dataclass(frozen=True)
class WitnessSettings:
    """Where checkpoints go besides the database (from the PORTAL_AUDIT_CHECKPOINT_* settings)."""

    directory: str | None = None
    url: str | None = None
    timeout: float = 2.0

    @classmethod
    def from_config(cls, config: Any) -> WitnessSettings:
        return cls(
            directory=config.get("PORTAL_AUDIT_CHECKPOINT_DIR") or None,
            url=config.get("PORTAL_AUDIT_CHECKPOINT_URL") or None,
            timeout=float(config.get("PORTAL_AUDIT_CHECKPOINT_TIMEOUT") or 2.0),
        )


@dataclass
class Published:
    """Where a checkpoint was written besides the database."""

    path: str | None = None
    url: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "url": self.url, "errors": self.errors}


def file_name(tree_size: int) -> str:
    return f"checkpoint-{tree_size:012d}.json"


def file_body(checkpoint: dict[str, Any]) -> bytes:
    return (json.dumps(checkpoint, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_once(directory: Path, checkpoint: dict[str, Any]) -> Path:
    """Create ``checkpoint-<tree_size>.json`` exclusively and read-only; an existing file is never opened for writing.

    A second write of the same tree size is refused (``CheckpointPublishError``) unless the file
    already holds exactly these bytes, which is the same statement published before.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(checkpoint["tree_size"])
    body = file_body(checkpoint)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        if path.read_bytes() == body:
            return path
        raise CheckpointPublishError(f"{path} exists with other content; refusing to overwrite it") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
    except OSError:
        # A half-written file would be refused forever after: remove it so the next attempt can write it whole.
        path.unlink(missing_ok=True)
        raise
    return path


def publish(checkpoint: dict[str, Any], settings: WitnessSettings, *, to_url: bool = True) -> Published:
    """Write the checkpoint to the directory and POST it to the witness URL (each optional).

    Failures are collected in ``errors``, never raised: one witness being down does not stop the other,
    and never the caller.
    """
    published = Published()
    if settings.directory:
        try:
            published.path = str(write_once(Path(settings.directory), checkpoint))
        except (OSError, CheckpointPublishError) as exc:
            published.errors.append(f"checkpoint directory: {getattr(exc, 'message', None) or exc}")
    if settings.url and to_url:
        try:
            response = requests.post(settings.url, json=checkpoint, timeout=settings.timeout)
            response.raise_for_status()
            published.url = settings.url
        except requests.RequestException as exc:
            published.errors.append(f"checkpoint URL: {exc}")
    return published


@dataclass
class Witnessed:
    """The checkpoints found outside the database, and what could not be read."""

    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    # (where, why) for a file or an answer that is not a valid checkpoint: verify reports them.
    invalid: list[tuple[str, str]] = field(default_factory=list)
    # A witness that did not answer: noted, not a verification failure (its copy is still out there).
    unreachable: list[str] = field(default_factory=list)

    @property
    def newest_size(self) -> int | None:
        return max((cp["tree_size"] for cp in self.checkpoints), default=None)


def _as_checkpoint(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not all(k in value for k in CHECKPOINT_KEYS):
        return None
    if not isinstance(value["tree_size"], int) or isinstance(value["tree_size"], bool) or value["tree_size"] < 0:
        return None
    return {k: value[k] for k in CHECKPOINT_KEYS}


def _accept(witnessed: Witnessed, where: str, value: Any, trusted_key_ids: set[str], *, remote: bool = False) -> None:
    checkpoint = _as_checkpoint(value)
    if checkpoint is None:
        # A file named like a checkpoint is the portal's own and must be one; a witness that answers
        # something else does not speak the protocol: a note, not evidence of tampering.
        if remote:
            witnessed.unreachable.append(f"{where}: the answer is not a checkpoint")
        else:
            witnessed.invalid.append((where, "not a checkpoint"))
        return
    problem = checkpoint_problem(checkpoint)
    if problem is None and checkpoint["key_id"] not in trusted_key_ids:
        problem = f"signed by key {checkpoint['key_id']}, which never signed for this portal"
    if problem:
        witnessed.invalid.append((where, problem))
        return
    checkpoint["source"] = where
    witnessed.checkpoints.append(checkpoint)


def read_witnessed(
    settings: WitnessSettings, *, trusted_key_ids: set[str], stored: dict[int, dict[str, Any]] | None = None
) -> Witnessed:
    """Every checkpoint file in the directory and the witness URL's newest checkpoint.

    ``stored`` (the database's checkpoints by size, already checked) lets a file that says exactly
    what its database twin says skip the signature check: only files that differ, or whose twin is
    gone, cost one.
    """
    witnessed = Witnessed()
    stored = stored or {}
    if settings.directory and os.path.isdir(settings.directory):
        for entry in sorted(os.scandir(settings.directory), key=lambda e: e.name):
            match = FILE_PATTERN.fullmatch(entry.name)
            if not match or not entry.is_file():
                continue
            where = f"file {entry.name}"
            try:
                value = json.loads(Path(entry.path).read_bytes())
            except (OSError, ValueError) as exc:
                witnessed.invalid.append((where, f"unreadable: {exc}"))
                continue
            twin = stored.get(int(match.group(1)))
            if twin is not None and _as_checkpoint(value) == twin:
                witnessed.checkpoints.append({**twin, "source": where})
                continue
            if isinstance(value, dict) and value.get("tree_size") != int(match.group(1)):
                witnessed.invalid.append((where, "its tree size is not the one its name says"))
                continue
            _accept(witnessed, where, value, trusted_key_ids)
    if settings.url:
        try:
            response = requests.get(settings.url, timeout=settings.timeout, headers={"Accept": "application/json"})
            if response.status_code != 404:  # 404: the witness holds no checkpoint yet
                response.raise_for_status()
                _accept(witnessed, "witness URL", response.json(), trusted_key_ids, remote=True)
        except (requests.RequestException, ValueError) as exc:
            witnessed.unreachable.append(f"witness URL: {exc}")
    return witnessed
