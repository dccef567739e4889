"""RFC 8785 (JCS) canonical bytes of audit events: the input of their Merkle leaf hashes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:
    import rfc8785
except ImportError:  # pragma: no cover - rfc8785 is a declared dependency
    rfc8785 = None

from portal.audit.verify import jcs_bytes

__all__ = ["canonical_bytes", "jcs_bytes"]


def _check_json_types(value: Any, where: str) -> None:
    # rfc8785 would serialise a float, but a float's JCS form depends on binary rounding
    # that other writers may not reproduce; the contract keeps money and times as strings.
    # ``where`` is just the enclosing key: building full paths would slow every event down.
    if isinstance(value, str | int) or value is None:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit event keys must be strings, not {key!r}")
            _check_json_types(item, key)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json_types(item, where)
    elif isinstance(value, float):
        raise TypeError(f"audit events hold no floats: {where!r} is {value!r}; use a string")
    else:
        raise TypeError(f"{where!r} is a {type(value).__name__}, not a JSON value")


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """JCS bytes of an event (dicts, lists, str, int within ±2**53-1, bool, None).

    Raises TypeError for floats and other non-JSON values, ValueError for integers JSON
    cannot hold exactly and for strings that are not valid Unicode. Without the rfc8785
    package it falls back to the offline verifier's serialiser, which the tests hold equal.
    """
    if not isinstance(event, Mapping):
        raise TypeError(f"an audit event is a JSON object, not {type(event).__name__}")
    event = dict(event)
    _check_json_types(event, "event")
    if rfc8785 is None:  # pragma: no cover
        return jcs_bytes(event)
    return rfc8785.dumps(event)
