"""Main domain."""
