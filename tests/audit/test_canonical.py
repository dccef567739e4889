"""JCS canonical bytes: rfc8785 and the offline verifier's own serialiser must agree byte for byte."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import rfc8785

from portal.audit.canonical import canonical_bytes
from portal.audit.verify import jcs_bytes, strict_json_loads

MAX_SAFE = 2**53 - 1
# Characters that stress escaping and key ordering: C0 controls, quote/backslash, DEL,
# line/paragraph separators, CJK, a private-use char above the surrogate range and an
# astral emoji (UTF-16 orders U+1F600 before U+E000, code points order it after).
ALPHABET = (
    [chr(c) for c in range(0x20)]
    + list("\"\\/'<>&abcXYZ019 .-_é")
    + ["\x7f", "\u2028", "\u2029", "\ufeff", "\ue000", "\uffff", "😀", "𠀀"]
    + list("中文催收机构还款协议")
)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice(
            [
                0,
                1,
                -1,
                MAX_SAFE,
                -MAX_SAFE,
                2**31,
                -(2**40) - 7,
                rng.randint(-MAX_SAFE, MAX_SAFE),
            ]
        )
    if kind in (2, 3, 4):
        return random_text(rng)
    if kind in (5, 6):
        return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def random_event(rng: random.Random, seq: int) -> dict[str, Any]:
    event = {"seq": seq, "action": "upload.created", "details": random_value(rng, 1)}
    for _ in range(rng.randint(0, 5)):
        event[random_text(rng)] = random_value(rng, 1)
    return event


def test_many_generated_events_agree_with_rfc8785() -> None:
    rng = random.Random(8785)
    for seq in range(1, 3001):
        event = random_event(rng, seq)
        want = rfc8785.dumps(event)
        assert jcs_bytes(event) == want, event
        assert canonical_bytes(event) == want
        # What the bundle writes and the verifier reads back must canonicalise the same.
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        assert jcs_bytes(strict_json_loads(line)) == want


def test_known_bytes() -> None:
    event = {"b": 1, "a": "中文", "c": [True, None, '\n\u001f"\\'], "d": {}}
    want = '{"a":"中文","b":1,"c":[true,null,"\\n\\u001f\\"\\\\"],"d":{}}'.encode()
    assert canonical_bytes(event) == want == jcs_bytes(event)


def test_rfc8785_key_ordering_example() -> None:
    # RFC 8785 section 3.2.3: property names sort by their UTF-16 code units.
    event = {
        "\u20ac": 1,
        "\r": 2,
        "\ufb33": 3,
        "1": 4,
        "\U0001f600": 5,
        "\u0080": 6,
        "\u00f6": 7,
    }
    ordered = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    for encoded in (canonical_bytes(event), jcs_bytes(event)):
        assert list(json.loads(encoded)) == ordered


def test_big_ints_and_limits() -> None:
    for n in (MAX_SAFE, -MAX_SAFE, 10**15):
        assert canonical_bytes({"n": n}) == jcs_bytes({"n": n}) == f'{{"n":{n}}}'.encode()
    for n in (MAX_SAFE + 1, -MAX_SAFE - 1, 10**30):
        with pytest.raises(ValueError):
            canonical_bytes({"n": n})
        with pytest.raises(ValueError):
            jcs_bytes({"n": n})


@pytest.mark.parametrize(
    "event",
    [{"amount": 1.5}, {"a": [1, 2.0]}, {"a": {"b": {"c": float("nan")}}}, {"x": 0.0}],
)
def test_floats_are_refused_with_type_error(event: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="float"):
        canonical_bytes(event)
    with pytest.raises(TypeError, match="float"):
        jcs_bytes(event)


@pytest.mark.parametrize("event", [{1: "x"}, {"s": {1, 2}}, {"b": b"bytes"}, {"o": object()}])
def test_non_json_values_are_type_errors(event: dict[Any, Any]) -> None:
    with pytest.raises(TypeError):
        canonical_bytes(event)
    with pytest.raises(TypeError):
        jcs_bytes(event)


def test_non_object_event_refused() -> None:
    with pytest.raises(TypeError):
        canonical_bytes(["not", "an", "object"])  # type: ignore[arg-type]


def test_lone_surrogates_refused() -> None:
    for event in ({"a": "\ud800"}, {"\udfff": 1}):
        with pytest.raises(ValueError):
            canonical_bytes(event)
        with pytest.raises(ValueError):
            jcs_bytes(event)


@pytest.mark.parametrize("text", ['{"a":1.0}', '{"a":1e3}', '{"a":NaN}', '{"a":-Infinity}', '{"a":1,"a":2}'])
def test_strict_json_refuses_floats_constants_and_duplicate_keys(text: str) -> None:
    with pytest.raises(ValueError):
        strict_json_loads(text)
