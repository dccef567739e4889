"""Tests of the adapter contract, the built-in adapters and the conformance kit."""
