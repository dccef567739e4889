"""The built-in conduct rules of contract 8, registered as a plugin through the ``portal.rules`` entry point."""

from __future__ import annotations

from portal.compliance.hookspecs import hookimpl
from portal.compliance.rules.builtin.flags import (
    CeaseCommunication,
    DeceasedOrBankrupt,
    DisputeOpen,
    VulnerableCustomer,
)
from portal.compliance.rules.builtin.frequency import (
    CallAfterConversation,
    CallFrequency7in7,
    DailyConversationCap,
    UnansweredAttemptCap,
)
from portal.compliance.rules.builtin.parties import ChannelNotAllowed, ThirdPartyContact, UnlistedNumber
from portal.compliance.rules.builtin.records import (
    PlacementInactive,
    ProhibitedLanguage,
    RecordingMissing,
    WaiverOverLimit,
)
from portal.compliance.rules.builtin.timing import AttemptInterval, ContactHours, RestrictedPeriodRule
from portal.compliance.rules.rule import Rule

RULES: tuple[type[Rule], ...] = (
    ContactHours,
    DailyConversationCap,
    UnansweredAttemptCap,
    CallFrequency7in7,
    CallAfterConversation,
    ThirdPartyContact,
    UnlistedNumber,
    CeaseCommunication,
    DisputeOpen,
    DeceasedOrBankrupt,
    VulnerableCustomer,
    PlacementInactive,
    ChannelNotAllowed,
    RecordingMissing,
    ProhibitedLanguage,
    WaiverOverLimit,
    RestrictedPeriodRule,
    AttemptInterval,
)


@hookimpl
def rule_definitions() -> list[Rule]:
    return [rule() for rule in RULES]
