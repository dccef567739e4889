"""Masking of personal data shown to agencies (contract section 7)."""

from __future__ import annotations


def mask_id_number(value: str) -> str:
    """``110101199001011234`` -> ``110***********1234``; a US SSN or ITIN -> ``*****6789``.

    Contract 7's first-3-and-last-4 would leave 7 of an SSN's 9 digits readable (its first 3 are
    the issuing area), so a 9-digit number shows its last 4 only, as US practice does.
    """
    if len(value) == 9 and value.isdigit():
        return "*" * 5 + value[-4:]
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """The family name and a star for each other character: ``张三丰`` -> ``张**``."""
    if not value:
        return value
    if value.isascii():
        # Latin names: keep the last word (the family name in most such records).
        parts = value.split()
        return (parts[-1] + " " + "*" * 3) if len(parts) > 1 else value[0] + "*" * (len(value) - 1)
    return value[0] + "*" * (len(value) - 1)


def mask_phone(value: str) -> str:
    """``13800138000`` -> ``138****8000``; other lengths keep the first 3 and last 4 characters."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
