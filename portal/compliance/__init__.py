"""Compliance findings raised on contacts and settlements (contract section 8)."""
