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
    assert "unknown agency" in unknown


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
