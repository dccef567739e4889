"""The complaints register: who registers, sees, answers and closes a complaint; the complaint flag; overdue ones."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from portal.agencies.models import Agency
from portal.audit.models import AuditEvent
from portal.cases.models import Case
from portal.complaints.models import Complaint
from portal.complaints.services import lender_today
from portal.extensions import db
from tests.conftest import last_seq, login
from tests.test_labels import visible_text

# Placed alternately with ZC and HX by tests/data/placements.csv.
ZC_CASE, HX_CASE = "ZY202600001", "ZY202600002"


def today():
    return lender_today("Asia/Shanghai")


def form(**overrides) -> dict[str, str]:
    data = {
        "agency": "ZC",
        "case_ref": ZC_CASE,
        "collector_id": "C-017",
        "category": "harassment",
        "channel": "phone_hotline",
        "received_on": today().isoformat(),
        "response_due_on": "",
        "complainant_name": "高建国",
        "complainant_phone": "13177777868",
        "summary": "Called eleven times on Sunday.",
        "notes": "Regulator copied; ring back on Monday.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# A complaint's reference: CP- and 8 capitals or digits of the public id alphabet (no I, L, O, U).
REFERENCE = re.compile(r"CP-[0-9A-HJKMNP-TV-Z]{8}")


def register(client, **overrides) -> str:
    """Register through the form; the complaint's reference, read from where the form redirects to."""
    response = client.post("/complaints/new", data=form(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.fullmatch(rf"/complaints/({REFERENCE.pattern})", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def complaint(reference: str) -> Complaint:
    return db.session.execute(select(Complaint).where(Complaint.reference == reference)).scalar_one()


def answer_without(response, reference: str) -> str:
    """A page with the reference it was asked for taken out (the locale form carries the path)."""
    return response.get_data(as_text=True).replace(quote(reference, safe=""), "…").replace(reference, "…")


def listed(page: str) -> set[str]:
    """The references a list page links to."""
    return set(re.findall(rf'href="/complaints/({REFERENCE.pattern})"', page))


def events_since(seq: int) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)).scalars())


def test_compliance_registers_a_complaint_that_sets_the_case_flag_from_the_received_day(app, client, world):
    login(client, world["compliance"])
    with app.app_context():
        seq = last_seq()
    received = today() - timedelta(days=2)
    ref = register(client, received_on=received.isoformat(), set_flag="y")
    with app.app_context():
        registered = complaint(ref)
        assert registered.response_due_on == received + timedelta(days=15)
        assert registered.flag_set and registered.is_open
        case = db.session.execute(select(Case).where(Case.case_ref == ZC_CASE)).scalar_one()
        (flag,) = [f for f in case.flags if f.flag == "complaint"]
        assert flag.source == "manual" and flag.reason == f"complaint {ref}"
        # The debtor's midnight of the received day (Shanghai: 16:00 UTC the day before).
        assert flag.effective_from.date() == received - timedelta(days=1) and flag.effective_from.hour == 16
        events = events_since(seq)
        assert [e.action for e in events] == ["complaint:complaint:register", "case:flag:set"]
        assert events[0].object_id == ref
        assert events[0].details == {
            "agency": "ZC",
            "case_ref": ZC_CASE,
            "collector_id": "C-017",
            "complaint_category": "harassment",
            "complaint_channel": "phone_hotline",
            "received_on": received.isoformat(),
            "response_due_on": (received + timedelta(days=15)).isoformat(),
            "flag_set": True,
        }
        # No personal data of the complainant in the trail.
        assert "13177777868" not in events[0].canonical and "高建国" not in events[0].canonical
    page = client.get(f"/complaints/{ref}").get_data(as_text=True)
    assert "13177777868" in page and "Regulator copied" in page
    # The case page links the flag's reason back to the complaint.
    case_page = client.get(f"/cases/{ZC_CASE}").get_data(as_text=True)
    assert f'href="/complaints/{ref}"' in case_page


