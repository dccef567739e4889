"""Setting and clearing case flags on the case page: who may, what the history then shows, what agencies see."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.cases.models import Case
from portal.extensions import db
from tests.conftest import last_seq, login

CASE = "ZY202600001"  # placed with ZC
EN = {"Accept-Language": "en"}


def flags(app) -> list[tuple[str, bool, str | None]]:
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == CASE)).scalar_one()
        return [(f.flag, f.effective_to is None, f.source) for f in case.flags]


def history(page: str) -> str:
    return page[page.index('id="flag-spells"') : page.index("</table>", page.index('id="flag-spells"'))]


@pytest.mark.parametrize(("who", "role"), [("ops", "lender_ops"), ("compliance", "compliance"), ("admin", "admin")])
def test_lender_staff_set_a_flag_from_a_day_and_clear_it_with_a_reason(app, client, world, who, role):
    login(client, world[who])
    page = client.get(f"/cases/{CASE}", headers=EN).get_data(as_text=True)
    assert 'id="flag-set-form"' in page and "No flag has ever been set on this case." in page
    with app.app_context():
        seq = last_seq()
    response = client.post(
        f"/cases/{CASE}/flags",
        data={"flag-flag": "dispute", "flag-from_day": "2026-11-21", "flag-reason": "debtor disputes the fees"},
        headers=EN,
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Flag “dispute” set." in page
    spells = history(page)
    assert "debtor disputes the fees" in spells and "in force" in spells
    assert flags(app) == [("dispute", True, "manual")]
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == CASE)).scalar_one()
        # The debtor's midnight (Shanghai) of the chosen day.
        assert case.flags[0].effective_from == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    # The flag in force shows at the top of the page too, and the history has a clear button for it.
    assert 'id="case-flags"' in page and 'id="clear-reason-dispute"' in page

    response = client.post(
        f"/cases/{CASE}/flags/clear",
        data={"flag": "dispute", "reason": "dispute resolved by phone"},
        headers=EN,
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Flag “dispute” cleared." in page
    spells = history(page)
    # Both reasons stay: the one it was set for and the one it was cleared for.
    assert "debtor disputes the fees" in spells and "cleared: dispute resolved by phone" in spells
    assert 'id="clear-reason-dispute"' not in page
    assert flags(app) == [("dispute", False, "manual")]
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)).scalars()
        changes = [(e.action, e.details["reason"], e.actor_role) for e in events if e.action.startswith("case:flag")]
    assert changes == [
        ("case:flag:set", "debtor disputes the fees", role),
        ("case:flag:clear", "dispute resolved by phone", role),
    ]


def test_history_keeps_every_spell_newest_first_with_its_source(app, client, world):
    login(client, world["ops"])
    for reason in ("first", "second"):
        client.post(f"/cases/{CASE}/flags", data={"flag-flag": "cease", "flag-reason": f"{reason} request"})
        client.post(f"/cases/{CASE}/flags/clear", data={"flag": "cease", "reason": f"{reason} withdrawn"})
    client.post(f"/cases/{CASE}/flags", data={"flag-flag": "vulnerable", "flag-reason": "hospital stay"})
    spells = history(client.get(f"/cases/{CASE}", headers=EN).get_data(as_text=True))
    rows = re.findall(r"<tr class=\"(open|ended)\">", spells)
    assert rows == ["open", "ended", "ended"]
    assert spells.index("hospital stay") < spells.index("second request") < spells.index("first request")
    assert spells.count("set by hand") == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"flag-flag": "cease", "flag-reason": ""}, "This field is required."),
        ({"flag-flag": "haunted", "flag-reason": "x"}, "Not a valid choice."),
        ({"flag-flag": "cease", "flag-reason": "x" * 501}, "Field cannot be longer than 500 characters."),
    ],
)
def test_a_flag_without_a_reason_or_with_a_bad_value_changes_nothing(app, client, world, data, message):
    login(client, world["compliance"])
    page = client.post(f"/cases/{CASE}/flags", data=data, headers=EN, follow_redirects=True).get_data(as_text=True)
    assert message in page
    assert flags(app) == []


def test_setting_a_flag_in_force_or_clearing_one_that_is_not_says_nothing_changed(app, client, world):
    login(client, world["ops"])
    client.post(f"/cases/{CASE}/flags", data={"flag-flag": "cease", "flag-reason": "asked by phone"})
    again = client.post(
        f"/cases/{CASE}/flags", data={"flag-flag": "cease", "flag-reason": "again"}, headers=EN, follow_redirects=True
    )
    assert "is already in force; nothing changed." in again.get_data(as_text=True)
    clear = client.post(
        f"/cases/{CASE}/flags/clear", data={"flag": "dispute", "reason": "x"}, headers=EN, follow_redirects=True
    )
    assert "was not in force; nothing changed." in clear.get_data(as_text=True)
    assert flags(app) == [("cease", True, "manual")]


def test_an_unknown_case_is_a_404(client, world):
    login(client, world["ops"])
    assert client.post("/cases/NOPE/flags", data={"flag-flag": "cease", "flag-reason": "x"}).status_code == 404


@pytest.mark.parametrize("who", ["zc_agent", "zc_admin"])
def test_agencies_see_the_flags_in_force_only_and_cannot_change_them(app, client, world, who):
    lender = app.test_client()
    login(lender, world["ops"])
    lender.post(f"/cases/{CASE}/flags", data={"flag-flag": "dispute", "flag-reason": "internal: fee review"})
    lender.post(f"/cases/{CASE}/flags", data={"flag-flag": "cease", "flag-reason": "asked by phone"})
    lender.post(f"/cases/{CASE}/flags/clear", data={"flag": "cease", "reason": "withdrawn"})
    login(client, world[who])
    page = client.get(f"/cases/{CASE}").get_data(as_text=True)
    assert 'id="case-flags"' in page and "flag-dispute" in page
    assert 'id="flag-spells"' not in page and 'id="flag-set-form"' not in page
    assert "internal: fee review" not in page and "flag-cease" not in page
    assert client.post(f"/cases/{CASE}/flags", data={"flag-flag": "cease", "flag-reason": "x"}).status_code == 403
    assert client.post(f"/cases/{CASE}/flags/clear", data={"flag": "dispute", "reason": "x"}).status_code == 403
    assert [f for f in flags(app) if f[1]] == [("dispute", True, "manual")]


def test_the_flag_panel_speaks_chinese(client, world):
    login(client, world["ops"])
    client.post(f"/cases/{CASE}/flags", data={"flag-flag": "vulnerable", "flag-reason": "住院"})
    page = client.get(f"/cases/{CASE}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    spells = history(page)
    assert "特殊关怀客户" in spells
    assert "生效中" in spells and "设置标记" in page
