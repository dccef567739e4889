"""The audit pages: search, an event, a case's timeline, verify now, the bundle download; each read audited."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.cases.models import Case
from portal.extensions import db
from tests.audit.conftest import tamper
from tests.conftest import audit_actions, csrf_token, last_seq, login

PAGES = ["/audit/", "/audit/event?seq=1", "/audit/cases/ZY202600001", "/audit/cases/?case_ref=ZY202600001"]
FORMS = ["/audit/verify", "/audit/export"]


def integrity(page: str) -> str:
    """The event page's integrity panel."""
    return page[page.index('id="event-integrity"') :]


def rows(page: str) -> list[int]:
    """The seqs listed in an events table."""
    return [int(s) for s in re.findall(r'<td class="num"><a href="/audit/event\?seq=(\d+)">', page)]


@pytest.mark.parametrize("who", ["zc_agent", "zc_admin", "hx_agent", "ops"])
def test_everyone_but_compliance_and_admin_is_refused(client, world, who):
    login(client, world[who])
    for url in PAGES:
        assert client.get(url).status_code == 403, url
    for url in FORMS:
        assert client.post(url, data={}).status_code == 403, url
    assert "/audit/" not in client.get("/cases/").get_data(as_text=True)


@pytest.mark.parametrize("who", ["compliance", "admin"])
def test_compliance_and_admin_search_newest_first_and_page_back(app, client, world, who):
    app.config["PORTAL_PAGE_SIZE"] = 20
    login(client, world[who])
    with app.app_context():
        newest = last_seq()
    page = client.get("/audit/").get_data(as_text=True)
    assert 'href="/audit/"' in page  # the nav link
    shown = rows(page)
    assert shown == list(range(newest, newest - 20, -1))
    older = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    second = rows(client.get(older).get_data(as_text=True))
    assert second == list(range(newest - 20, newest - 40, -1))
    assert 'id="retention"' in page and 'id="verify-now"' in page and 'id="download-bundle"' in page
    with app.app_context():
        reads = db.session.execute(
            select(AuditEvent.details).where(AuditEvent.action == "audit:events:read").order_by(AuditEvent.seq)
        ).scalars()
        assert [(d["view"], d["events"], bool(d["cursor"])) for d in reads] == [
            ("search", 20, False),
            ("search", 20, True),
        ]


def test_filters_in_the_query_string_narrow_the_search(app, client, world):
    app.config["PORTAL_PAGE_SIZE"] = 500
    login(client, world["compliance"])
    with app.app_context():
        placements = (
            db.session.execute(select(AuditEvent.seq).where(AuditEvent.action == "case:placement:create"))
            .scalars()
            .all()
        )
        user_creations = (
            db.session.execute(select(AuditEvent.seq).where(AuditEvent.action == "account:user:create")).scalars().all()
        )
    page = client.get("/audit/?action=case:placement:create").get_data(as_text=True)
    assert sorted(rows(page)) == sorted(placements)
    zc = client.get("/audit/?action=case:placement:&agency=ZC").get_data(as_text=True)
    assert len(rows(zc)) == 20
    by_system = rows(client.get("/audit/?actor=system&action=account:").get_data(as_text=True))
    assert sorted(by_system) == sorted(user_creations)
    by_compliance = rows(
        client.get(f"/audit/?actor={world['compliance']}&action=account:login:").get_data(as_text=True)
    )
    assert len(by_compliance) == 1
    one = rows(client.get("/audit/?object_type=user&object_id=1&action=account:user:create").get_data(as_text=True))
    assert len(one) == 1
    assert rows(client.get("/audit/?until=2000-01-01").get_data(as_text=True)) == []
    unknown = client.get("/audit/?agency=NOPE").get_data(as_text=True)
    assert 'class="flash error"' in unknown and "NOPE" in unknown


