"""Labels for codes: each domain keeps one vocabulary table (`<domain>/labels.py`); pages show codes through them.

A code of a closed vocabulary (the contract's enums, the audit tags) that has no label is a defect: under
``TESTING`` it raises, so a test that renders the page fails; in production the code itself is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Vocabulary:
    """``labels`` maps each code to a lazy translated label; ``closed``: every code must have one."""

    name: str
    labels: Mapping[str, object]
    closed: bool = True


def vocabularies() -> dict[str, Vocabulary]:
    from portal.accounts.labels import VOCABULARIES as accounts
    from portal.agencies.labels import VOCABULARIES as agencies
    from portal.audit.labels import VOCABULARIES as audit
    from portal.cases.labels import VOCABULARIES as cases
    from portal.complaints.labels import VOCABULARIES as complaints
    from portal.compliance.calendar_labels import VOCABULARIES as calendar
    from portal.compliance.labels import VOCABULARIES as compliance
    from portal.contacts.labels import VOCABULARIES as contacts
    from portal.money.labels import VOCABULARIES as money
    from portal.uploads.labels import VOCABULARIES as uploads

    found: dict[str, Vocabulary] = {}
    for group in (accounts, agencies, audit, calendar, cases, complaints, compliance, contacts, money, uploads):
        for vocabulary in group:
            if vocabulary.name in found:
                raise RuntimeError(f"vocabulary {vocabulary.name!r} is defined twice")
            found[vocabulary.name] = vocabulary
    return found


class UnlabelledCodeError(LookupError):
    """A page asked for the label of a code its vocabulary does not know."""


def label(vocabulary: str, code: object) -> str:
    """The viewer's-language label of ``code`` in ``vocabulary`` (``label('outcome', 'no_answer')``)."""
    if code is None or code == "":
        return ""
    table = current_app.extensions["portal.vocabularies"]
    entry = table.get(vocabulary)
    if entry is None:
        raise UnlabelledCodeError(f"no vocabulary named {vocabulary!r}")
    text = entry.labels.get(str(code))
    if text is None:
        if entry.closed and current_app.testing:
            raise UnlabelledCodeError(f"{vocabulary} code {code!r} has no label")
        return str(code)
    return str(text)