def test_the_case_page_links_to_a_complaint_form_for_that_case(client, world):
    login(client, world["ops"])
    page = client.get(f"/cases/{ZC_CASE}").get_data(as_text=True)
    assert f'href="/complaints/new?case_ref={ZC_CASE}"' in page
    form_page = client.get(f"/complaints/new?case_ref={ZC_CASE}").get_data(as_text=True)
    assert re.search(rf'name="case_ref"[^>]*value="{ZC_CASE}"', form_page)


def test_the_response_deadline_follows_the_configured_number_of_days_or_the_form(app, client, world):
    app.config["PORTAL_COMPLAINT_RESPONSE_DAYS"] = 7
    login(client, world["ops"])
    first = register(client)
    second = register(client, response_due_on=(today() + timedelta(days=30)).isoformat())
    with app.app_context():
        assert complaint(first).response_due_on == today() + timedelta(days=7)
        assert complaint(second).response_due_on == today() + timedelta(days=30)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"case_ref": HX_CASE}, "was never placed with ZC"),
        ({"case_ref": "ZY999"}, "no case ZY999"),
        ({"case_ref": "", "set_flag": "y"}, "setting the complaint flag needs a case"),
        ({"received_on": "2999-01-01"}, "the received date is in the future"),
        ({"summary": ""}, "This field is required."),
    ],
)
def test_a_bad_complaint_is_refused_on_the_form_with_the_reason(app, client, world, overrides, message):
    login(client, world["ops"])
    response = client.post("/complaints/new", data=form(**overrides), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Complaint)).first() is None


@pytest.mark.parametrize(
    ("who", "status"),
    [("ops", 200), ("compliance", 200), ("admin", 403), ("zc_admin", 403), ("zc_agent", 403)],
)
def test_only_lender_operations_and_compliance_register_complaints(client, world, who, status):
    login(client, world[who])
    assert client.get("/complaints/new").status_code == status
    if status == 403:
        assert client.post("/complaints/new", data=form()).status_code == 403


def test_an_agency_sees_only_complaints_against_itself_masked_and_without_the_lenders_notes(app, world):
    lender = app.test_client()
    login(lender, world["compliance"])
    zc_ref = register(lender)
    hx_ref = register(lender, agency="HX", case_ref=HX_CASE, summary="HX called my employer.")
    zc = app.test_client()
    login(zc, world["zc_admin"])
    listing = zc.get("/complaints/").get_data(as_text=True)
    assert listed(listing) == {zc_ref}
    assert 'id="open-count"><a href="/complaints/?status=open">1<' in listing
    page = zc.get(f"/complaints/{zc_ref}").get_data(as_text=True)
    assert "高**" in page and "131****7868" in page
    assert "13177777868" not in page and "高建国" not in page
    assert "Regulator copied" not in page
    assert "Called eleven times on Sunday." in page
    # Another agency's complaint answers exactly like one that does not exist.
    missing = zc.get("/complaints/CP-00000000")
    other = zc.get(f"/complaints/{hx_ref}")
    assert other.status_code == missing.status_code == 404
    assert answer_without(other, hx_ref) == answer_without(missing, "CP-00000000")
    assert zc.post(f"/complaints/{hx_ref}/response", data={"text": "x"}).status_code == 404
    # A filter by agency cannot widen an agency's view.
    assert hx_ref not in zc.get("/complaints/?agency=HX").get_data(as_text=True)


