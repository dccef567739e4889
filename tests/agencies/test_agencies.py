"""Agency administration: admins create and edit agencies through the pages; every change is audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from markupsafe import escape
from sqlalchemy import select

from portal.agencies import services
from portal.audit.models import AuditEvent
from portal.errors import PermissionDeniedError
from portal.extensions import db
from portal.security import Actor, Role
from tests.conftest import audit_actions, last_seq, login


def test_admin_creates_an_agency_on_the_page(app, client, world):
    login(client, world["admin"])
    with app.app_context():
        seq = last_seq()
    response = client.post(
        "/agencies/new",
        data={
            "code": "yx",
            "name": "远信",
            "timezone": "Asia/Shanghai",
            "capacity": "50",
            "placement_term_days": "60",
            "commission": "M1:0.1",
            "channels": ["call", "letter"],
        },
    )
    assert response.status_code == 302
    with app.app_context():
        agency = services.require_agency("YX")
        assert (agency.capacity, agency.placement_term_days, agency.allowed_channels) == (50, 60, ["call", "letter"])
        assert agency.commission_rate("M1") == Decimal("0.1")
        assert audit_actions(seq) == ["agency:agency:create"]
    assert "YX" in client.get("/agencies/").get_data(as_text=True)


def test_editing_records_what_changed(app, client, world):
    login(client, world["admin"])
    with app.app_context():
        seq = last_seq()
    response = client.post(
        "/agencies/HX/edit",
        data={
            "name": "Agency HX",
            "status": "suspended",
            "timezone": "Asia/Shanghai",
            "capacity": "",
            "placement_term_days": "90",
            "commission": "",
            "channels": ["call", "sms", "visit", "email", "letter", "im"],
        },
    )
    assert response.status_code == 302
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.seq > seq)).scalars().all()
        assert [e.action for e in events] == ["agency:agency:update"]
        assert events[0].details["changed"] == {"status": "suspended"}


def test_a_bad_commission_is_shown_on_the_form(client, world):
    login(client, world["admin"])
    page = client.post(
        "/agencies/new",
        data={
            "code": "QQ",
            "name": "x",
            "timezone": "Asia/Shanghai",
            "placement_term_days": "90",
            "commission": "M7:2",
        },
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200 and "unknown bucket" in page.get_data(as_text=True)


@pytest.mark.parametrize("who", ["ops", "compliance", "zc_admin"])
def test_only_admins_reach_agency_pages(client, world, who):
    login(client, world[who])
    assert client.get("/agencies/").status_code == 403
    assert client.post("/agencies/ZC/edit", data={"name": "x"}).status_code == 403


def test_services_refuse_non_admins(ctx, world):
    with pytest.raises(PermissionDeniedError):
        services.create_agency(actor=Actor(user_id=1, role=Role.LENDER_OPS), code="NO", name="x")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("zh_CN", "佣金中有未知账龄段“M7”（可用：M1, M2, M3, M4+）"), ("en", "unknown bucket 'M7'")],
)
def test_a_bad_commission_is_flashed_in_the_admins_language(app, client, world, locale, expected):
    from portal.accounts.services import get_user_by_email

    with app.app_context():
        get_user_by_email(world["admin"]).locale = locale
        db.session.commit()
    login(client, world["admin"])
    data = {"code": "QQ", "name": "x", "timezone": "Asia/Shanghai", "placement_term_days": "90", "commission": "M7:2"}
    page = client.post("/agencies/new", data=data).get_data(as_text=True)
    assert str(escape(expected)) in page
