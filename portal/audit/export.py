"""The auditor's bundle (contract section 9) from the stored trail, filtered by period and agency."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

from portal.audit.bundle import write_bundle
from portal.audit.checkpoints import make_checkpoint, publish_checkpoint
from portal.audit.integrity import leaf_objects, leaf_source
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.audit.trail import EVENT_COLUMNS, EventFilters, agency_by_code, filtered
from portal.extensions import db
from portal.security import Actor


def _sha256(out: str | os.PathLike[str] | IO[bytes]) -> str:
    digest = hashlib.sha256()
    if isinstance(out, str | os.PathLike):
        with Path(out).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    else:
        out.seek(0)
        for block in iter(lambda: out.read(1 << 20), b""):
            digest.update(block)
        out.seek(0)
    return digest.hexdigest()


def export_audit_bundle(
    *,
    actor: Actor,
    out: str | os.PathLike[str] | IO[bytes],
    filters: EventFilters | None = None,
) -> dict[str, Any]:
    """Write the bundle zip to a path or a seekable binary file; returns what it holds.

    A checkpoint of the whole trail as it stands is signed first (or the latest reused when
    nothing was added since), and every exported event gets its inclusion proof against it,
    so a bundle filtered by period (``since`` inclusive, ``until`` exclusive) or agency still
    proves each of its events against the full tree. Events are written from the columns, i.e.
    what the portal shows, so the offline verifier also catches an edited column. The export
    is recorded as ``audit:bundle:export`` with the zip's SHA-256.
    """
    filters = filters or EventFilters()
    if filters.agency:
        agency_by_code(filters.agency)  # an unknown code fails before anything is written
    checkpoint, created = make_checkpoint()
    signed = checkpoint.as_checkpoint()
    db.session.commit()
    if created:
        publish_checkpoint(signed)
    size = signed["tree_size"]
    query = filtered(select(EVENT_COLUMNS).where(AuditEvent.seq <= size), filters).order_by(AuditEvent.seq)
    stored: dict[int, str] = {}

    def events() -> Iterator[tuple[int, dict[str, Any]]]:
        for row, event in leaf_objects(db.session(), query):
            stored[row.seq] = row.leaf_hash
            yield row.seq, event

    shown_filters = {"since": None, "until": None, "agency": None, **filters.as_dict()}
    summary = write_bundle(
        out, events(), stored.pop, signed, tree_leaves=leaf_source(), filters=shown_filters, include_verifier=True
    )
    result = {**summary, "root_hash": signed["root_hash"], "filters": shown_filters, "sha256": _sha256(out)}
    record_event(actor=actor, action=AuditTag.AUDIT_BUNDLE_EXPORT, details=result)
    db.session.commit()
    return result
