"""Rules on when a contact may be made: contact hours, restricted periods, the interval between attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from portal.compliance.rules.facts import Contact
from portal.compliance.rules.params import CountKind, Parameter, WindowKind
from portal.compliance.rules.rule import Rule, RuleContext
from portal.compliance.rules.verdicts import Explanation, Finding, mask_phone
from portal.plugins.records import N_

HOURS_CHANNELS = frozenset({"call", "sms", "visit", "im"})


class ContactHours(Rule):
    """GB/T 45251-2025: no collection 22:00-08:00; 12 CFR 1006.6(b)(1)(i): 08:00-21:00 local time."""

    id = "contact_hours"
    severity = "high"
    timing = True
    title = N_("contact outside allowed hours")
    parameters = (
        Parameter(
            "window",
            WindowKind(),
            {"CN": "08:00-22:00", "US": "08:00-21:00"},
            "allowed local hours, start included, end excluded",
        ),
    )

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        if contact.channel not in HOURS_CHANNELS:
            return None
        local = ctx.days.local(contact.contacted_at)
        if ctx.params.window.contains(local.time()):
            return None
        return Finding(
            Explanation(
                N_(
                    "contact at %(time)s on %(day)s (%(timezone)s, the debtor's local time), outside the "
                    "allowed hours %(window)s"
                ),
                {
                    "time": f"{local:%H:%M}",
                    "day": local.date().isoformat(),
                    "timezone": ctx.days.name,
                    "window": str(ctx.params.window),
                },
            )
        )

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        local = ctx.days.local(contact.contacted_at)
        start = ctx.params.window.start
        day = local.date() if local.time() < start else local.date() + timedelta(days=1)
        return ctx.days.at(day, start)


class RestrictedPeriodRule(Rule):
    """The lender's calendar: disaster areas, holiday moratoria (nationwide or by province/state)."""

    id = "restricted_period"
    severity = "high"
    timing = True
    title = N_("contact in a restricted period")

    def _periods(self, contact: Contact, ctx: RuleContext):
        if contact.channel == "letter":
            return []
        day = ctx.days.day_of(contact.contacted_at)
        return [period for period in ctx.calendar if period.applies(day, ctx.case.region)]

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        periods = self._periods(contact, ctx)
        if not periods:
            return None
        period = periods[0]
        return Finding(
            Explanation(
                N_(
                    "contact on %(day)s during the restricted period %(name)s (%(start)s to %(end)s); only "
                    "letters are allowed"
                ),
                {
                    "day": ctx.days.day_of(contact.contacted_at).isoformat(),
                    "name": period.name,
                    "start": period.start.isoformat(),
                    "end": period.end.isoformat(),
                },
            )
        )

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        periods = self._periods(contact, ctx)
        if not periods:
            return None
        return ctx.days.start(max(period.end for period in periods) + timedelta(days=1))


class AttemptInterval(Rule):
    """A minimum interval between two attempts (call or SMS) to one number; off unless configured."""

    id = "attempt_interval"
    severity = "low"
    timing = True
    title = N_("attempt too soon after the previous one")
    parameters = (
        Parameter(
            "minutes",
            CountKind(minimum=1, lower_is_stricter=False, optional=True),
            {"CN": None, "US": None},
            "minimum minutes between two attempts to one number; none turns the rule off",
        ),
    )

    def _previous(self, contact: Contact, ctx: RuleContext) -> Contact | None:
        minutes = ctx.params.minutes
        if minutes is None or contact.channel not in ("call", "sms") or not contact.phone:
            return None
        previous = ctx.history.previous_attempt_to(contact.phone, contact)
        if previous is None or contact.contacted_at - previous.contacted_at >= timedelta(minutes=minutes):
            return None
        return previous

    def evaluate(self, contact: Contact, ctx: RuleContext) -> Finding | None:
        previous = self._previous(contact, ctx)
        if previous is None:
            return None
        gap = int((contact.contacted_at - previous.contacted_at).total_seconds() // 60)
        phone = mask_phone(contact.phone)
        full = Explanation(
            N_(
                "attempt to %(phone)s %(gap)d minutes after the previous one (at %(previous)s); the "
                "minimum interval is %(minutes)d minutes"
            ),
            {
                "phone": phone,
                "gap": gap,
                "previous": f"{ctx.days.local(previous.contacted_at):%Y-%m-%d %H:%M}",
                "minutes": ctx.params.minutes,
            },
        )
        agency = None
        if not ctx.all_own(contact, [previous]):
            agency = Explanation(
                N_("the minimum interval of %(minutes)d minutes between attempts to %(phone)s was not kept"),
                {"phone": phone, "minutes": ctx.params.minutes},
            )
        return Finding(full, agency, (previous.key,))

    def lifts_at(self, contact: Contact, ctx: RuleContext) -> datetime | None:
        previous = self._previous(contact, ctx)
        return None if previous is None else previous.contacted_at + timedelta(minutes=ctx.params.minutes)
