"""The lender staff's dashboard: figures, and for compliance officers and admins the latest audit events (without
the viewer's own reads) and the findings by rule, all in the viewer's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contacts.models import Contact
from portal.extensions import db
from tests.audit.test_views import CASE_CONTACTS, ingest, raise_finding
from tests.conftest import login


def latest_events(page: str) -> list[int]:
    block = page[page.index('id="latest-events"') : page.index('id="findings-by-rule"')]
    return [int(s) for s in re.findall(r'<a href="/audit/event\?seq=(\d+)">', block)]


def test_latest_events_leave_out_the_officers_own_reads_but_not_others(app, client, world):
    other = app.test_client()
    login(other, world["admin"])
    assert other.get("/audit/").status_code == 200  # the admin's read: someone else's, so it shows
    login(client, world["compliance"])
    for _ in range(12):  # more own reads than the list holds: before the fix they filled it
        assert client.get("/audit/").status_code == 200
    assert client.get("/audit/event?seq=1").status_code == 200
    page = client.get("/dashboard").get_data(as_text=True)
    shown = latest_events(page)
    with app.app_context():
        events = {e.seq: e for e in db.session.execute(select(AuditEvent).where(AuditEvent.seq.in_(shown))).scalars()}
        own_id = db.session.execute(
            select(AuditEvent.actor_user_id)
            .where(AuditEvent.action == "account:login:success")
            .order_by(AuditEvent.seq.desc())
        ).scalar()
        admin_read = db.session.execute(
            select(AuditEvent.seq).where(AuditEvent.action == "audit:events:read", AuditEvent.actor_user_id != own_id)
        ).scalar_one()
    assert len(shown) == 10
    assert not [s for s, e in events.items() if e.actor_user_id == own_id and e.action.endswith(":read")]
    assert admin_read in shown


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("zh_CN", ["登录成功", "成功", "按规则统计的合规问题", "非允许时段联系", "缺少录音", "用户 compliance@"]),
        (
            "en",
            [
                "logged in",
                "success",
                "Compliance findings by rule",
                "contact outside allowed hours",
                "user compliance@",
            ],
        ),
    ],
)
def test_the_dashboard_labels_actions_outcomes_and_counts_findings_by_rule(
    app, client, world, runner, tmp_path, locale, words
):
    ingest(runner, tmp_path, world, "contacts-nov.csv", CASE_CONTACTS, "contacts")
    with app.app_context():
        contacts = db.session.execute(select(Contact).order_by(Contact.id)).scalars().all()
        for contact in contacts:
            raise_finding(contact, "contact_hours")
        raise_finding(contacts[0], "recording_missing")
    login(client, world["compliance"])
    client.post("/locale", data={"locale": locale, "next": "/"})
    page = client.get("/dashboard").get_data(as_text=True)
    for word in words:
        assert word in page, word
    findings = page[page.index('id="findings-by-rule"') :]
    counts = re.findall(
        r'<code class="tag small">(\w+)</code></td><td class="num"><span class="badge warn">(\d+)', findings
    )
    assert counts == [("contact_hours", "3"), ("recording_missing", "1")]
    assert "account:login:success</code>" in page  # the tag beside its label, for searching
    assert not re.search(r"<td>user \d+</td>|<td>upload \d+</td>", page)


def test_lender_operations_see_no_audit_blocks(client, world):
    login(client, world["ops"])
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="latest-events"' not in page and 'id="findings-by-rule"' not in page
