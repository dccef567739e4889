"""Test helpers for adapter authors: the conformance kit (no dependency on this repo's tests)."""

import pytest

# Rewrite the kit's asserts as pytest does a test module's, so failures show the values.
pytest.register_assert_rewrite("portal.testing.conformance")

from portal.testing.conformance import (  # noqa: E402
    AdapterConformance,
    BadSample,
    NetworkCallError,
    NonSeekableStream,
    Sample,
)

__all__ = ["AdapterConformance", "BadSample", "NetworkCallError", "NonSeekableStream", "Sample"]
