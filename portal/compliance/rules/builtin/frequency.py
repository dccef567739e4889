"""Counting rules: conversations and unanswered attempts a day (CN), calls in 7 days and after a conversation (US)."""

from __future__ import annotations

from datetime import datetime, timedelta

from portal.compliance.rules.facts import Contact
from portal.compliance.rules.params import CountKind, Parameter, PartiesKind
from portal.compliance.rules.rule import Rule, RuleContext
from portal.compliance.rules.verdicts import Explanation, Finding, mask_phone
from portal.plugins.records import N_

DEBTOR = frozenset({"debtor"})


class DailyConversationCap(Rule):
    """GB/T 45251-2025: at most 3 conversations with the debtor a day; a finding on each beyond the cap."""

    id = "daily_conversation_cap"
    profiles = ("CN",)
    severity = "medium"
    timing = True
    title = N_("too many conversations in a day")
    parameters = (Parameter("cap", CountKind(minimum=0), {"CN": 3}, "conversations with the debtor allowed a day"),)

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if not (contact.is_conversation and contact.party in DEBTOR):
            return None
        day = ctx.days.day_of(contact.contacted_at)
        earlier = ctx.history.conversations_with(DEBTOR).since(ctx.days.start(day), contact)
        count = len(earlier) + 1
        if count <= ctx.params.cap:
            return None
        values = {"count": count, "day": day.isoformat(), "limit": ctx.params.cap}
        full = Explanation(
            N_("conversation no. %(count)d with the debtor on %(day)s; the limit is %(limit)d a day"), values
        )
        agency = None
        if not ctx.all_own(contact, earlier):
            agency = Explanation(
                N_("the debtor's conversation limit for %(day)s was already reached (%(limit)d a day)"),
                {"day": values["day"], "limit": values["limit"]},
            )
        return Finding(full, agency, tuple(c.key for c in earlier))

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        return ctx.days.start(ctx.days.day_of(contact.contacted_at) + timedelta(days=1))


class UnansweredAttemptCap(Rule):
    """China Banking Association 2026 guideline: at most 6 unanswered attempts to one number a day."""

    id = "unanswered_attempt_cap"
    profiles = ("CN",)
    severity = "medium"
    timing = True
    title = N_("too many unanswered attempts in a day")
    parameters = (Parameter("cap", CountKind(minimum=0), {"CN": 6}, "unanswered calls to one number allowed a day"),)

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if not (contact.is_unanswered_attempt and contact.phone):
            return None
        day = ctx.days.day_of(contact.contacted_at)
        earlier = ctx.history.unanswered_attempts_to(contact.phone).since(ctx.days.start(day), contact)
        count = len(earlier) + 1
        if count <= ctx.params.cap:
            return None
        phone = mask_phone(contact.phone)
        full = Explanation(
            N_("unanswered attempt no. %(count)d to %(phone)s on %(day)s; the limit is %(limit)d a day"),
            {"count": count, "phone": phone, "day": day.isoformat(), "limit": ctx.params.cap},
        )
        agency = None
        if not ctx.all_own(contact, earlier):
            agency = Explanation(
                N_("the limit of %(limit)d unanswered attempts a day to %(phone)s was already reached on %(day)s"),
                {"phone": phone, "day": day.isoformat(), "limit": ctx.params.cap},
            )
        return Finding(full, agency, tuple(c.key for c in earlier))

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        return ctx.days.start(ctx.days.day_of(contact.contacted_at) + timedelta(days=1))


