"""``/api/v1/audit``: events, verification, signed checkpoints and RFC 9162 proofs (compliance and admin),
and the checkpoint signing key, which every API user may fetch to pin."""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from sqlalchemy import func, select

from portal.api import bp, require_roles
from portal.audit import integrity, trail
from portal.audit.checkpoints import checkpoint_of_size, latest_checkpoint, signing_key, tree_size
from portal.audit.models import AuditCheckpoint
from portal.audit.services import record_event
from portal.audit.signing import key_id, public_key_b64
from portal.audit.tags import AuditTag
from portal.errors import NotFoundError, PortalError, ValidationError
from portal.extensions import db
from portal.security import Role

AUDIT_ROLES = (Role.COMPLIANCE, Role.ADMIN)


def _int_arg(name: str, *, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        if default is None:
            raise PortalError(f"{name} is required", code="invalid_parameter")
        return default
    if not raw.isdigit() or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise PortalError(f"{name} must be a whole number {bounds}", code="invalid_parameter")
    return int(raw)


def _size_arg(name: str, *, default: int, minimum: int = 0) -> int:
    size = _int_arg(name, default=default, minimum=minimum)
    current = tree_size()
    if size > current:
        raise PortalError(f"{name} {size} is beyond the trail's {current} events", code="invalid_parameter")
    return size


def _record_proof(details: dict[str, object]) -> None:
    record_event(actor=g.actor, action=AuditTag.AUDIT_PROOF_READ, details=details)
    db.session.commit()


@bp.get("/audit/events")
def audit_events():
    require_roles(*AUDIT_ROLES)
    timezone = current_app.config["PORTAL_TIMEZONE"]
    args = request.args
    try:
        filters = trail.EventFilters(
            since=trail.parse_when(args.get("since"), timezone, field_name="since"),
            until=trail.parse_when(args.get("until"), timezone, field_name="until", end_of_day=True),
            actor=args.get("actor", ""),
            agency=args.get("agency", ""),
            action=args.get("action", ""),
            object_type=args.get("object_type", ""),
            object_id=args.get("object_id", ""),
        )
        page = trail.read_events(
            actor=g.actor,
            filters=filters,
            cursor=args.get("cursor") or None,
            limit=_int_arg("limit", default=100, minimum=1, maximum=trail.MAX_PAGE_SIZE),
            newest_first=False,
            view="api",
        )
    except ValidationError as exc:
        raise PortalError(exc.message, code="invalid_parameter") from exc
    return jsonify({"items": [trail.event_json(row) for row in page.rows], "next": page.next_cursor})


@bp.get("/audit/verify")
def audit_verify():
    require_roles(*AUDIT_ROLES)
    from portal.audit.witness import WitnessSettings

    witness = WitnessSettings.from_config(current_app.config)
    return jsonify(trail.verify_audit_trail(actor=g.actor, witness=witness).as_dict())


@bp.get("/audit/checkpoint")
def audit_checkpoint():
    """The latest signed checkpoint, or the one of ``?tree_size=``."""
    require_roles(*AUDIT_ROLES)
    wanted = request.args.get("tree_size")
    checkpoint = checkpoint_of_size(_int_arg("tree_size")) if wanted else latest_checkpoint()
    if checkpoint is None:
        raise NotFoundError("no checkpoint of that size has been signed")
    return jsonify(checkpoint.as_checkpoint())


@bp.get("/audit/public-key")
def audit_public_key():
    """The key that signs checkpoints now, for every role: agencies pin it to verify their upload receipts.

    A public key is no secret, and an agency that could only read it from a receipt could not tell a
    forged receipt from a real one. After a key change, ``previous_keys`` lists the keys that signed
    stored checkpoints before (most recently used first), so that receipts saved earlier still verify.
    """
    public_key = signing_key().public_key()
    current = key_id(public_key)
    previous = db.session.execute(
        select(AuditCheckpoint.key_id, AuditCheckpoint.public_key)
        .where(AuditCheckpoint.key_id != current)
        .group_by(AuditCheckpoint.key_id, AuditCheckpoint.public_key)
        .order_by(func.max(AuditCheckpoint.tree_size).desc())
    ).all()
    return jsonify(
        {
            "key_id": current,
            "public_key": public_key_b64(public_key),
            "algorithm": "Ed25519",
            "previous_keys": [{"key_id": kid, "public_key": key, "algorithm": "Ed25519"} for kid, key in previous],
        }
    )


@bp.get("/audit/proof/inclusion")
def audit_inclusion_proof():
    require_roles(*AUDIT_ROLES)
    size = _size_arg("tree_size", default=integrity.default_tree_size(), minimum=1)
    seq = _int_arg("seq", minimum=1)
    if seq > size:
        raise PortalError(f"seq {seq} is not in the tree of {size} events", code="invalid_parameter")
    proof = integrity.inclusion(seq, size)
    _record_proof({"proof": "inclusion", "seq": seq, "tree_size": size})
    return jsonify(proof)


@bp.get("/audit/proof/consistency")
def audit_consistency_proof():
    require_roles(*AUDIT_ROLES)
    second = _size_arg("to", default=integrity.default_tree_size(), minimum=1)
    first = _int_arg("from", minimum=1)
    if first > second:
        raise PortalError(f"from ({first}) must not exceed to ({second})", code="invalid_parameter")
    proof = integrity.consistency(first, second)
    _record_proof({"proof": "consistency", "from": first, "to": second})
    return jsonify(proof)
