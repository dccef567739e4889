"""The restricted-periods calendar: the page, ending and cancelling without deleting, the file, and the merge."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.complaints.services import lender_today
from portal.compliance.calendar import (
    CalendarFileError,
    add_period,
    cancel_period,
    end_period,
    load_period_file,
    parse_regions,
    restricted_periods,
)
from portal.compliance.calendar_models import CalendarPeriod
from portal.compliance.rules.facts import RestrictedPeriod
from portal.errors import ConflictError, PermissionDeniedError, ValidationError
from portal.extensions import db
from portal.security import Actor, Role
from tests.conftest import last_seq, login

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "restricted_periods.toml"
EN = {"Accept-Language": "en"}


def today() -> date:
    return lender_today("Asia/Shanghai")


def actions_since(seq: int) -> list[tuple[str, dict]]:
    """The calendar's own events after ``seq`` (logins and page reads left out)."""
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.details)
        .where(AuditEvent.seq > seq, AuditEvent.object_type == "restricted_period")
        .order_by(AuditEvent.seq)
    ).all()
    return [(a, d) for a, d in rows]


@pytest.mark.parametrize("who", ["compliance", "ops", "admin"])
def test_lender_staff_add_a_period_on_the_page_and_see_it_in_force_today(app, client, world, who):
    login(client, world[who])
    with app.app_context():
        seq = last_seq()
    start, end = today() - timedelta(days=1), today() + timedelta(days=3)
    response = client.post(
        "/compliance/calendar/",
        data={
            "name": "Typhoon Haikui",
            "start_on": start.isoformat(),
            "end_on": end.isoformat(),
            "regions": "福建，浙江、福建",
            "reason": "Provincial emergency notice",
        },
        headers=EN,
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Restricted period “Typhoon Haikui” added." in page
    today_line = page[page.index('id="in-force-today"') : page.index("</p>", page.index('id="in-force-today"'))]
    assert "Typhoon Haikui" in today_line
    assert "福建、浙江" in page
    with app.app_context():
        assert restricted_periods(on=today(), file=None) == [
            RestrictedPeriod("Typhoon Haikui", start, end, ("福建", "浙江"))
        ]
        assert restricted_periods(on=end + timedelta(days=1), file=None) == []
        assert actions_since(seq) == [
            (
                "compliance:restricted_period:add",
                {
                    "label": "Typhoon Haikui",
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "regions": ["福建", "浙江"],
                    "reason": "Provincial emergency notice",
                },
            )
        ]


@pytest.mark.parametrize("who", ["zc_agent", "zc_admin"])
def test_agencies_may_not_see_or_keep_the_calendar(client, world, who):
    login(client, world[who])
    assert client.get("/compliance/calendar/").status_code == 403
    assert client.post("/compliance/calendar/", data={"name": "x"}).status_code == 403
    assert client.post("/compliance/calendar/1/end", data={}).status_code == 403


def test_a_period_whose_last_day_is_before_its_first_is_refused_on_the_form(app, client, world):
    login(client, world["compliance"])
    response = client.post(
        "/compliance/calendar/",
        data={"name": "x", "start_on": "2026-12-10", "end_on": "2026-12-01", "reason": "y"},
        headers=EN,
    )
    assert response.status_code == 200 and "the last day is before the first day" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(CalendarPeriod)).scalar_one() == 0


