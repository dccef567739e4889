"""The upload pipeline end to end on the sample files: counts, duplicates, findings, audit."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.contacts.models import Contact
from portal.extensions import db
from portal.money.models import Settlement
from tests.conftest import audit_actions, last_seq


def test_canonical_contacts_are_stored_and_counted(app, upload, sample):
    with app.app_context():
        seq = last_seq()
    summary = upload(sample("contacts_canonical.csv"), filename="contacts_canonical.csv")
    assert summary["status"] == "completed", summary["errors"]
    assert summary["adapter"] == "canonical" and summary["format"] == "canonical_csv"
    assert summary["rows_total"] == 60
    assert summary["rows_total"] == summary["rows_accepted"] + summary["rows_rejected"] + summary["rows_duplicate"]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Contact)).scalar() == summary["rows_accepted"]
        assert audit_actions(seq) == ["upload:file:receive", "upload:file:complete"]


def test_the_same_bytes_again_are_a_duplicate_of_the_first_upload(app, upload, sample):
    first = upload(sample("contacts_canonical.csv"))
    again = upload(sample("contacts_canonical.csv"), filename="renamed.csv")
    assert again["duplicate"] is True and again["id"] == first["id"]
    assert first["duplicate"] is False


def test_gbk_export_of_the_same_contacts_counts_every_row_as_already_held(app, upload, sample):
    first = upload(sample("contacts_canonical.csv"))
    gbk = upload(sample("contacts_cn_gbk.csv"), filename="contacts_cn_gbk.csv")
    assert gbk["adapter"] == "cn_gbk_csv" and gbk["status"] == "completed", gbk["errors"]
    assert gbk["rows_accepted"] == 0
    assert gbk["rows_duplicate"] == first["rows_accepted"]


def test_settlements_sample_is_stored_with_an_audit_event_per_settlement(app, upload, sample):
    summary = upload(sample("settlements_canonical.csv"), kind="settlements")
    assert summary["status"] == "completed", summary["errors"]
    assert summary["rows_accepted"] == summary["rows_total"] == 10
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Settlement)).scalar() == 10
        assert audit_actions().count("case:settlement:record") == 10


def test_the_case_shows_its_contacts_and_settled_amount_to_the_agency_that_made_them(app, upload, sample, world):
    upload(sample("contacts_canonical.csv"))
    upload(sample("settlements_canonical.csv"), kind="settlements")
    from portal.cases.services import case_detail, require_case
    from tests.uploads.conftest import actor_for_email

    with app.app_context():
        mine = actor_for_email(world["zc_agent"])
        detail = case_detail(mine, require_case(actor=mine, case_ref="ZY202600001"))
        assert detail["contacts_count"] == 3 and detail["settled_amount"] == "200.00"
        lender = actor_for_email(world["compliance"])
        assert case_detail(lender, require_case(actor=lender, case_ref="ZY202600001"))["contacts_count"] == 3
    from tests.conftest import login

    client = app.test_client()
    login(client, world["zc_agent"])
    page = client.get("/cases/ZY202600001").get_data(as_text=True)
    assert 'id="activity"' in page and "ZC002" in page
