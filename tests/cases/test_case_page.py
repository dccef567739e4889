"""The case page as a collector's work tool: balances, every contact in pages, settlements, flags."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.cases.models import Case, Placement
from portal.cases.placing import end_placement
from portal.extensions import db
from portal.security import Actor
from tests.conftest import login, place_file

CONTACT_HEADER = (
    "case_ref,contacted_at,channel,party,phone,outcome,connected,duration_s,promise_amount,promise_date,"
    "collector_id,recording_ref,notes\n"
)
SETTLEMENT_HEADER = "case_ref,paid_at,amount,method,payment_ref,type,waiver_amount,notes\n"


@pytest.fixture
def ingest(app, world):
    """ingest(text, kind, who) stores an upload through the one pipeline, as that agency user."""
    from portal.accounts.services import get_user_by_email
    from portal.security import Role
    from portal.uploads.jobs import dispatch_upload
    from portal.uploads.services import submit_upload

    def run(text: str, kind: str = "contacts", who: str = "zc_agent", filename: str = "file.csv") -> str:
        with app.app_context():
            user = get_user_by_email(world[who])
            actor = Actor(user_id=user.id, role=Role(user.role), agency_id=user.agency_id, source="test")
            submission = submit_upload(
                actor=actor, kind=kind, stream=io.BytesIO(text.encode()), filename=filename, adapter=None
            )
            dispatch_upload(submission.upload.id)
            db.session.expire_all()
            return submission.upload.status

    return run


def section(page: str, element_id: str) -> str:
    match = re.search(rf'<(section|ul|p|span) [^>]*id="{element_id}".*?</\1>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(0)


def words(html: str) -> str:
    """What a reader sees of ``html``: its text without tags and attributes."""
    return re.sub(r"<[^>]+>", " ", html)


def test_balance_panel_shows_the_lenders_balance_and_what_remains_after_a_reported_settlement(client, world, ingest):
    # The issue: ¥10,186.50 shown after a ¥200.00 settlement whose own check said 9,986.50 remained.
    assert (
        ingest(
            SETTLEMENT_HEADER + "ZY202600001,2026-11-15 10:00:00,200.00,bank_transfer,ZC-TXN-1,partial,,\n",
            kind="settlements",
            filename="settlements-1115.csv",
        )
        == "completed"
    )
    for who in ("zc_agent", "ops"):
        login(client, world[who])
        page = client.get("/cases/ZY202600001").get_data(as_text=True)
        assert "10,186.50" in section(page, "lender-balance")
        assert "200.00" in section(page, "reported-balance")
        assert "9,986.50" in section(page, "balance-after-reported")
        settlements = section(page, "settlements")
        assert "ZC-TXN-1" in settlements and "settlements-1115.csv" in settlements
        assert "银行转账" in settlements and "部分还款" in settlements and "bank_transfer" not in words(settlements)
        client.post("/logout")
    # The same rule decides the next upload: exactly the remaining 9,986.50 is a full payment.
    full = "ZY202600001,2026-11-16 10:00:00,9986.50,alipay,ZC-TXN-2,full,,\n"
    assert ingest(SETTLEMENT_HEADER + full, kind="settlements") == "completed"
    login(client, world["zc_agent"])
    page = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert "0.00" in section(page, "balance-after-reported")


def test_the_case_list_shows_the_balance_after_reported_payments(client, world, ingest):
    ingest(
        SETTLEMENT_HEADER + "ZY202600001,2026-11-15 10:00:00,200.00,bank_transfer,ZC-TXN-1,partial,,\n",
        kind="settlements",
    )
    login(client, world["zc_agent"])
    row = re.search(
        r"<tr[^>]*>\s*<td><a [^>]*>ZY202600001</a>.*?</tr>", client.get("/cases/").get_data(as_text=True), re.S
    )
    assert row and "10,186.50" in row.group(0) and "9,986.50" in row.group(0)


def contact_rows(count: int) -> str:
    """``count`` contacts on ZY202600001, two collectors at each moment (ties broken by id)."""
    lines = []
    for n in range(count):
        moment = n // 2
        day, hour = 2 + moment // 6, 9 + (moment % 6) * 2
        collector = f"ZC00{1 + n % 2}"
        lines.append(
            f"ZY202600001,2026-11-{day:02d} {hour:02d}:00:00,call,debtor,13177777868,no_answer,,,,,"
            f"{collector},,C{moment:03d}-{collector}\n"
        )
    return CONTACT_HEADER + "".join(lines)


def test_every_contact_in_pages_newest_first_with_working_next_links(app, client, world, ingest):
    assert ingest(contact_rows(120), filename="calls-november.csv") == "completed"
    login(client, world["zc_agent"])
    url, seen, pages = "/cases/ZY202600001", [], 0
    while url:
        page = client.get(url).get_data(as_text=True)
        pages += 1
        assert "120" in section(page, "contacts-count")
        contacts = section(page, "contacts")
        seen += re.findall(r"C(\d{3})-(ZC00\d)", contacts)
        assert "calls-november.csv" in contacts
        match = re.search(r'href="([^"]+)" rel="next"', contacts)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert pages == 3
    assert len(seen) == 120 == len(set(seen))
    moments = [int(moment) for moment, _ in seen]
    assert moments == sorted(moments, reverse=True)


def test_a_forged_contacts_cursor_shows_the_newest_page(client, world, ingest):
    ingest(contact_rows(4))
    login(client, world["zc_agent"])
    for forged in ("garbage", "WyJ4IiwxXQ", "WyIyMDI2LTExLTEwVDAwOjAwOjAwIiwxXQ"):
        response = client.get(f"/cases/ZY202600001?contacts_before={forged}")
        assert response.status_code == 200
        assert "C001-ZC002" in section(response.get_data(as_text=True), "contacts")


def test_contact_columns_use_labels_in_each_language(client, world, ingest):
    long_note = "客户表示月底发工资后还款，" * 10
    ingest(
        CONTACT_HEADER + "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,promise_to_pay,,185,1500.00,"
        f"2026-11-30,ZC007,REC-0042,{long_note}\n"
    )
    login(client, world["zc_agent"])
    page = section(client.get("/cases/ZY202600001").get_data(as_text=True), "contacts")
    assert "承诺还款" in page and "电话" in page and "本人" in page
    assert "promise_to_pay" not in words(page) and " call " not in words(page)
    assert "1,500.00" in page and "3:05" in page and "REC-0042" in page and "ZC007" in page
    assert "<details>" in page and long_note in page
    client.post("/locale", data={"locale": "en", "next": "/cases/"})
    page = section(client.get("/cases/ZY202600001").get_data(as_text=True), "contacts")
    assert "promise to pay" in page and "promise_to_pay" not in words(page) and "1 contact" in page


@pytest.fixture
def recalled_and_replaced(app, world, ingest):
    """ZY202600001 worked by ZC until 20 November, then recalled and placed with HX, which worked it too."""
    ingest(CONTACT_HEADER + "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,zc-note\n")
    ingest(
        SETTLEMENT_HEADER + "ZY202600001,2026-11-15 10:00:00,200.00,bank_transfer,ZC-TXN-1,partial,,\n",
        kind="settlements",
        filename="zc-settlements.csv",
    )
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == "ZY202600001")).scalar_one()
        placement = db.session.execute(select(Placement).where(Placement.case_id == case.id)).scalar_one()
        end_placement(actor=Actor.system(source="test"), placement=placement, reason="recalled")
        placement.ended_at = datetime(2026, 11, 20, tzinfo=UTC)
        db.session.commit()
        place_file(
            b"case_ref,agency,placed_at,expires_at\nZY202600001,HX,2026-11-21T00:00:00+08:00,2027-02-28T00:00:00+08:00\n"
        )
    ingest(
        CONTACT_HEADER + "ZY202600001,2026-11-25 10:00:00,call,debtor,13177777868,callback,,,,,HX007,,hx-note\n",
        who="hx_agent",
    )
    assert (
        ingest(
            SETTLEMENT_HEADER + "ZY202600001,2026-11-26 10:00:00,300.00,wechat_pay,HX-TXN-1,partial,,\n",
            kind="settlements",
            who="hx_agent",
            filename="hx-settlements.csv",
        )
        == "completed"
    )


def test_an_agency_sees_only_its_own_work_on_a_case_another_agency_also_worked(client, world, recalled_and_replaced):
    login(client, world["zc_agent"])
    zc = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert "zc-note" in zc and "ZC-TXN-1" in zc
    assert "hx-note" not in zc and "HX007" not in zc and "HX-TXN-1" not in zc and "300.00" not in zc
    assert "hx-settlements.csv" not in zc
    # The case is no longer ZC's: its own contacts show the number masked.
    assert "131****7868" in section(zc, "contacts") and "13177777868" not in zc
    assert "200.00" in section(zc, "reported-balance")
    # One figure for what remains, counting every reported payment, as the settlement check does.
    assert "9,686.50" in section(zc, "balance-after-reported")
    client.post("/logout")

    login(client, world["hx_agent"])
    hx = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert "hx-note" in hx and "HX-TXN-1" in hx and "13177777868" in section(hx, "contacts")
    assert "zc-note" not in hx and "ZC001" not in hx and "ZC-TXN-1" not in hx and "200.00" not in hx
    assert "300.00" in section(hx, "reported-balance") and "9,686.50" in section(hx, "balance-after-reported")
    client.post("/logout")

    login(client, world["compliance"])
    lender = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert all(text in lender for text in ("zc-note", "hx-note", "ZC-TXN-1", "HX-TXN-1"))
    assert "500.00" in section(lender, "reported-balance") and "9,686.50" in section(lender, "balance-after-reported")


def test_current_flags_show_as_labelled_badges_with_their_start(client, world):
    login(client, world["zc_agent"])
    flags = section(client.get("/cases/ZY202600007").get_data(as_text=True), "case-flags")
    assert 'class="badge flag-dispute"' in flags and "争议" in flags and "自" in flags
