"""Ed25519 keys and signed tree-head checkpoints for the audit Merkle tree."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from portal.audit.canonical import canonical_bytes
from portal.audit.verify import checkpoint_problem, key_id_for

__all__ = [
    "key_id",
    "load_or_create_key",
    "load_private_key",
    "private_key_pem",
    "public_key_b64",
    "sign_checkpoint",
    "verify_checkpoint",
]

_PEM_MARKER = "-----BEGIN"


def load_private_key(value: str | bytes) -> Ed25519PrivateKey:
    """Parse an Ed25519 private key: PKCS#8 PEM text, or the base64 of its raw 32-byte seed."""
    text = value.decode("ascii") if isinstance(value, bytes) else value
    text = text.strip()
    if text.startswith(_PEM_MARKER):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 private key")
        return key
    try:
        seed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a PEM key nor a base64 Ed25519 seed") from exc
    if len(seed) != 32:
        raise ValueError(f"an Ed25519 seed is 32 bytes, this base64 decodes to {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM; protect the file it goes to (load_or_create_key writes 0600)."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _create_key_file(path: Path) -> Ed25519PrivateKey:
    """Write a new key to ``path`` without ever exposing a partial or world-readable file."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".audit-key-", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_key_pem(key))
            fh.flush()
            os.fsync(fh.fileno())
        # link() refuses to replace an existing file, so two processes starting at once
        # agree on whichever key landed first instead of overwriting each other's.
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_private_key(path.read_text("ascii"))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return key


def load_or_create_key(source: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The checkpoint signing key from a config value or a key file, created on first use.

    ``source`` is, in this order of interpretation:

    - PEM text (starts with ``-----BEGIN``): an Ed25519 PKCS#8 key, e.g. from an
      environment variable;
    - a path to an existing file holding PEM or a base64 seed;
    - the base64 of a raw 32-byte seed;
    - otherwise a path: a new key is generated once and written there as PKCS#8 PEM with
      0600 permissions (parent folders created).

    A ``pathlib.Path`` (any ``os.PathLike``) is always a path, never key text.
    """
    if isinstance(source, os.PathLike):
        path = Path(source)
    else:
        text = source.strip()
        if not text:
            raise ValueError("empty signing key setting")
        if text.startswith(_PEM_MARKER):
            return load_private_key(text)
        path = Path(text)
        if not path.is_file():
            try:
                return load_private_key(text)
            except ValueError:
                pass
    if path.is_file():
        return load_private_key(path.read_text("ascii"))
    return _create_key_file(path)


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits (64 bits) of SHA-256 over the raw 32-byte public key."""
    return key_id_for(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _utc_z(timestamp: datetime) -> str:
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("checkpoint timestamp must be timezone-aware")
    utc = timestamp.astimezone(UTC)
    spec = "seconds" if utc.microsecond == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def sign_checkpoint(
    tree_size: int,
    root_hash: bytes,
    timestamp: datetime,
    private_key: Ed25519PrivateKey,
) -> dict[str, Any]:
    """The contract's checkpoint object for the tree of ``tree_size`` leaves (seqs 1..tree_size).

    ``signature`` is base64 Ed25519 over the JCS bytes of the other five fields.
    ``timestamp`` must be timezone-aware and is written in UTC with a ``Z`` suffix
    (microseconds only when non-zero).
    """
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
        raise ValueError("tree_size must be a non-negative integer")
    if len(root_hash) != 32:
        raise ValueError("root_hash must be 32 bytes")
    public_key = private_key.public_key()
    checkpoint: dict[str, Any] = {
        "tree_size": tree_size,
        "root_hash": bytes(root_hash).hex(),
        "timestamp": _utc_z(timestamp),
        "key_id": key_id(public_key),
        "public_key": public_key_b64(public_key),
    }
    signature = private_key.sign(canonical_bytes(checkpoint))
    checkpoint["signature"] = base64.b64encode(signature).decode("ascii")
    return checkpoint


def verify_checkpoint(obj: Any, public_key: Ed25519PublicKey | None = None) -> bool:
    """True when ``obj`` is a well-formed checkpoint whose signature verifies.

    Without ``public_key`` the key embedded in the checkpoint is used, which proves the
    checkpoint is intact but not who made it; pass the portal's own key to check that too.
    """
    if checkpoint_problem(obj) is not None:
        return False
    return public_key is None or obj["public_key"] == public_key_b64(public_key)
