"""``/api/v1/audit``: events, verification, signed checkpoints and RFC 9162 proofs (compliance and admin),
and the checkpoint signing key, which every API user may fetch to pin."""

from __future__ import annotations

from flask import current_app, g, jsonify
from sqlalchemy import func, select

from portal import params
from portal.api import bp, require_roles
from portal.audit import integrity, trail
from portal.audit.checkpoints import checkpoint_of_size, latest_checkpoint, signing_key, tree_size
from portal.audit.models import AuditCheckpoint
from portal.audit.services import record_event
from portal.audit.signing import key_id, public_key_b64
from portal.audit.tags import AuditTag
from portal.errors import NotFoundError, ValidationError, _l
from portal.extensions import db
from portal.security import Role

AUDIT_ROLES = (Role.COMPLIANCE, Role.ADMIN)
# Audit tags, object types and ids are short; a user filter is an e-mail (at most 254 characters).
FILTER_LENGTHS = {"actor": 254, "agency": 20, "action": 80, "object_type": 40, "object_id": 64}


def _size_arg(name: str, *, default: int, minimum: int = 0) -> int:
    size = params.integer(name, default=default, minimum=minimum)
    assert size is not None
    current = tree_size()
    if size > current:
        raise params.ParameterError(
            _l("%(name)s %(size)s is beyond the trail's %(current)s events", name=name, size=size, current=current),
            name=name,
        )
    return size


def _record_proof(details: dict[str, object]) -> None:
    record_event(actor=g.actor, action=AuditTag.AUDIT_PROOF_READ, details=details)
    db.session.commit()


@bp.get("/audit/events")
def audit_events():
    require_roles(*AUDIT_ROLES)
    timezone = current_app.config["PORTAL_TIMEZONE"]
    filters = trail.EventFilters(
        since=params.when("since", timezone),
        until=params.when("until", timezone, end_of_day=True),
        **{name: params.text(name, max_length=length) for name, length in FILTER_LENGTHS.items()},
    )
    size = params.limit(default=100, maximum=trail.MAX_PAGE_SIZE)
    try:
        page = trail.read_events(
            actor=g.actor, filters=filters, cursor=params.cursor(), limit=size, newest_first=False, view="api"
        )
    except ValidationError as exc:
        raise params.ParameterError(exc.text, name=exc.field or "") from exc
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
    wanted = params.integer("tree_size", minimum=1)
    checkpoint = checkpoint_of_size(wanted) if wanted is not None else latest_checkpoint()
    if checkpoint is None:
        raise NotFoundError(_l("no checkpoint of that size has been signed"))
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
    seq = params.integer("seq", minimum=1, required=True)
    assert seq is not None
    if seq > size:
        raise params.ParameterError(
            _l("seq %(seq)s is not in the tree of %(size)s events", seq=seq, size=size), name="seq"
        )
    proof = integrity.inclusion(seq, size)
    _record_proof({"proof": "inclusion", "seq": seq, "tree_size": size})
    return jsonify(proof)


@bp.get("/audit/proof/consistency")
def audit_consistency_proof():
    require_roles(*AUDIT_ROLES)
    second = _size_arg("to", default=integrity.default_tree_size(), minimum=1)
    first = params.integer("from", minimum=1, required=True)
    assert first is not None
    if first > second:
        raise params.ParameterError(
            _l("from (%(first)s) must not exceed to (%(second)s)", first=first, second=second), name="from"
        )
    proof = integrity.consistency(first, second)
    _record_proof({"proof": "consistency", "from": first, "to": second})
    return jsonify(proof)