def test_an_event_page_shows_its_integrity_and_proof(app, client, world, runner):
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    login(client, world["admin"])
    page = client.get("/audit/event?seq=3").get_data(as_text=True)
    assert "Audit event 3" in page or "审计事件 3" in page
    assert integrity(page).count('class="badge ok"') == 3  # leaf hash, columns, inclusion proof
    assert client.get("/audit/event?seq=999999").status_code == 404
    assert client.get("/audit/event?seq=x").status_code == 404
    with app.app_context():
        event = (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == "audit:events:read").order_by(AuditEvent.seq.desc())
            )
            .scalars()
            .first()
        )
        assert (event.object_type, event.object_id, event.details) == ("audit_event", "3", {"view": "event"})
        tamper("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3")
    tampered = client.get("/audit/event?seq=3").get_data(as_text=True)
    assert integrity(tampered).count('class="badge warn"') == 1


def test_a_case_timeline_shows_its_placements_flags_and_who_viewed_it(app, client, world):
    agent = app.test_client()
    login(agent, world["zc_agent"])
    assert agent.get("/cases/ZY202600001").status_code == 200
    login(client, world["compliance"])
    response = client.get("/audit/cases/?case_ref=zy202600001")
    assert response.status_code == 302 and response.headers["Location"].endswith("/audit/cases/ZY202600001")
    page = client.get("/audit/cases/ZY202600001").get_data(as_text=True)
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == "ZY202600001")).scalar_one()
        expected = db.session.execute(
            select(AuditEvent.seq, AuditEvent.action)
            .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id))
            .order_by(AuditEvent.seq)
        ).all()
        assert audit_actions(last_seq() - 1) == ["audit:events:read"]
    assert rows(page) == [seq for seq, _ in expected]
    actions = [action for _, action in expected]
    assert actions[0] == "case:case:create" and "case:placement:create" in actions
    assert actions[-1] == "case:personal_data:view" and world["zc_agent"] in page
    assert client.get("/audit/cases/ZY209999999").status_code == 404


