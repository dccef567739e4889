"""The case list and case page as each role sees them: scope, masking, filters, paging, audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.cases.models import Placement
from portal.cases.placing import end_placement
from portal.extensions import db
from portal.security import Actor
from tests.conftest import audit_actions, last_seq, login


def refs(page: str) -> list[str]:
    return re.findall(r">(ZY\d{9})</a>", page)


def test_agency_list_shows_its_current_cases_with_masked_names(client, world):
    login(client, world["zc_agent"])
    page = client.get("/cases/").get_data(as_text=True)
    assert refs(page) == [f"ZY2026{n:05d}" for n in range(1, 41, 2)]
    assert "高**" in page and "高建国" not in page


def test_lender_list_shows_every_case_with_full_names_and_agency(client, world):
    login(client, world["compliance"])
    page = client.get("/cases/").get_data(as_text=True)
    assert len(refs(page)) == 40 and "高建国" in page
    hx = client.get("/cases/?agency=HX&placement=current").get_data(as_text=True)
    assert refs(hx) == [f"ZY2026{n:05d}" for n in range(2, 41, 2)]


def test_filters_and_sorting(client, world):
    login(client, world["zc_agent"])
    m4 = client.get("/cases/?bucket=M4%2B").get_data(as_text=True)
    assert refs(m4) and all("M4+" in row for row in re.findall(r"<tr>.*?</tr>", m4, re.S)[1:])
    by_balance = client.get("/cases/?sort=-outstanding_balance").get_data(as_text=True)
    amounts = [float(a.replace(",", "")) for a in re.findall(r"¥([\d,]+\.\d\d)", by_balance)]
    assert amounts == sorted(amounts, reverse=True) and len(amounts) == 20
    assert refs(client.get("/cases/?status=settled").get_data(as_text=True)) == []


def test_placement_expiring_soon_filter(app, client, world):
    with app.app_context():
        placement = db.session.execute(select(Placement).order_by(Placement.id)).scalars().first()
        placement.expires_at = placement.placed_at + timedelta(days=400)
        soon = db.session.execute(select(Placement).order_by(Placement.id.desc())).scalars().first()
        from portal.db import utcnow

        soon.expires_at = utcnow() + timedelta(days=3)
        soon_ref = soon.case.case_ref
        db.session.commit()
    login(client, world["ops"])
    assert refs(client.get("/cases/?expiring=1").get_data(as_text=True)) == [soon_ref]


def test_search_by_family_name_only_for_agencies(client, world):
    login(client, world["zc_agent"])
    by_family = refs(client.get("/cases/?q=高").get_data(as_text=True))
    by_full = refs(client.get("/cases/?q=高建国").get_data(as_text=True))
    assert "ZY202600001" in by_family and by_family == by_full


def test_paging_walks_every_case_once(app, client, world):
    app.config["PORTAL_PAGE_SIZE"] = 6
    login(client, world["ops"])
    url, seen = "/cases/?sort=-days_past_due", []
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += refs(page)
        match = re.search(r'href="([^"]+)" rel="next"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert len(seen) == 40 == len(set(seen))


def test_case_page_masks_data_and_records_the_view(app, client, world):
    login(client, world["zc_agent"])
    with app.app_context():
        seq = last_seq()
    page = client.get("/cases/ZY202600003").get_data(as_text=True)
    assert "朱*" in page and "410***********3961" in page and "13697714383" in page
    assert "朱丽" not in page and "410109196710103961" not in page
    with app.app_context():
        assert audit_actions(seq) == ["case:personal_data:view"]


def test_after_recall_the_agency_still_sees_its_old_case_but_phones_are_masked(app, client, world):
    with app.app_context():
        placement = db.session.execute(select(Placement).order_by(Placement.id)).scalars().first()
        end_placement(actor=Actor.system(), placement=placement, reason="recalled")
        db.session.commit()
    login(client, world["zc_agent"])
    assert "ZY202600001" not in refs(client.get("/cases/").get_data(as_text=True))
    assert "ZY202600001" in refs(client.get("/cases/?placement=ended").get_data(as_text=True))
    page = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert "131****7868" in page and "13177777868" not in page


def test_import_page_uses_the_same_service(app, client, world):
    login(client, world["ops"])
    header = (
        "case_ref,loan_ref,customer_id,debtor_name,id_number,phones,province,timezone,product,"
        "principal,outstanding_balance,currency,days_past_due,flags\n"
    )
    import io

    body = (
        header + "ZY3,LN3,CU3,王五,110101199001011234,13800138000:debtor,,,loan,10.00,5.00,CNY,3,\nZY4,,,,,,,,,,,,,\n"
    )
    response = client.post(
        "/cases/import",
        data={"action": "import", "cases-file": (io.BytesIO(body.encode()), "c.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert 'id="import-result"' in page and "missing_field" in page
    with app.app_context():
        assert audit_actions(last_seq() - 2)[-2:] == ["case:case:create", "case:import:complete"]
    placed = client.post(
        "/cases/import",
        data={"action": "place", "place-file": (io.BytesIO(b"case_ref,agency\nZY3,HX\n"), "p.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'id="place-result"' in placed and "HX: 1" in placed


def test_agency_users_cannot_import(client, world):
    login(client, world["zc_admin"])
    assert client.get("/cases/import").status_code == 403


def list_row(page: str, case_ref: str) -> str:
    match = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{case_ref}</a>.*?</tr>", page, re.S)
    assert match, f"{case_ref} is not on the page"
    return match.group(0)


@pytest.mark.parametrize(
    ("locale", "dispute", "cease"), [("zh_CN", "争议", "停止催收"), ("en", "dispute", "cease contact")]
)
def test_the_list_shows_current_flags_so_a_disputed_case_does_not_look_normal(client, world, locale, dispute, cease):
    login(client, world["zc_agent"])
    client.post("/locale", data={"locale": locale, "next": "/cases/"})
    page = client.get("/cases/").get_data(as_text=True)
    disputed = list_row(page, "ZY202600007")
    assert 'class="flagged"' in disputed and 'class="badge flag-dispute"' in disputed and f">{dispute}<" in disputed
    assert f">{cease}<" in list_row(page, "ZY202600013")
    assert "flagged" not in list_row(page, "ZY202600001") and "badge" not in list_row(page, "ZY202600001")


def test_a_flag_cleared_by_a_reimport_leaves_the_list(app, client, world):
    from portal.cases.models import Case, CaseFlag
    from portal.db import utcnow

    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == "ZY202600007")).scalar_one()
        flag = db.session.execute(select(CaseFlag).where(CaseFlag.case_id == case.id)).scalar_one()
        flag.effective_to = utcnow()
        db.session.commit()
    login(client, world["zc_agent"])
    assert "flag-dispute" not in list_row(client.get("/cases/").get_data(as_text=True), "ZY202600007")