def test_an_agency_answers_a_complaint_and_the_answer_is_audited(app, world):
    lender = app.test_client()
    login(lender, world["ops"])
    ref = register(lender)
    agent = app.test_client()
    login(agent, world["zc_agent"])
    with app.app_context():
        seq = last_seq()
    response = agent.post(f"/complaints/{ref}/response", data={"text": "Collector C-017 suspended pending review."})
    assert response.status_code == 302
    page = agent.get(f"/complaints/{ref}").get_data(as_text=True)
    assert "Collector C-017 suspended pending review." in page
    with app.app_context():
        (event,) = events_since(seq)
        assert event.action == "complaint:complaint:respond" and event.object_id == ref
        assert event.agency_id is not None and event.details["length"] == 41
    assert "Collector C-017 suspended" in lender.get(f"/complaints/{ref}").get_data(as_text=True)
    # Lender staff do not answer for the agency.
    assert lender.post(f"/complaints/{ref}/response", data={"text": "x"}).status_code == 403
    # An empty answer stores nothing.
    agent.post(f"/complaints/{ref}/response", data={"text": "  "})
    with app.app_context():
        assert len(complaint(ref).responses) == 1


def test_closing_a_complaint_records_the_outcome_and_can_clear_the_case_flag(app, client, world):
    login(client, world["compliance"])
    ref = register(client, set_flag="y")
    page = client.get(f"/complaints/{ref}").get_data(as_text=True)
    # Closing offers to clear the flag, ticked: no other open complaint on the case needs it.
    checkbox = re.search(r'<input[^>]*name="clear_flag"[^>]*>', page).group(0)
    assert "checked" in checkbox
    with app.app_context():
        seq = last_seq()
    response = client.post(
        f"/complaints/{ref}/close", data={"outcome": "upheld", "note": "Apology sent.", "clear_flag": "y"}
    )
    assert response.status_code == 302
    with app.app_context():
        closed = complaint(ref)
        assert closed.outcome == "upheld" and closed.closed_on == today()
        case = db.session.execute(select(Case).where(Case.case_ref == ZC_CASE)).scalar_one()
        assert "complaint" not in case.active_flags
        events = events_since(seq)
        assert [e.action for e in events] == ["complaint:complaint:close", "case:flag:clear"]
        assert events[0].object_id == ref
        assert events[0].details == {
            "complaint_outcome": "upheld",
            "closed_on": today().isoformat(),
            "flag_cleared": True,
        }
        assert events[1].details["reason"] == f"complaint {ref} closed"
    # Closed: no second close, no more answers.
    again = client.post(
        f"/complaints/{ref}/close",
        data={"outcome": "not_upheld"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "the complaint is closed" in again.get_data(as_text=True)
    with app.app_context():
        assert complaint(ref).outcome == "upheld"


def test_closing_without_clearing_keeps_the_flag_and_agencies_cannot_close(app, world):
    lender = app.test_client()
    login(lender, world["ops"])
    ref = register(lender, set_flag="y")
    agency = app.test_client()
    login(agency, world["zc_admin"])
    assert agency.post(f"/complaints/{ref}/close", data={"outcome": "withdrawn"}).status_code == 403
    closing = {"outcome": "withdrawn", "note": "Debtor withdrew it by letter."}
    assert lender.post(f"/complaints/{ref}/close", data=closing).status_code == 302
    # The agency then sees the outcome and the closing note, and can no longer answer.
    page = agency.get(f"/complaints/{ref}").get_data(as_text=True)
    assert "已撤回" in page and "Debtor withdrew it by letter." in page and 'id="response-form"' not in page
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == ZC_CASE)).scalar_one()
        assert "complaint" in case.active_flags


