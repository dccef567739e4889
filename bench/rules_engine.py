"""The rule engine from plain data: 30,000 contacts of 20 debtors judged by every rule; the pre-contact check."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.compliance.rules import (
    Case,
    Contact,
    History,
    ProposedContact,
    RuleEngine,
    build_rule_registry,
)

OUTCOMES = ["no_answer"] * 6 + ["busy", "refused", "promise_to_pay", "left_message", "callback", "other"]
NOTES = ["客户承诺周五还款", "无人接听", "Promised to pay on Friday", "left voicemail", None, None]


def build(debtors: int, contacts: int, seed: int, zone: str) -> tuple[list[Case], list[History], list[Contact]]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    cases, histories, everything = [], [], []
    per_debtor = contacts // debtors
    for debtor in range(debtors):
        phone = f"138{debtor:08d}"
        case = Case(debtor, debtor, phones={phone: "debtor", f"139{debtor:08d}": "spouse"}, timezone=zone)
        rows = [
            Contact(
                key=debtor * per_debtor + i,
                case_id=debtor,
                customer_id=debtor,
                agency_id=rng.choice(("ZC", "HX")),
                contacted_at=start + timedelta(seconds=rng.randrange(30 * 86400)),
                channel=rng.choice(("call",) * 8 + ("sms", "visit")),
                party=rng.choice(("debtor",) * 9 + ("spouse",)),
                outcome=rng.choice(OUTCOMES),
                phone=phone,
                recording_ref=rng.choice(("R1", None)),
                notes=rng.choice(NOTES),
            )
            for i in range(per_debtor)
        ]
        cases.append(case)
        histories.append(History(rows))
        everything.extend(rows)
    return cases, histories, everything


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--debtors", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=30_000)
    parser.add_argument("--checks", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    registry = build_rule_registry()
    for profile, zone in (("CN", "Asia/Shanghai"), ("US", "America/New_York")):
        engine = RuleEngine(
            registry.for_profile(profile), profile=profile, parameters={"attempt_interval": {"minutes": 10}}
        )
        began = time.perf_counter()
        cases, histories, _ = build(args.debtors, args.contacts, args.seed, zone)
        built = time.perf_counter() - began
        began = time.perf_counter()
        verdicts = 0
        for case, history in zip(cases, histories, strict=True):
            for contact in history:
                verdicts += len(engine.evaluate(contact, case, history))
        judged = time.perf_counter() - began
        rng = random.Random(args.seed)
        timings = []
        for _ in range(args.checks):
            index = rng.randrange(len(cases))
            case, history = cases[index], histories[index]
            at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(30 * 86400))
            proposed = ProposedContact(case.case_id, case.customer_id, "ZC", "call", "debtor", f"138{index:08d}", at)
            tick = time.perf_counter()
            engine.check(proposed, case, history)
            timings.append(time.perf_counter() - tick)
        timings.sort()
        print(
            f"{profile}: {args.contacts} contacts of {args.debtors} debtors, {len(engine.rules)} rules: "
            f"histories built in {built:.2f} s, judged in {judged:.2f} s "
            f"({judged / args.contacts * 1e6:.0f} µs a contact), {verdicts} verdicts; "
            f"check p50 {statistics.median(timings) * 1e3:.2f} ms, p99 {timings[int(len(timings) * 0.99)] * 1e3:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
