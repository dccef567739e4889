"""Text that agencies send, shown so that it cannot pretend to be something else.

Bidirectional controls (U+202A–U+202E, U+2066–U+2069, the marks U+200E, U+200F, U+061C) reorder
what a reader sees without changing what is stored: `report\u202evsc.csv` reads as
`reportcsv.exe`, a collector id or a note can hide its real text (CVE-2021-42574, "Trojan Source").
The portal keeps such text exactly as sent, since it is evidence, and shows every control as a
visible marker (`⟦U+202E⟧`) wherever people read it: pages, errors.csv, download names. Machines
get the stored text unchanged (the API's JSON escapes them as `\\u202e`).
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup

from portal.errors import ValidationError, _l

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def _marker(match: re.Match[str]) -> str:
    return f"⟦U+{ord(match.group()):04X}⟧"


def reveal_bidi_controls(text: str) -> str:
    """``text`` with each bidirectional control replaced by a visible ``⟦U+XXXX⟧`` marker."""
    if not _BIDI.search(text):
        return text
    return _BIDI.sub(_marker, text)


def finalize_for_display(value: Any) -> Any:
    """Jinja's ``finalize``: every ``{{ value }}`` on a page shows bidi controls as markers."""
    if isinstance(value, Markup):
        # The markers hold no HTML-special character, so safe markup stays safe.
        return Markup(reveal_bidi_controls(str(value)))  # noqa: S704 (the value was already safe)
    if isinstance(value, str):
        return reveal_bidi_controls(value)
    return value


def bounded_text(value: str | None, limit: int, *, field: str, required: bool = False) -> str | None:
    """A person's text for a service: stripped, at most ``limit`` characters, no NUL; None when empty.

    Raises ValidationError naming ``field`` (translated when shown) for a missing required value or
    one too long or unstorable.
    """
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError(_l("this field is required"), field=field)
        return None
    if len(value) > limit or "\x00" in value:
        raise ValidationError(_l("at most %(count)s characters of text", count=limit), field=field)
    return value