def test_verify_now_needs_csrf_and_shows_the_result(csrf_app, world):
    client = csrf_app.test_client()
    login_token = csrf_token(client)
    client.post(
        "/login", data={"email": world["compliance"], "password": "correct-horse-battery-9", "csrf_token": login_token}
    )
    assert client.post("/audit/verify", data={}).status_code == 400
    token = csrf_token(client, "/audit/")
    page = client.post("/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert 'id="verify-result"' in page and 'class="badge ok"' in page
    with csrf_app.app_context():
        assert "audit:trail:verify" in audit_actions(last_seq() - 1)
        tamper("DELETE FROM audit_events WHERE seq = 7")
    page = client.post("/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert 'class="badge warn"' in page and 'href="/audit/event?seq=7"' in page


@pytest.mark.parametrize("agency", ["", "HX"])
def test_the_bundle_download_verifies_offline(client, world, tmp_path, agency, app):
    login(client, world["compliance"])
    response = client.post("/audit/export", data={"export-agency": agency, "export-since": "2020-01-01"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(response.data)
    response.close()  # the streamed file, and with it the temporary copy, goes away
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        names = set(zf.namelist())
        lines = zf.read("audit_events.jsonl").decode().splitlines()
    assert {"audit_events.jsonl", "checkpoint.json", "proofs.json", "README.txt"} <= names
    if agency:
        with app.app_context():
            hx_id = db.session.execute(
                select(AuditEvent.agency_id).where(AuditEvent.action == "case:placement:create")
            ).scalars()
            assert lines and all('"agency_id":2' in line for line in lines) and 2 in set(hx_id)
    result = subprocess.run(
        [sys.executable, "-m", "portal.audit.verify", str(bundle)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with app.app_context():
        assert audit_actions(last_seq() - 1) == ["audit:bundle:export"]


def test_an_unknown_agency_in_the_export_form_is_refused(client, world):
    login(client, world["admin"])
    response = client.post("/audit/export", data={"export-agency": "NOPE"}, follow_redirects=True)
    assert response.status_code == 200 and 'class="flash error"' in response.get_data(as_text=True)


# --- times, the case timeline, event details (issue 8) ---------------------------------------------------------

CASE_CONTACTS = (
    "case_ref,contacted_at,channel,party,phone,outcome,connected,duration_s,promise_amount,promise_date,"
    "collector_id,recording_ref,notes\n"
    "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"
    "ZY202600001,2026-11-16 23:30:00,call,debtor,13177777868,promise_to_pay,,60,300.00,2026-11-30,ZC002,REC1,\n"
    "ZY202600003,2026-11-11 16:50:00,call,debtor,13697714383,callback,,,,,ZC005,REC0010,\n"
)
CASE_SETTLEMENTS = (
    "case_ref,paid_at,amount,method,payment_ref,type,waiver_amount,notes\n"
    "ZY202600001,2026-11-15 10:00:00,200.00,alipay,ZC-TXN-1,partial,,\n"
)


def raise_finding(contact, rule: str) -> None:
    """A finding on a stored contact, as the rules engine stores it."""
    from portal.compliance.services import NewFinding, store_findings

    finding = NewFinding(
        rule=rule,
        severity="high",
        agency_id=contact.agency_id,
        case_id=contact.case_id,
        upload_id=contact.upload_id,
        row=contact.row,
        occurred_at=contact.contacted_at,
        message=rule,
        contact_id=contact.id,
    )
    store_findings([finding])
    db.session.commit()


def ingest(runner, tmp_path, world, name: str, text: str, kind: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    args = ["uploads", "ingest", str(path), "--agency", "ZC", "--kind", kind, "--user", world["zc_agent"]]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("zh_CN", "2026年12月2日 12:56:59 +08:00"), ("en", "Dec 2, 2026, 12:56:59\u202fPM +08:00")],
)
def test_a_time_with_its_zone_reads_date_time_then_offset(app, locale, expected):
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from portal.i18n import when

    moment = datetime(2026, 12, 2, 4, 56, 59, tzinfo=UTC)
    with app.test_request_context(), force_locale(locale):
        assert when(moment, "long") == expected
        assert when(moment, "full") == expected
        assert "+08" not in when(moment) and "12:56:59" in when(moment)  # tables: the footer names the zone


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_event_page_shows_its_time_with_the_zone_once_and_details_as_fields(app, client, world, locale):
    login(client, world["compliance"])
    client.post("/locale", data={"locale": locale, "next": "/"})
    with app.app_context():
        seq = (
            db.session.execute(
                select(AuditEvent.seq).where(AuditEvent.action == "case:placement:create").order_by(AuditEvent.seq)
            )
            .scalars()
            .first()
        )
    page = client.get(f"/audit/event?seq={seq}").get_data(as_text=True)
    time_cell = re.search(r"<dd>([^<]*\+08:00)</dd>", page).group(1)
    assert "+0800" not in page
    if locale == "zh_CN":
        assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}:\d{2} \+08:00", time_cell)
        assert "案件已委案" in page and "<dt>委案时间</dt><dd>2026年11月1日 00:00:00 +08:00</dd>" in page
    else:
        assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2}\u202f[AP]M \+08:00", time_cell)
        assert "case placed" in page and "<dt>placed</dt><dd>Nov 1, 2026, 12:00:00\u202fAM +08:00</dd>" in page
    # The case is named by its ref, the raw JSON only inside the experts' <details>.
    assert '<a href="/audit/cases/ZY202600001">ZY202600001</a>' in page
    details = page[page.index('id="event-details"') : page.index('class="raw-json"')]
    assert "{" not in details and "placement_id" not in details
    assert '"placement_id"' in page[page.index('class="raw-json"') :]


def test_the_case_timeline_interleaves_contacts_and_settlements_with_events(app, client, world, runner, tmp_path):
    from portal.contacts.models import Contact
    from portal.money.models import Settlement

    ingest(runner, tmp_path, world, "contacts-nov.csv", CASE_CONTACTS, "contacts")
    ingest(runner, tmp_path, world, "payments-nov.csv", CASE_SETTLEMENTS, "settlements")
    with app.app_context():
        late = db.session.execute(select(Contact).where(Contact.collector_id == "ZC002")).scalar_one()
        raise_finding(late, "contact_hours")
    login(client, world["compliance"])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    page = client.get("/audit/cases/ZY202600001").get_data(as_text=True)
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.case_ref == "ZY202600001")).scalar_one()
        moments = [
            (e.occurred_at, "event")
            for e in db.session.execute(
                select(AuditEvent).where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id))
            ).scalars()
        ]
        moments += [
            (c.contacted_at, "contact")
            for c in db.session.execute(select(Contact).where(Contact.case_id == case.id)).scalars()
        ]
        moments += [
            (s.paid_at, "settlement")
            for s in db.session.execute(select(Settlement).where(Settlement.case_id == case.id)).scalars()
        ]
        read = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
    expected = [kind for _at, kind in sorted(moments, key=lambda m: m[0])]
    assert re.findall(r'<tr class="timeline-(event|contact|settlement)">', page) == expected
    assert expected.count("contact") == 2 and expected.count("settlement") == 1
    # Contacts and settlements in the viewer's language, named by their file, with their findings.
    assert "未接通" in page and "承诺还款" in page and "支付宝" in page and "部分还款" in page
    assert "contacts-nov.csv</a> · 第 2 行" in page and "payments-nov.csv</a>" in page
    assert "非允许时段联系" in page  # the 23:30 call's contact_hours finding
    assert not re.search(r"(?:上传|upload) \d+\b", page) and "no_answer" not in page
    # Event details as labelled fields, not JSON.
    assert "<dt>未还余额</dt><dd>¥10,186.50</dd>" in page and '{"' not in page
    assert (read.action, read.details["contacts"], read.details["settlements"]) == ("audit:events:read", 2, 1)


