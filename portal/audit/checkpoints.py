"""Signed checkpoints of the audit tree: made every N events, on an interval and on demand; stored and published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from portal.audit.merkle import TreeBuilder
from portal.audit.models import AuditCheckpoint, AuditEvent
from portal.audit.signing import load_or_create_key, sign_checkpoint
from portal.audit.tail import tail_state
from portal.audit.witness import Published, WitnessSettings, publish
from portal.db import utcnow
from portal.errors import PortalError
from portal.extensions import db

KEY_FILE = "audit_signing_key.pem"
_KEY_EXTENSION = "portal.audit_signing_key"
_LEAF_CHUNK = 50_000


class AuditIntegrityError(PortalError):
    """The stored trail contradicts itself (a gap, a shrunken tree, a checkpoint that does not match)."""

    code = "audit_integrity"
    status = 409


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


def publish_checkpoint(
    checkpoint: dict[str, Any], app: Flask | None = None, *, to_url: bool | None = None
) -> Published:
    """Write the checkpoint to ``PORTAL_AUDIT_CHECKPOINT_DIR`` and POST it to ``PORTAL_AUDIT_CHECKPOINT_URL``.

    Both are optional; failures are collected in ``errors`` rather than raised, so that one
    witness being down does not stop the other. A failed POST is retried later (``tail``): until
    then requests (``to_url`` None) do not wait for that witness again; the tail timer and
    ``flask audit checkpoint`` (``to_url`` True) do.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if to_url is None:
        to_url = not tail_state(app).url_failed
    published = publish(checkpoint, WitnessSettings.from_config(app.config), to_url=to_url)
    tail_state(app).note_published(checkpoint["tree_size"], published, to_url=to_url)
    return published


def create_checkpoint() -> tuple[AuditCheckpoint, bool, Published]:
    """``flask audit checkpoint``: sign the tree now, commit, and publish the (new or latest) checkpoint."""
    checkpoint, created = make_checkpoint()
    db.session.commit()
    return checkpoint, created, publish_checkpoint(checkpoint.as_checkpoint(), to_url=True)


def checkpoint_quietly(app: Flask, *, background: bool = False) -> None:
    """Sign and publish a checkpoint in a session of its own, logging instead of raising.

    Used after the caller's commit (every N events, or the interval) and by the tail timer
    (``background``): a failure never touches a committed transaction, and the next checkpoint
    covers the same events. Once the witness URL has failed, requests no longer wait for it: only
    the timer retries it.
    """
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
    if created or not tail_state(app).delivered(signed["tree_size"], app.config):
        _publish_logged(signed, app, background=background)


def publish_latest_quietly(app: Flask, *, background: bool = False) -> None:
    """Publish the newest stored checkpoint again (a witness missed it), logging instead of raising."""
    try:
        with Session(db.engine) as session:
            latest = latest_checkpoint(session)
            signed = latest.as_checkpoint() if latest is not None else None
    except SQLAlchemyError:
        app.logger.exception("audit checkpoint could not be read for publishing; retried later")
        return
    if signed is not None:
        _publish_logged(signed, app, background=background)


def _publish_logged(signed: dict[str, Any], app: Flask, *, background: bool) -> None:
    published = publish_checkpoint(signed, app, to_url=True if background else None)
    for error in published.errors:
        app.logger.error("audit checkpoint of %s events not published: %s", signed["tree_size"], error)
