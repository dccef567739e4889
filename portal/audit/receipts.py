"""Audit receipts: proof, kept by whoever caused an event, that the event is in the portal's signed tree.

``receipt_for(seq)`` needs the app and its database; ``verify_receipt(receipt)`` needs only the
standard library and ``cryptography`` (it lives in the stand-alone ``portal/audit/verify.py``,
which a client may copy on its own).
"""

from __future__ import annotations

from typing import Any

from portal.audit.verify import RECEIPT_FORMAT, receipt_problem, verify_receipt

__all__ = ["RECEIPT_FORMAT", "receipt_for", "receipt_problem", "verify_receipt"]


def receipt_for(seq: int, *, include_event: bool = True) -> dict[str, Any]:
    """The receipt of event ``seq``: its leaf hash (and event), a signed checkpoint including it, the proof.

    The checkpoint is the first stored one whose tree includes ``seq``; when none does yet, one
    is signed now in the current session (the caller commits it, e.g. with the transaction that
    recorded the event). Raises NotFoundError for a seq the trail does not hold.

    Shape: ``{"format": "portal-audit-receipt/1", "seq", "leaf_hash", "event", "checkpoint",
    "proof": {"seq", "tree_size", "path": [hex]}}`` (contract section 9's checkpoint and proof).
    """
    # Imported here so that verifying a receipt never needs Flask or SQLAlchemy.
    from portal.audit.checkpoints import covering_checkpoint
    from portal.audit.integrity import inclusion
    from portal.audit.models import AuditEvent
    from portal.errors import NotFoundError
    from portal.extensions import db

    session = db.session()
    event = session.get(AuditEvent, seq) if seq >= 1 else None
    if event is None:
        raise NotFoundError(f"no audit event {seq}")
    checkpoint = covering_checkpoint(seq, session) or _checkpoint_including(seq)
    path = inclusion(seq, checkpoint.tree_size, session)["inclusion_path"]
    receipt: dict[str, Any] = {"format": RECEIPT_FORMAT, "seq": seq, "leaf_hash": event.leaf_hash}
    if include_event:
        receipt["event"] = event.as_leaf_object()
    receipt["checkpoint"] = checkpoint.as_checkpoint()
    receipt["proof"] = {"seq": seq, "tree_size": checkpoint.tree_size, "path": path}
    return receipt


def _checkpoint_including(seq: int):
    """Sign a checkpoint including ``seq``: committed on its own if the event is, else in the caller's transaction."""
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from portal.audit.checkpoints import covering_checkpoint, make_checkpoint, publish_checkpoint
    from portal.audit.models import AuditEvent
    from portal.extensions import db

    with Session(db.engine, expire_on_commit=False) as own:
        if own.get(AuditEvent, seq) is not None:
            try:
                checkpoint, created = make_checkpoint(session=own)
                own.commit()
            except IntegrityError:
                # Another process signed this tree size just now; use its checkpoint.
                own.rollback()
                return covering_checkpoint(seq, own)
            if created:
                publish_checkpoint(checkpoint.as_checkpoint())
            return checkpoint
    # The event is not committed yet: the checkpoint joins the transaction that recorded it.
    checkpoint, _created = make_checkpoint()
    return checkpoint
