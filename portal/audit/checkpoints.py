"""Signed checkpoints of the audit tree: made every N events and on demand, stored, and published write-once."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from portal.audit.merkle import TreeBuilder
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.signing import load_or_create_key, sign_checkpoint
from portal.db import utcnow
from portal.errors import PortalError
from portal.extensions import db

KEY_FILE = "audit_signing_key.pem"
_KEY_EXTENSION = "portal.audit_signing_key"
# A witness that does not answer within this many seconds is reported as failed; the checkpoint stays stored.
PUBLISH_TIMEOUT_S = 10
_LEAF_CHUNK = 50_000


class AuditIntegrityError(PortalError):
    """The stored trail contradicts itself (a gap, a shrunken tree, a checkpoint that does not match)."""

    code = "audit_integrity"
    status = 409


class CheckpointPublishError(PortalError):
    """The checkpoint is stored, but could not be written to the second location."""

    code = "checkpoint_publish_failed"
    status = 502


def signing_key(app: Flask | None = None) -> Ed25519PrivateKey:
    """The checkpoint key: ``PORTAL_AUDIT_SIGNING_KEY`` (PEM, base64 seed or a path), else one generated
    once into the instance folder. Loaded once per app."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    key = app.extensions.get(_KEY_EXTENSION)
    if key is None:
        source = app.config.get("PORTAL_AUDIT_SIGNING_KEY") or Path(app.instance_path) / KEY_FILE
        key = app.extensions[_KEY_EXTENSION] = load_or_create_key(source)
    return key


def tree_size(session: Session | None = None) -> int:
    """The number of events (= the last seq) visible to ``session``."""
    session = session or db.session()
    return session.execute(select(func.max(AuditEvent.seq))).scalar() or 0


def latest_checkpoint(session: Session | None = None) -> AuditCheckpoint | None:
    session = session or db.session()
    return session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
    ).scalar_one_or_none()


def checkpoint_of_size(size: int, session: Session | None = None) -> AuditCheckpoint | None:
    session = session or db.session()
    return session.execute(select(AuditCheckpoint).where(AuditCheckpoint.tree_size == size)).scalar_one_or_none()


def covering_checkpoint(seq: int, session: Session | None = None) -> AuditCheckpoint | None:
    """The first (smallest) checkpoint whose tree includes ``seq``."""
    session = session or db.session()
    return session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.tree_size >= seq).order_by(AuditCheckpoint.tree_size).limit(1)
    ).scalar_one_or_none()


def _extend(session: Session, builder: TreeBuilder, size: int) -> None:
    """Append the stored leaf hashes of seqs builder.size+1..size, refusing gaps."""
    while builder.size < size:
        start = builder.size
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.leaf_hash)
            .where(AuditEvent.seq > start, AuditEvent.seq <= size)
            .order_by(AuditEvent.seq)
            .limit(_LEAF_CHUNK)
        ).all()
        if not rows:
            raise AuditIntegrityError(f"audit events {start + 1}..{size} are missing")
        for seq, leaf in rows:
            if seq != builder.size + 1:
                raise AuditIntegrityError(f"audit event {builder.size + 1} is missing")
            builder.append(bytes.fromhex(leaf))


def make_checkpoint(
    *, session: Session | None = None, key: Ed25519PrivateKey | None = None
) -> tuple[AuditCheckpoint, bool]:
    """Sign the tree as ``session`` sees it now; returns the checkpoint and whether it is new.

    The root is computed from the previous checkpoint's compact range plus the leaves added
    since, so a checkpoint costs the new events, not the whole trail. When no event was added
    since the latest checkpoint, that one is returned. The caller commits.
    """
    session = session or db.session()
    key = key or signing_key()
    size = tree_size(session)
    latest = latest_checkpoint(session)
    if latest is not None and latest.tree_size == size:
        return latest, False
    if latest is not None and latest.tree_size > size:
        raise AuditIntegrityError(f"the trail holds {size} events, but a checkpoint signed {latest.tree_size}")
    builder = TreeBuilder()
    if latest is not None:
        builder = TreeBuilder(latest.tree_size, latest.compact_hashes)
        if builder.root().hex() != latest.root_hash:
            raise AuditIntegrityError(f"the checkpoint of {latest.tree_size} events does not match its compact range")
    _extend(session, builder, size)
    # Whole seconds: the row then reproduces the signed timestamp string exactly.
    now = utcnow().replace(microsecond=0)
    signed = sign_checkpoint(size, builder.root(), now, key)
    checkpoint = AuditCheckpoint(
        tree_size=size,
        root_hash=signed["root_hash"],
        signed_at=now,
        key_id=signed["key_id"],
        public_key=signed["public_key"],
        signature=signed["signature"],
        compact_range=" ".join(h.hex() for h in builder.compact_range),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint, True


@dataclass
class Published:
    """Where a checkpoint was written besides the database."""

    path: str | None = None
    url: str | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "url": self.url, "errors": self.errors}


def _write_once(directory: Path, checkpoint: dict[str, Any]) -> Path:
    """Create ``checkpoint-<tree_size>.json`` read-only; never replace a different one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{checkpoint['tree_size']:012d}.json"
    body = (json.dumps(checkpoint, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        if path.read_bytes() == body:
            return path  # published before: the same statement again
        raise CheckpointPublishError(f"{path} exists with other content; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    return path


def publish_checkpoint(checkpoint: dict[str, Any], app: Flask | None = None) -> Published:
    """Write the checkpoint to ``PORTAL_AUDIT_CHECKPOINT_DIR`` and POST it to ``PORTAL_AUDIT_CHECKPOINT_URL``.

    Both are optional; failures are collected in ``errors`` rather than raised, so that one
    witness being down does not stop the other.
    """
    config = (app or current_app).config
    published = Published()
    directory = config.get("PORTAL_AUDIT_CHECKPOINT_DIR")
    if directory:
        try:
            published.path = str(_write_once(Path(directory), checkpoint))
        except (OSError, CheckpointPublishError) as exc:
            published.errors.append(f"checkpoint directory: {getattr(exc, 'message', None) or exc}")
    url = config.get("PORTAL_AUDIT_CHECKPOINT_URL")
    if url:
        try:
            response = requests.post(url, json=checkpoint, timeout=PUBLISH_TIMEOUT_S)
            response.raise_for_status()
            published.url = url
        except requests.RequestException as exc:
            published.errors.append(f"checkpoint URL: {exc}")
    return published


def create_checkpoint() -> tuple[AuditCheckpoint, bool, Published]:
    """``flask audit checkpoint``: sign the tree now, commit, and publish the (new or latest) checkpoint."""
    checkpoint, created = make_checkpoint()
    db.session.commit()
    return checkpoint, created, publish_checkpoint(checkpoint.as_checkpoint())


def checkpoint_quietly(app: Flask) -> None:
    """The automatic checkpoint after a commit: in its own session, logging instead of raising."""
    try:
        with Session(db.engine) as session:
            checkpoint, created = make_checkpoint(session=session, key=signing_key(app))
            signed = checkpoint.as_checkpoint()
            session.commit()
    except IntegrityError:
        # Another process signed the same tree size at the same moment: its checkpoint stands.
        return
    except (SQLAlchemyError, PortalError, OSError, ValueError):
        app.logger.exception("audit checkpoint failed; the next checkpoint will cover these events")
        return
    if created:
        published = publish_checkpoint(signed, app)
        for error in published.errors:
            app.logger.error("audit checkpoint of %s events not published: %s", signed["tree_size"], error)