class CallFrequency7in7(Rule):
    """12 CFR 1006.14(b)(2)(i): more than 7 calls about a debt within 7 consecutive days (busy calls do not count)."""

    id = "call_frequency_7in7"
    profiles = ("US",)
    severity = "medium"
    timing = True
    title = N_("more than 7 calls in 7 days")
    parameters = (
        Parameter("limit", CountKind(minimum=0), {"US": 7}, "calls about one case allowed within the window"),
        Parameter(
            "days", CountKind(minimum=1, lower_is_stricter=False), {"US": 7}, "the window in consecutive local days"
        ),
    )

    def _window(self, contact: Contact, ctx: RuleContext):
        day = ctx.days.day_of(contact.contacted_at)
        first = day - timedelta(days=ctx.params.days - 1)
        earlier = ctx.history.calls_about(contact.case_id).since(ctx.days.start(first), contact)
        return day, first, earlier

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if not contact.is_call or contact.outcome == "busy":
            return None
        day, first, earlier = self._window(contact, ctx)
        count = len(earlier) + 1
        if count <= ctx.params.limit:
            return None
        full = Explanation(
            N_("call no. %(count)d about the case in the %(days)d days %(first)s to %(day)s; the limit is %(limit)d"),
            {
                "count": count,
                "days": ctx.params.days,
                "first": first.isoformat(),
                "day": day.isoformat(),
                "limit": ctx.params.limit,
            },
        )
        agency = None
        if not ctx.all_own(contact, earlier):
            agency = Explanation(
                N_("the limit of %(limit)d calls about the case in %(days)d days was already reached on %(day)s"),
                {"limit": ctx.params.limit, "days": ctx.params.days, "day": day.isoformat()},
            )
        return Finding(full, agency, tuple(c.key for c in earlier))

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        _day, _first, earlier = self._window(contact, ctx)
        # The call that must leave the window so that this one is within the limit.
        excess = len(earlier) - (ctx.params.limit - 1)
        if excess <= 0:
            return None
        leaving = earlier[excess - 1]
        return ctx.days.start(ctx.days.day_of(leaving.contacted_at) + timedelta(days=ctx.params.days))


class CallAfterConversation(Rule):
    """12 CFR 1006.14(b)(2)(ii): no call within 7 days after a telephone conversation about
    the debt (its day is day 1)."""

    id = "call_after_conversation"
    profiles = ("US",)
    severity = "medium"
    timing = True
    title = N_("call within 7 days of a conversation")
    parameters = (
        Parameter(
            "days",
            CountKind(minimum=1, lower_is_stricter=False),
            {"US": 7},
            "days without calls, the conversation's day being day 1",
        ),
        Parameter(
            "debtor_parties",
            PartiesKind(),
            {"US": ("debtor", "spouse")},
            "who counts as the debtor (Regulation F: the consumer includes the spouse)",
        ),
    )

    def _conversation(self, contact: Contact, ctx: RuleContext) -> Contact | None:
        parties = ctx.params.debtor_parties
        if not contact.is_call or contact.party not in parties:
            return None
        last = ctx.history.last_telephone_conversation(contact.case_id, parties, contact)
        if last is None:
            return None
        elapsed = (ctx.days.day_of(contact.contacted_at) - ctx.days.day_of(last.contacted_at)).days
        return last if elapsed < ctx.params.days else None

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        last = self._conversation(contact, ctx)
        if last is None:
            return None
        day = ctx.days.day_of(contact.contacted_at)
        talked = ctx.days.day_of(last.contacted_at)
        full = Explanation(
            N_(
                "call on %(day)s, day %(nth)d after a telephone conversation with the debtor on "
                "%(conversation)s; no calls for %(days)d days (the conversation's day is day 1)"
            ),
            {
                "day": day.isoformat(),
                "nth": (day - talked).days + 1,
                "conversation": talked.isoformat(),
                "days": ctx.params.days,
            },
        )
        agency = None
        if not ctx.all_own(contact, [last]):
            agency = Explanation(
                N_(
                    "a telephone conversation with the debtor about the case took place within the last "
                    "%(days)d days; no calls until they have passed"
                ),
                {"days": ctx.params.days},
            )
        return Finding(full, agency, (last.key,))

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        last = self._conversation(contact, ctx)
        if last is None:
            return None
        return ctx.days.start(ctx.days.day_of(last.contacted_at) + timedelta(days=ctx.params.days))
