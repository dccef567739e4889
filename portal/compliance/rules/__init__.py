"""The rule engine of contract 8 as a pure library: typed facts in, explained verdicts out (no Flask, no models)."""

from portal.compliance.rules.engine import CHECK_HORIZON, CheckResult, RuleEngine
from portal.compliance.rules.facts import (
    FLAGS,
    PROFILES,
    UNANSWERED,
    AgencyContract,
    Case,
    Contact,
    FlagSpell,
    ProposedContact,
    RestrictedPeriod,
)
from portal.compliance.rules.history import History, Index, LocalDays
from portal.compliance.rules.params import (
    CountKind,
    Kind,
    Parameter,
    Params,
    PartiesKind,
    RuleParameterError,
    Window,
    WindowKind,
    resolve_params,
)
from portal.compliance.rules.registry import RegisteredRule, RuleConfigError, RuleRegistry, build_rule_registry
from portal.compliance.rules.rule import SEVERITIES, Rule, RuleContext, RuleSettings
from portal.compliance.rules.verdicts import Explanation, Finding, Verdict, mask_phone
from portal.compliance.rules.wordlists import WordListError, WordLists

__all__ = [
    "CHECK_HORIZON",
    "FLAGS",
    "PROFILES",
    "SEVERITIES",
    "UNANSWERED",
    "AgencyContract",
    "Case",
    "CheckResult",
    "Contact",
    "CountKind",
    "Explanation",
    "Finding",
    "FlagSpell",
    "History",
    "Index",
    "Kind",
    "LocalDays",
    "Parameter",
    "Params",
    "PartiesKind",
    "ProposedContact",
    "RegisteredRule",
    "RestrictedPeriod",
    "Rule",
    "RuleConfigError",
    "RuleContext",
    "RuleEngine",
    "RuleParameterError",
    "RuleRegistry",
    "RuleSettings",
    "Verdict",
    "Window",
    "WindowKind",
    "WordListError",
    "WordLists",
    "build_rule_registry",
    "mask_phone",
    "resolve_params",
]