def test_the_case_timeline_pages_through_every_entry_once(app, world, runner, tmp_path):
    from portal.audit import trail
    from portal.security import Actor

    ingest(runner, tmp_path, world, "contacts-nov.csv", CASE_CONTACTS, "contacts")
    ingest(runner, tmp_path, world, "payments-nov.csv", CASE_SETTLEMENTS, "settlements")
    with app.app_context():
        _case, everything = trail.read_case_timeline(actor=Actor.system(source="test"), case_ref="ZY202600001")
        whole = [e.key for e in everything.entries]
        seen, cursor = [], None
        while True:
            _case, page = trail.read_case_timeline(
                actor=Actor.system(source="test"), case_ref="ZY202600001", cursor=cursor, limit=2
            )
            seen += [e.key for e in page.entries]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    assert len(whole) >= 6 and seen == whole == sorted(whole)


def test_the_search_names_objects_and_labels_actions(app, client, world, runner, tmp_path):
    ingest(runner, tmp_path, world, "contacts-nov.csv", CASE_CONTACTS, "contacts")
    login(client, world["compliance"])
    client.post("/locale", data={"locale": "en", "next": "/"})
    page = client.get("/audit/?action=upload:").get_data(as_text=True)
    assert "upload completed" in page and "file received" in page
    assert '">contacts-nov.csv</a>' in page and not re.search(r"upload \d+\b", page)
    assert '<span class="badge ok">success</span>' in page
    cases = client.get("/audit/?action=case:case:create").get_data(as_text=True)
    assert '<a href="/audit/cases/ZY202600001">ZY202600001</a>' in cases
    by_system = rows(client.get("/audit/?actor=系统&action=account:").get_data(as_text=True))
    assert by_system == rows(client.get("/audit/?actor=system&action=account:").get_data(as_text=True)) != []
