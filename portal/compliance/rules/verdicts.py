"""Verdicts: a rule's finding on one contact, explained twice (lender staff, and the agency that made it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from portal.compliance.rules.facts import AgencyId, ContactKey

Translate = Callable[[str], str]


def mask_phone(number: str | None) -> str:
    """``13800138007`` -> ``138****8007`` (contract 7); E.164 numbers keep their first 3 and last 4 characters."""
    if not number:
        return ""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "****" + number[-4:]


@dataclass(frozen=True, slots=True)
class Explanation:
    """A sentence a person reads: an English msgid marked with ``N_`` and its values, translated when shown.

    Values are text or whole numbers (a masked number, a local date, a count, a limit) and are
    never translated, except a value that is itself an ``Explanation`` (a category's name),
    which is translated with the sentence. ``render()`` gives English; the host passes its
    ``gettext`` to ``render`` to show it in the viewer's language.
    """

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.template, tuple(sorted((k, str(v)) for k, v in self.params.items()))))

    def render(self, translate: Translate | None = None) -> str:
        translate = translate or _same
        values = {
            name: value.render(translate) if isinstance(value, Explanation) else value
            for name, value in self.params.items()
        }
        return translate(self.template) % values

    def __str__(self) -> str:
        return self.render()

    def as_json(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "params": {n: v.as_json() if isinstance(v, Explanation) else v for n, v in self.params.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Explanation:
        params = {n: cls.from_json(v) if isinstance(v, Mapping) else v for n, v in (data.get("params") or {}).items()}
        return cls(data["template"], params)


def _same(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule's evaluation returns: the explanation, and the agency's version when it must differ.

    ``agency_message`` None means the full message is the agency's own business (every fact in
    it comes from the agency's contacts or from the case) and may be shown to it as is.
    ``evidence`` names the contacts that decided the finding (for lender staff only).
    """

    message: Explanation
    agency_message: Explanation | None = None
    evidence: tuple[ContactKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule's finding on one contact, with what is needed to reproduce it.

    ``message`` is for lender staff (it may count and date other agencies' contacts);
    ``agency_message`` is safe to show the agency that made the contact: it never names,
    counts or dates another agency's activity. ``parameters`` and ``version`` are the rule's as
    evaluated. ``evidence`` lists the keys of the contacts that decided it; it is lender-only.
    """

    rule: str
    severity: str
    version: str
    contact_key: ContactKey
    agency_id: AgencyId
    occurred_at: datetime
    message: Explanation
    agency_message: Explanation
    parameters: Mapping[str, Any] = field(default_factory=dict)
    evidence: tuple[ContactKey, ...] = ()

    def __hash__(self) -> int:
        return hash((self.rule, self.contact_key))

    def as_json(self) -> dict[str, Any]:
        """JSON-safe, for storing with the finding (times as ISO 8601 UTC)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "version": self.version,
            "contact_key": self.contact_key,
            "occurred_at": self.occurred_at.isoformat(),
            "message": self.message.as_json(),
            "agency_message": self.agency_message.as_json(),
            "parameters": dict(self.parameters),
            "evidence": list(self.evidence),
        }