def test_overdue_open_complaints_are_counted_highlighted_and_filtered(app, client, world):
    login(client, world["compliance"])
    late = register(client, received_on=(today() - timedelta(days=20)).isoformat())
    due_today = register(client, received_on=(today() - timedelta(days=15)).isoformat())
    fresh = register(client, category="fees")
    closed_late = register(client, received_on=(today() - timedelta(days=40)).isoformat())
    client.post(f"/complaints/{closed_late}/close", data={"outcome": "not_upheld"})
    page = client.get("/complaints/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="overdue-count"><a href="/complaints/?status=overdue">1<' in page
    assert 'id="open-count"><a href="/complaints/?status=open">3<' in page
    row = re.search(rf'<tr class="overdue">.*?>{late}<.*?</tr>', page, re.S)
    assert row and "overdue" in row.group(0)
    overdue = listed(client.get("/complaints/?status=overdue").get_data(as_text=True))
    assert overdue == {late}
    assert due_today not in overdue  # the deadline day itself is still in time
    assert listed(client.get("/complaints/?status=closed").get_data(as_text=True)) == {closed_late}
    assert listed(client.get("/complaints/?category=fees").get_data(as_text=True)) == {fresh}
    since = (today() - timedelta(days=16)).isoformat()
    period = client.get(f"/complaints/?from={since}&to={today().isoformat()}").get_data(as_text=True)
    assert listed(period) == {due_today, fresh}
    hx = register(client, agency="HX", case_ref=HX_CASE)
    assert listed(client.get("/complaints/?agency=HX").get_data(as_text=True)) == {hx}


def test_the_register_speaks_the_viewers_language(app, client, world):
    login(client, world["compliance"])
    ref = register(client, category="third_party_disclosure", channel="regulator")
    zh = client.get("/complaints/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "向第三方泄露" in zh and "监管机构转来" in zh
    en = client.get(f"/complaints/{ref}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "disclosure to third parties" in en and "via a regulator" in en


def test_the_dashboard_shows_open_and_overdue_complaints_and_the_rate_per_1000_placed_cases(app, client, world):
    login(client, world["ops"])
    register(client, received_on=(today() - timedelta(days=20)).isoformat())
    register(client)
    page = client.get("/dashboard", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'id="kpi-open-complaints"><a [^>]+>2<', page)
    assert re.search(r'id="kpi-overdue-complaints"><a [^>]+>1<', page)
    rates = page[page.index('id="complaint-rates"') :]
    rates = rates[: rates.index("</section>")]
    # 40 sample cases, 20 placed with each agency: 2 complaints against ZC are 100 per 1,000.
    zc = re.search(r">ZC</a>.*?</tr>", rates, re.S).group(0)
    assert re.findall(r'class="num">([^<]*)<', zc) == ["2", "20", "100"]
    hx = re.search(r">HX</a>.*?</tr>", rates, re.S).group(0)
    assert re.findall(r'class="num">([^<]*)<', hx) == ["0", "20", "0"]


# --- complaints are named by their reference, never by the key (contract 1) ------------------------

FIRST_KEY = 73400
# Crockford's alphabet as the digits of base 32, for int(..., 32).
_DIGIT_OF = str.maketrans("0123456789ABCDEFGHJKMNPQRSTVWXYZ", "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def _start_keys_at(first: int) -> None:
    """Make the integer keys distinctive (no date or count looks like 73401): a closed complaint against HX
    at ``first``, and on PostgreSQL the sequence moved past it."""
    hx = db.session.execute(select(Agency).where(Agency.code == "HX")).scalar_one()
    db.session.add(
        Complaint(
            id=first,
            agency_id=hx.id,
            category="other",
            channel="letter",
            received_on=today(),
            response_due_on=today(),
            summary="s",
            closed_on=today(),
            outcome="withdrawn",
        )
    )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('complaints', 'id'), :n)"), {"n": first})
        db.session.commit()


def _shown(response) -> str:
    """What a page shows and where it leads: its visible text, its links and form targets, its redirect."""
    body = response.get_data(as_text=True)
    targets = re.findall(r'(?:href|action)="([^"]*)"', body)
    return " ".join([visible_text(body), *targets, response.headers.get("Location", "")])


def test_an_agency_never_sees_a_complaints_key_and_interleaved_complaints_give_no_sequence(app, world):
    with app.app_context():
        _start_keys_at(FIRST_KEY)
    lender = app.test_client()
    login(lender, world["compliance"])
    lender.post("/locale", data={"locale": "en", "next": "/"})
    zc_refs, hx_refs = [], []
    for _ in range(3):
        for agency, case_ref, refs in (("ZC", ZC_CASE, zc_refs), ("HX", HX_CASE, hx_refs)):
            registered = lender.post(
                "/complaints/new", data=form(agency=agency, case_ref=case_ref, set_flag="y"), follow_redirects=True
            )
            flashed = re.findall(rf"Complaint ({REFERENCE.pattern}) registered\.", _shown(registered))
            assert flashed == [registered.request.path.rsplit("/", 1)[1]]
            refs.append(flashed[0])
    # The lender's case page names the complaint that set the flag by its reference too.
    case_page = _shown(lender.get(f"/cases/{ZC_CASE}"))
    assert f"complaint {zc_refs[0]}" in case_page and f"/complaints/{zc_refs[0]}" in case_page
    with app.app_context():
        keys = {c.reference: c.id for c in db.session.execute(select(Complaint)).scalars() if c.reference}
    # The keys are one sequence for both agencies: ZC's are every other one.
    assert sorted(keys[r] for r in zc_refs) == [FIRST_KEY + 1, FIRST_KEY + 3, FIRST_KEY + 5]
    assert len(set(zc_refs + hx_refs)) == 6

    agent = app.test_client()
    login(agent, world["zc_agent"])
    agent.post("/locale", data={"locale": "en", "next": "/"})
    seen = [agent.get("/complaints/"), agent.get(f"/cases/{ZC_CASE}")]
    for reference in zc_refs:
        seen.append(agent.get(f"/complaints/{reference}"))
        answered = agent.post(f"/complaints/{reference}/response", data={"text": "Looking into it."})
        seen.append(answered)
        seen.append(agent.get(answered.headers["Location"]))
    seen.append(agent.post(f"/complaints/{zc_refs[0]}/response", data={"text": " "}, follow_redirects=True))
    assert all(r.status_code in (200, 302) for r in seen)
    shown = " ".join(_shown(r) for r in seen)
    assert "Your response has been recorded." in shown and "Write a response first." in shown
    # Every ZC complaint is named by its reference, on the pages, in the links and in the case's flag.
    assert set(re.findall(REFERENCE.pattern, shown)) == set(zc_refs)
    assert f"Complaint {zc_refs[0]}" in shown
    for key in range(FIRST_KEY, FIRST_KEY + 7):
        assert not re.search(rf"(?<!\d){key}(?!\d)", shown), key
    assert not re.search(r"/complaints/\d|#\d", shown)
    # The references say nothing of the order: as numbers they are not one after another, or close.
    values = sorted(int(r[3:].translate(_DIGIT_OF), 32) for r in zc_refs + hx_refs)
    assert values[-1] - values[0] > 2**20
    # The keys themselves, and another agency's reference, answer as a complaint that does not exist.
    missing = agent.get("/complaints/CP-00000000")
    assert missing.status_code == 404
    for other in [*map(str, keys.values()), hx_refs[0], f"CP-{keys[zc_refs[0]]}"]:
        page = agent.get(f"/complaints/{other}")
        assert page.status_code == 404, other
        assert answer_without(page, other) == answer_without(missing, "CP-00000000"), other
        assert agent.post(f"/complaints/{other}/response", data={"text": "x"}).status_code == 404


@pytest.mark.parametrize(
    "value",
    [
        "1",
        "0",
        "-1",
        "9223372036854775808",
        "CP-00000000",
        "CP-0000000I",
        "CP_00000000",
        "XX-00000000",
        "CP-",
        "cp-0000000\u00df",
        "x" * 3000,
        "\u00b3",
        "CP-\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10",
    ],
)
def test_an_unknown_malformed_or_integer_reference_is_a_404(app, world, value):
    lender = app.test_client()
    login(lender, world["compliance"])
    ref = register(lender)
    assert lender.get(f"/complaints/{ref.lower()}").status_code == 200  # read out on the phone: either case
    url = "/complaints/" + quote(value, safe="")
    assert lender.get(url).status_code == 404
    assert lender.post(url + "/close", data={"outcome": "upheld"}).status_code == 404
    agent = app.test_client()
    login(agent, world["zc_agent"])
    assert agent.post(url + "/response", data={"text": "x"}).status_code == 404
