"""Typed rule parameters: defaults per profile, overrides from configuration and an agency's contract."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from types import MappingProxyType
from typing import Any

from portal.plugins.records import N_, PARTIES


class RuleParameterError(ValueError):
    """A parameter override names an unknown rule or parameter, has the wrong type, or loosens a rule.

    ``template`` and ``params`` give the message for translation (``str(error)`` is English).
    """

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template % params)
        self.template = template
        self.params = params


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window of local wall-clock time, start included, end excluded (``08:00-22:00``)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("a window must start before it ends")

    def contains(self, clock: time) -> bool:
        return self.start <= clock < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*")


class Kind:
    """How a parameter's values are read, written and compared (stricter or not)."""

    label = "value"

    def parse(self, value: Any) -> Any:
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        return value

    def stricter_or_equal(self, new: Any, base: Any) -> bool:
        return True


class WindowKind(Kind):
    label = "a window such as 08:00-22:00"

    def parse(self, value: Any) -> Window:
        if isinstance(value, Window):
            return value
        if isinstance(value, str):
            match = _WINDOW.fullmatch(value)
            if match:
                h1, m1, h2, m2 = (int(part) for part in match.groups())
                if h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60:
                    end = time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else time(h2, m2)
                    try:
                        return Window(time(h1, m1), end)
                    except ValueError:
                        pass
        raise TypeError

    def dump(self, value: Window) -> str:
        return str(value)

    def stricter_or_equal(self, new: Window, base: Window) -> bool:
        return base.start <= new.start and new.end <= base.end


class CountKind(Kind):
    """A whole number; ``lower_is_stricter`` for caps, else (intervals, waiting days) higher is."""

    def __init__(self, *, minimum: int = 0, lower_is_stricter: bool = True, optional: bool = False) -> None:
        self.minimum = minimum
        self.lower_is_stricter = lower_is_stricter
        self.optional = optional
        self.label = f"a whole number of at least {minimum}" + (" (or none)" if optional else "")

    def parse(self, value: Any) -> int | None:
        if value is None and self.optional:
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < self.minimum:
            raise TypeError
        return value

    def stricter_or_equal(self, new: int | None, base: int | None) -> bool:
        if self.lower_is_stricter:
            return base is None or (new is not None and new <= base)
        return base is None or (new is not None and new >= base)


class PartiesKind(Kind):
    label = "a list of parties (" + ", ".join(PARTIES) + ")"

    def parse(self, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, Iterable) or not value:
            raise TypeError
        parties = frozenset(value)
        if not parties <= set(PARTIES):
            raise TypeError
        return parties

    def dump(self, value: frozenset[str]) -> list[str]:
        return sorted(value)

    def stricter_or_equal(self, new: frozenset[str], base: frozenset[str]) -> bool:
        # Fewer parties treated as the debtor is stricter for the rules that use it.
        return new <= base


@dataclass(frozen=True, slots=True)
class Parameter:
    """One typed parameter of a rule, with its default under each profile the rule applies to."""

    name: str
    kind: Kind
    defaults: Mapping[str, Any]
    description: str = ""

    def default(self, profile: str) -> Any:
        return self.kind.parse(self.defaults[profile])

    def parse(self, rule_id: str, value: Any) -> Any:
        try:
            return self.kind.parse(value)
        except (TypeError, ValueError):
            raise RuleParameterError(
                N_("parameter %(parameter)s of rule %(rule)s must be %(expected)s, not %(value)s"),
                parameter=self.name,
                rule=rule_id,
                expected=self.kind.label,
                value=repr(value),
            ) from None


class Params(Mapping[str, Any]):
    """A rule's resolved parameters; ``params["window"]`` or ``params.window``; ``as_json()`` to store."""

    __slots__ = ("_kinds", "_values")

    def __init__(self, values: Mapping[str, Any], kinds: Mapping[str, Kind] | None = None) -> None:
        self._values = MappingProxyType(dict(values))
        self._kinds = MappingProxyType(dict(kinds or {}))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"Params({self.as_json()!r})"

    def as_json(self) -> dict[str, Any]:
        return {name: self._kinds[name].dump(v) if name in self._kinds else v for name, v in self._values.items()}


def resolve_params(
    rule_id: str,
    parameters: Iterable[Parameter],
    profile: str,
    configured: Mapping[str, Any] | None = None,
    contract: Mapping[str, Any] | None = None,
) -> Params:
    """The profile's defaults, then the lender's configuration, then the agency's contract.

    Raises RuleParameterError for an unknown parameter, a value of the wrong type, or a contract
    value that would make the rule looser than the lender configured (a contract may only be
    stricter: shorter hours, lower caps, longer intervals).
    """
    declared = {parameter.name: parameter for parameter in parameters}
    values = {name: parameter.default(profile) for name, parameter in declared.items()}
    for source, overrides in (("configuration", configured), ("contract", contract)):
        for name, raw in (overrides or {}).items():
            parameter = declared.get(name)
            if parameter is None:
                raise RuleParameterError(
                    N_("rule %(rule)s has no parameter %(parameter)s (it has: %(known)s)"),
                    rule=rule_id,
                    parameter=name,
                    known=", ".join(sorted(declared)) or "none",
                )
            value = parameter.parse(rule_id, raw)
            if source == "contract" and not parameter.kind.stricter_or_equal(value, values[name]):
                raise RuleParameterError(
                    N_(
                        "an agency's contract may only make rule %(rule)s stricter: %(parameter)s %(value)s is "
                        "looser than %(base)s"
                    ),
                    rule=rule_id,
                    parameter=name,
                    value=str(parameter.kind.dump(value)),
                    base=str(parameter.kind.dump(values[name])),
                )
            values[name] = value
    return Params(values, {name: parameter.kind for name, parameter in declared.items()})