def test_ending_a_period_early_keeps_it_with_its_planned_end_and_the_rules_see_the_new_end(app, client, world):
    with app.app_context():
        period = add_period(
            actor=Actor.system(source="test"),
            name="Holiday moratorium",
            start_on=today() - timedelta(days=5),
            end_on=today() + timedelta(days=5),
            reason="policy",
        )
        period_id, seq = period.id, last_seq()
    login(client, world["compliance"])
    yesterday = today() - timedelta(days=1)
    page = client.post(
        f"/compliance/calendar/{period_id}/end",
        data={"last_day": yesterday.isoformat(), "note": "regulator lifted it"},
        headers=EN,
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"The period now ends on {yesterday.isoformat()}." in page
    assert "ended early" in page and "regulator lifted it" in page
    with app.app_context():
        stored = db.session.get(CalendarPeriod, period_id)
        assert (stored.status, stored.end_on, stored.planned_end_on) == (
            "ended",
            yesterday,
            today() + timedelta(days=5),
        )
        assert restricted_periods(on=today(), file=None) == []
        # Contacts on its earlier days are still judged under it.
        assert [p.name for p in restricted_periods(on=yesterday, file=None)] == ["Holiday moratorium"]
        ((action, details),) = actions_since(seq)
        assert action == "compliance:restricted_period:end"
        assert (
            details["end"] == yesterday.isoformat()
            and details["planned_end"] == (today() + timedelta(days=5)).isoformat()
        )
        assert details["reason"] == "regulator lifted it"


def test_a_period_not_yet_started_is_cancelled_and_kept_but_a_started_one_cannot_be(app, client, world):
    actor = Actor(user_id=None, role=Role.COMPLIANCE)
    with app.app_context():
        upcoming = add_period(
            actor=actor,
            name="Planned",
            start_on=today() + timedelta(days=3),
            end_on=today() + timedelta(days=9),
            reason="r",
        )
        started = add_period(actor=actor, name="Running", start_on=today(), end_on=today(), reason="r")
        seq = last_seq()
        cancel_period(actor=actor, period_id=upcoming.id, note="plans changed", today=today())
        with pytest.raises(ValidationError):
            cancel_period(actor=actor, period_id=started.id, note="x", today=today())
        assert [p.name for p in restricted_periods(file=None)] == ["Running"]
        assert db.session.get(CalendarPeriod, upcoming.id).status == "cancelled"
        assert [a for a, _ in actions_since(seq)] == ["compliance:restricted_period:cancel"]
    login(client, world["ops"])
    page = client.get("/compliance/calendar/", headers=EN).get_data(as_text=True)
    assert "Planned" in page and "cancelled" in page


def test_an_end_must_shorten_the_period_and_a_cancelled_one_cannot_end(ctx):
    actor = Actor.system(source="test")
    period = add_period(actor=actor, name="P", start_on=today(), end_on=today() + timedelta(days=2), reason="r")
    with pytest.raises(ValidationError):
        end_period(actor=actor, period_id=period.id, last_day=today() + timedelta(days=2), note="n")
    with pytest.raises(ValidationError):
        end_period(actor=actor, period_id=period.id, last_day=today() - timedelta(days=1), note="n")
    later = add_period(
        actor=actor, name="Q", start_on=today() + timedelta(days=5), end_on=today() + timedelta(days=6), reason="r"
    )
    cancel_period(actor=actor, period_id=later.id, note="n", today=today())
    with pytest.raises(ConflictError):
        end_period(actor=actor, period_id=later.id, last_day=today() + timedelta(days=5), note="n")


def test_only_lender_staff_keep_the_calendar_in_the_service(ctx):
    agent = Actor(user_id=1, role=Role.AGENCY_ADMIN, agency_id=1)
    with pytest.raises(PermissionDeniedError):
        add_period(actor=agent, name="x", start_on=today(), end_on=today(), reason="y")


def test_the_example_file_parses_and_merges_with_the_pages_periods(app):
    with app.app_context():
        add_period(
            actor=Actor.system(source="test"),
            name="Page period",
            start_on=date(2027, 2, 1),
            end_on=date(2027, 2, 6),
            reason="r",
        )
        merged = restricted_periods(file=str(EXAMPLE))
        assert [p.name for p in merged] == ["Henan flood relief", "Page period", "Spring Festival moratorium 2027"]
        henan = merged[0]
        assert henan.applies(date(2026, 8, 1), "河南") and not henan.applies(date(2026, 8, 1), "湖北")
        on_day = restricted_periods(on=date(2027, 2, 5), file=str(EXAMPLE))
        assert [p.name for p in on_day] == ["Page period", "Spring Festival moratorium 2027"]
        app.config["PORTAL_RESTRICTED_PERIODS_FILE"] = str(EXAMPLE)
        assert len(restricted_periods()) == 3


def test_the_page_lists_the_files_periods_marked_as_from_configuration(app, client, world):
    app.config["PORTAL_RESTRICTED_PERIODS_FILE"] = str(EXAMPLE)
    login(client, world["compliance"])
    page = client.get("/compliance/calendar/", headers=EN).get_data(as_text=True)
    assert "Spring Festival moratorium 2027" in page and "configuration file" in page and "河南" in page


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[period]]\nname = "x"\nstart = 2027-01-05\nend = 2027-01-01\n', "end is before start"),
        ('[[period]]\nname = "x"\nstart = "2027-01-05"\nend = 2027-01-06\n', "must be dates"),
        ("[[period]]\nstart = 2027-01-05\nend = 2027-01-06\n", "name is required"),
        (
            '[[period]]\nname = "x"\nstart = 2027-01-05\nend = 2027-01-06\nprovinces = ["河南"]\n',
            "unknown keys provinces",
        ),
        ("[[period]\n", "Expected"),
    ],
)
def test_a_bad_file_is_an_error_naming_the_problem_never_an_empty_calendar(app, client, world, tmp_path, text, problem):
    path = tmp_path / "periods.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarFileError) as caught:
        load_period_file(path)
    assert problem in caught.value.message
    app.config["PORTAL_RESTRICTED_PERIODS_FILE"] = str(path)
    with app.app_context(), pytest.raises(CalendarFileError):
        restricted_periods()
    login(client, world["compliance"])
    page = client.get("/compliance/calendar/", headers=EN).get_data(as_text=True)
    assert 'id="calendar-file-error"' in page


def test_regions_are_split_on_commas_in_either_script_and_kept_once():
    assert parse_regions("河南, 湖北、湖南；河南") == ["河南", "湖北", "湖南"]
    assert parse_regions("") == [] and parse_regions(["CA", "ca", "NY"]) == ["CA", "NY"]
