"""The registers' pages in both languages: no raw code on any of them, audit events of their actions included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.complaints.test_complaints import HX_CASE, ZC_CASE, register, today
from tests.conftest import login
from tests.test_labels import all_codes, raw_codes, visible_text


@pytest.fixture
def registers(app, world):
    """A complaint of every category, status and outcome, answered; flags set and cleared; periods in every state."""
    lender = app.test_client()
    login(lender, world["compliance"])
    numbers = []
    for number, category in enumerate(
        ["harassment", "third_party_disclosure", "threat", "wrong_debt", "fees", "privacy", "other"]
    ):
        numbers.append(
            register(
                lender,
                category=category,
                channel=["phone_hotline", "regulator", "letter", "email", "app", "in_person", "letter"][number],
                received_on=(today() - timedelta(days=number * 4)).isoformat(),
                set_flag="y" if number == 0 else None,
            )
        )
    register(lender, agency="HX", case_ref=HX_CASE)
    for number, outcome in zip(numbers[3:], ["upheld", "partly_upheld", "not_upheld", "withdrawn"], strict=True):
        lender.post(f"/complaints/{number}/close", data={"outcome": outcome, "clear_flag": "y"})
    agent = app.test_client()
    login(agent, world["zc_agent"])
    agent.post(f"/complaints/{numbers[0]}/response", data={"text": "We are looking into it."})
    lender.post(f"/cases/{ZC_CASE}/flags", data={"flag-flag": "dispute", "flag-reason": "fee review"})
    lender.post(f"/cases/{ZC_CASE}/flags/clear", data={"flag": "dispute", "reason": "resolved"})
    for name, start, end in [("now", 0, 2), ("later", 5, 7), ("before", -9, -7), ("cut", -3, 4), ("dropped", 8, 9)]:
        lender.post(
            "/compliance/calendar/",
            data={
                "name": name,
                "start_on": (today() + timedelta(days=start)).isoformat(),
                "end_on": (today() + timedelta(days=end)).isoformat(),
                "regions": "河南" if name == "now" else "",
                "reason": "r",
            },
        )
    lender.post("/compliance/calendar/4/end", data={"last_day": (today() - timedelta(days=1)).isoformat(), "note": "n"})
    lender.post("/compliance/calendar/5/cancel", data={"note": "n"})
    return numbers


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("who", ["compliance", "zc_admin"])
def test_register_pages_show_no_raw_code(app, client, world, registers, locale, who):
    login(client, world[who])
    client.post("/locale", data={"locale": locale, "next": "/"})
    codes = all_codes(app, english=locale == "en")
    pages = ["/complaints/", *[f"/complaints/{n}" for n in registers], f"/cases/{ZC_CASE}"]
    if who == "compliance":
        with app.app_context():
            seqs = db.session.execute(
                select(db.func.min(AuditEvent.seq))
                .where(AuditEvent.action.like("complaint:%") | AuditEvent.action.like("compliance:restricted%"))
                .group_by(AuditEvent.action)
            ).scalars()
            pages += [
                "/complaints/new",
                "/compliance/calendar/",
                "/dashboard",
                *[f"/audit/event?seq={s}" for s in seqs],
            ]
    problems = []
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        found = raw_codes(visible_text(response.get_data(as_text=True)), codes)
        if found:
            problems.append(f"{url}: {sorted(found)}")
    assert not problems, "\n".join(problems)
