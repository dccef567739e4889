"""What an agency's text can do to the people who read it: formulas in errors.csv, bidi controls on pages."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from portal.contacts.models import Contact
from portal.extensions import db
from portal.plugins import FORMULA_PREFIXES
from portal.uploads.models import Upload
from tests.conftest import login
from tests.uploads.conftest import CONTACT_HEADER
from tests.uploads.test_api import post

RLO = "\u202e"
ROW = "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,{collector},,{notes}\n"


def _would_run(cell: str) -> bool:
    return cell.lstrip(" \u3000").startswith(tuple(FORMULA_PREFIXES)) and not cell.startswith("'")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_errors_csv_holds_no_formula_whichever_delimiter_excel_splits_on(api, delimiter):
    # The case reference is echoed inside the message; Excel in a `;` locale starts a cell there.
    hostile = 'X;=HYPERLINK("http://e.x")|@SUM(1)\t-2, +cmd'
    line = io.StringIO()
    csv.writer(line).writerow(
        [hostile, "2026-11-10 15:25:00", "call", "debtor", "13177777868", "no_answer", "", "", "", "", "ZC001"]
    )
    client = api()
    summary = post(client, (CONTACT_HEADER + line.getvalue()).encode()).json
    assert summary["rows_rejected"] == 1
    text = client.get(f"/api/v1/uploads/{summary['id']}/errors.csv").get_data(as_text=True)
    assert "HYPERLINK" in text and "unknown_case" in text
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]
    assert not [cell for cell in cells if _would_run(cell)]


def test_bidi_controls_are_stored_as_sent_and_shown_as_markers(app, api, world):
    collector, notes = f"ZC{RLO}100", f"called {RLO}gnorw rebmun"
    filename = f"report{RLO}vsc.csv"
    client = api()
    body = (CONTACT_HEADER + ROW.format(collector=collector, notes=notes)).encode()
    upload_id = post(client, body, filename=filename).json["id"]
    with app.app_context():
        # The evidence is kept exactly as the agency sent it.
        upload = db.session.execute(select(Upload).where(Upload.public_id == upload_id)).scalar_one()
        contact = db.session.execute(select(Contact).where(Contact.upload_id == upload.id)).scalar_one()
        assert (contact.collector_id, contact.notes) == (collector, notes)
        assert upload.filename == filename

    web = app.test_client()
    login(web, world["zc_agent"])
    for path in ("/uploads/", f"/uploads/{upload_id}", "/cases/ZY202600001"):
        page = web.get(path).get_data(as_text=True)
        assert RLO not in page, path
    assert "report⟦U+202E⟧vsc.csv" in web.get(f"/uploads/{upload_id}").get_data(as_text=True)
    case_page = web.get("/cases/ZY202600001").get_data(as_text=True)
    assert "ZC⟦U+202E⟧100" in case_page and "called ⟦U+202E⟧gnorw rebmun" in case_page

    # Lender staff download the original file as sent, under a name that shows the control.
    staff = app.test_client()
    login(staff, world["compliance"])
    download = staff.get(f"/uploads/{upload_id}/original")
    assert download.status_code == 200 and download.data == body
    disposition = download.headers["Content-Disposition"]
    download.close()
    assert RLO not in disposition and "report%E2%9F%A6U+202E%E2%9F%A7vsc.csv" in disposition


def test_errors_csv_shows_bidi_controls_as_markers(api):
    client = api()
    line = f"ZY{RLO}9,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"
    summary = post(client, (CONTACT_HEADER + line).encode()).json
    text = client.get(f"/api/v1/uploads/{summary['id']}/errors.csv").get_data(as_text=True)
    assert RLO not in text and "ZY⟦U+202E⟧9" in text
