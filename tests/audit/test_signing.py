"""Ed25519 checkpoint keys, signing and verification."""

from __future__ import annotations

import base64
import hashlib
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from portal.audit.signing import (
    key_id,
    load_or_create_key,
    load_private_key,
    private_key_pem,
    sign_checkpoint,
    verify_checkpoint,
)

ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
WHEN = datetime(2025, 3, 1, 8, 30, 0, tzinfo=UTC)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def same_key(a: Ed25519PrivateKey, b: Ed25519PrivateKey) -> bool:
    return raw_public(a) == raw_public(b)


def test_generates_once_with_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit_ed25519.pem"
    first = load_or_create_key(str(path))
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert same_key(first, load_or_create_key(str(path)))
    assert same_key(first, load_or_create_key(path))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left behind


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race.pem"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create_key(path), range(8)))
    assert all(same_key(keys[0], k) for k in keys)
    assert same_key(keys[0], load_or_create_key(path))


def test_loads_pem_text_and_base64_seed(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = private_key_pem(key).decode()
    seed = base64.b64encode(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()
    assert same_key(key, load_or_create_key(pem))
    assert same_key(key, load_or_create_key("\n" + pem + "\n"))
    assert same_key(key, load_or_create_key(seed))
    assert same_key(key, load_private_key(seed.encode()))
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(seed + "\n")
    assert same_key(key, load_or_create_key(str(seed_file)))


def test_rejects_other_keys_and_garbage() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key(ec_pem)
    with pytest.raises(ValueError):
        load_private_key(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(ValueError):
        load_private_key("not a key")
    with pytest.raises(ValueError):
        load_or_create_key("   ")


def test_key_id_is_sha256_prefix_of_raw_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    assert key_id(key.public_key()) == hashlib.sha256(raw_public(key)).hexdigest()[:16]


def test_checkpoint_shape_and_signature() -> None:
    key = Ed25519PrivateKey.generate()
    cp = sign_checkpoint(8, ROOT, WHEN, key)
    assert list(cp) == [
        "tree_size",
        "root_hash",
        "timestamp",
        "key_id",
        "public_key",
        "signature",
    ]
    assert cp["tree_size"] == 8
    assert cp["root_hash"] == ROOT.hex()
    assert cp["timestamp"] == "2025-03-01T08:30:00Z"
    assert cp["key_id"] == key_id(key.public_key())
    assert base64.b64decode(cp["public_key"]) == raw_public(key)
    # Independently: Ed25519 over the rfc8785 bytes of the object without "signature".
    unsigned = {k: v for k, v in cp.items() if k != "signature"}
    Ed25519PublicKey.from_public_bytes(raw_public(key)).verify(
        base64.b64decode(cp["signature"]), rfc8785.dumps(unsigned)
    )
    assert verify_checkpoint(cp)
    assert verify_checkpoint(cp, key.public_key())
    assert not verify_checkpoint(cp, Ed25519PrivateKey.generate().public_key())


def test_timestamps_are_utc_with_z() -> None:
    key = Ed25519PrivateKey.generate()
    shanghai = timezone(timedelta(hours=8))
    cp = sign_checkpoint(1, ROOT, datetime(2025, 3, 1, 16, 30, 0, 250000, tzinfo=shanghai), key)
    assert cp["timestamp"] == "2025-03-01T08:30:00.250000Z"
    assert verify_checkpoint(cp)
    with pytest.raises(ValueError, match="timezone"):
        sign_checkpoint(1, ROOT, datetime(2025, 3, 1), key)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError):
        sign_checkpoint(-1, ROOT, WHEN, key)
    with pytest.raises(ValueError):
        sign_checkpoint(1, ROOT[:31], WHEN, key)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tree_size", 9),
        ("root_hash", "00" * 32),
        ("timestamp", "2025-03-01T08:30:01Z"),
        ("key_id", "0" * 16),
        ("public_key", base64.b64encode(b"\x01" * 32).decode()),
        ("signature", base64.b64encode(b"\x00" * 64).decode()),
        ("tree_size", "8"),
        ("timestamp", "yesterday"),
    ],
)
def test_any_change_breaks_the_checkpoint(field: str, value: object) -> None:
    cp = sign_checkpoint(8, ROOT, WHEN, Ed25519PrivateKey.generate())
    assert not verify_checkpoint({**cp, field: value})


def test_malformed_checkpoints_are_false_not_errors() -> None:
    cp = sign_checkpoint(8, ROOT, WHEN, Ed25519PrivateKey.generate())
    for broken in (
        [],
        None,
        {},
        {k: v for k, v in cp.items() if k != "key_id"},
        {**cp, "signature": "%%"},
    ):
        assert not verify_checkpoint(broken)
    # A field added after signing is covered by the signature, so it breaks it.
    assert not verify_checkpoint({**cp, "note": "added later"})
