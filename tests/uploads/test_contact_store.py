"""Storing contacts: batches on the store's thread, exact text through COPY, references kept on PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from portal.contacts.models import Contact
from portal.extensions import db
from portal.uploads.models import Upload
from tests.conftest import POSTGRES_URL
from tests.uploads.conftest import CONTACT_HEADER

# The placed ZC cases of the sample world, and contacts on them that pass every check.
ZC_CASES = [f"ZY2026{n:05d}" for n in range(1, 40, 2)]


def contact_lines(count: int, *, start_minute: int = 0) -> str:
    lines = []
    for n in range(start_minute, start_minute + count):
        case = ZC_CASES[n % len(ZC_CASES)]
        day, minute = divmod(n, 600)
        lines.append(
            f"{case},2026-11-{10 + day:02d} {8 + minute // 60:02d}:{minute % 60:02d}:00,call,debtor,13177777868,"
            f"no_answer,,,,,ZC{n % 7:03d},,\n"
        )
    return "".join(lines)


def stored_contacts() -> int:
    return db.session.execute(select(func.count()).select_from(Contact)).scalar_one()


def test_many_batches_are_counted_once_each_with_duplicates_across_batches(app, upload, monkeypatch):
    monkeypatch.setattr("portal.uploads.processing.BATCH", 7)
    first = upload(CONTACT_HEADER + contact_lines(40))
    assert first["status"] == "completed", first["errors"]
    assert first["rows_accepted"] == 40
    # A cumulative export: yesterday's 40 rows again, then 33 new ones, spread over 11 batches.
    again = upload(CONTACT_HEADER + contact_lines(40) + contact_lines(33, start_minute=40), filename="day2.csv")
    assert again["status"] == "completed", again["errors"]
    assert (again["rows_total"], again["rows_accepted"], again["rows_duplicate"]) == (73, 33, 40)
    with app.app_context():
        assert stored_contacts() == 73
        rows = (
            db.session.execute(
                select(Contact.row).join(Upload, Upload.id == Contact.upload_id).where(Upload.public_id == again["id"])
            )
            .scalars()
            .all()
        )
        assert sorted(rows) == list(range(41, 74))


def test_rejected_rows_between_batches_are_listed_and_the_rest_stored(app, upload, monkeypatch):
    monkeypatch.setattr("portal.uploads.processing.BATCH", 5)
    lines = contact_lines(20).splitlines(keepends=True)
    lines[3] = lines[3].replace("ZY2026", "NOPE")  # row 4: unknown case
    lines[12] = lines[12].replace(",call,", ",fax,")  # row 13: not a channel
    summary = upload(CONTACT_HEADER + "".join(lines))
    assert summary["status"] == "completed"
    assert (summary["rows_accepted"], summary["rows_rejected"]) == (18, 2)
    assert [(e["row"], e["field"], e["code"]) for e in summary["errors"]] == [
        (4, "case_ref", "unknown_case"),
        (13, "channel", "invalid_value"),
    ]
    with app.app_context():
        assert stored_contacts() == 18


def test_text_with_tabs_newlines_and_backslashes_is_stored_exactly(app, upload):
    notes = 'said "call back"\tafter 6\nline two \\ backslash \\N not null\r\nend'
    record = {
        "case_ref": "ZY202600001",
        "contacted_at": "2026-11-10 15:25:00",
        "channel": "visit",
        "party": "debtor",
        "outcome": "refused",
        "collector_id": "ZC\\01",
        "recording_ref": "rec\t7",
        "notes": notes,
    }
    summary = upload(json.dumps(record) + "\n", filename="contacts.jsonl")
    assert summary["status"] == "completed" and summary["rows_accepted"] == 1, summary["errors"]
    with app.app_context():
        contact = db.session.execute(select(Contact)).scalar_one()
        assert (contact.notes, contact.collector_id, contact.recording_ref) == (notes, "ZC\\01", "rec\t7")
        assert contact.phone == ""


def test_a_nul_character_rejects_its_row_naming_the_field(app, upload):
    good = {
        "case_ref": "ZY202600001",
        "contacted_at": "2026-11-10 15:25:00",
        "channel": "visit",
        "party": "debtor",
        "outcome": "refused",
        "collector_id": "ZC001",
    }
    bad = dict(good, contacted_at="2026-11-10 16:00:00", notes="before\x00after")
    summary = upload(json.dumps(good) + "\n" + json.dumps(bad) + "\n", filename="contacts.jsonl")
    assert summary["status"] == "completed"
    assert summary["rows_accepted"] == 1
    assert [(e["row"], e["field"], e["code"]) for e in summary["errors"]] == [(2, "notes", "invalid_value")]
    assert "NUL" in summary["errors"][0]["message"]


def test_a_failure_while_storing_rejects_the_whole_file_and_keeps_nothing(app, upload, monkeypatch):
    import portal.contacts.services as services

    monkeypatch.setattr("portal.uploads.processing.BATCH", 5)
    real = services._copy_text if POSTGRES_URL else services._insert_rows
    calls = []

    def third_batch_fails(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(*args)

    monkeypatch.setattr(services, "_copy_text" if POSTGRES_URL else "_insert_rows", third_batch_fails)
    summary = upload(CONTACT_HEADER + contact_lines(30))
    assert summary["status"] == "rejected"
    assert summary["rows_accepted"] == 0
    assert [(e["row"], e["code"]) for e in summary["errors"]] == [(0, "unreadable_file")]
    with app.app_context():
        assert stored_contacts() == 0
        assert (
            db.session.execute(select(Upload.status).where(Upload.public_id == summary["id"])).scalar_one()
            == "rejected"
        )
    # The next upload is not affected by the failed one.
    monkeypatch.setattr(services, "_copy_text" if POSTGRES_URL else "_insert_rows", real)
    assert upload(CONTACT_HEADER + contact_lines(30), filename="again.csv")["rows_accepted"] == 30


def insert_contact(case_id: int, agency_id: int, upload_id: int) -> None:
    db.session.execute(
        text(
            "INSERT INTO contacts (upload_id, agency_id, case_id, row, contacted_at, channel, party, phone, outcome,"
            " connected, collector_id, created_at) VALUES (:upload, :agency, :case, 1, now(), 'visit', 'debtor', '',"
            " 'refused', true, 'ZC001', now())"
        ),
        {"upload": upload_id, "agency": agency_id, "case": case_id},
    )


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="the reference triggers are PostgreSQL's (set PORTAL_TEST_DATABASE_URL)")
@pytest.mark.parametrize("missing", ["case", "agency", "upload"])
def test_a_contact_must_refer_to_an_existing_case_agency_and_upload(app, upload, missing):
    from sqlalchemy.exc import IntegrityError

    summary = upload(CONTACT_HEADER + contact_lines(1))
    with app.app_context():
        contact = db.session.execute(select(Contact)).scalar_one()
        ids = {"case": contact.case_id, "agency": contact.agency_id, "upload": contact.upload_id}
        ids[missing] = 999_999
        with pytest.raises(IntegrityError, match=f"refer to {missing} 999999"):
            insert_contact(ids["case"], ids["agency"], ids["upload"])
        db.session.rollback()
        assert summary["rows_accepted"] == stored_contacts() == 1


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="the reference triggers are PostgreSQL's (set PORTAL_TEST_DATABASE_URL)")
@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM cases WHERE id = {case_id}",
        "DELETE FROM agencies WHERE id = {agency_id}",
        "DELETE FROM uploads WHERE id = {upload_id}",
        "UPDATE cases SET id = id + 100000 WHERE id = {case_id}",
        "TRUNCATE uploads CASCADE",
    ],
)
def test_rows_that_contacts_refer_to_cannot_be_removed_or_renumbered(app, upload, statement):
    from sqlalchemy.exc import DBAPIError

    upload(CONTACT_HEADER + contact_lines(1))
    with app.app_context():
        contact = db.session.execute(select(Contact)).scalar_one()
        sql = statement.format(case_id=contact.case_id, agency_id=contact.agency_id, upload_id=contact.upload_id)
        with pytest.raises(DBAPIError, match="stored contacts refer to its rows"):
            db.session.execute(text(sql))
        db.session.rollback()
        assert stored_contacts() == 1
