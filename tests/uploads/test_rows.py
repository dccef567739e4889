"""Every row error code of contract 5.4 on contact and settlement uploads, and placement_inactive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.cases.models import Placement
from portal.compliance.models import Finding
from portal.db import utcnow
from portal.extensions import db
from portal.money.models import Settlement
from tests.uploads.conftest import CONTACT_HEADER, SETTLEMENT_HEADER

# ZY202600001 is placed with ZC from 2026-11-01 (+08:00); ZY202600002 with HX.
GOOD_CONTACT = "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n"

CONTACT_CASES = [
    ("ZY209999999,2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n", "case_ref", "unknown_case"),
    ("ZY202600002,2026-11-10 15:25:00,call,debtor,15197402358,no_answer,,,,,ZC001,,\n", "case_ref", "unknown_case"),
    (
        "ZY202600001,2026-10-20 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n",
        "contacted_at",
        "case_not_assigned",
    ),
    ("ZY202600001,2099-01-01 10:00:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n", "contacted_at", "future_date"),
    ("ZY202600001,2026-13-45 10:00:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n", "contacted_at", "invalid_date"),
    ("ZY202600001,2026-11-10 15:25:00,fax,debtor,13177777868,no_answer,,,,,ZC001,,\n", "channel", "invalid_value"),
    ("ZY202600001,2026-11-10 15:25:00,call,debtor,12345,no_answer,,,,,ZC001,,\n", "phone", "invalid_phone"),
    ("ZY202600001,2026-11-10 15:25:00,call,debtor,,no_answer,,,,,ZC001,,\n", "phone", "missing_field"),
    (
        "ZY202600001,2026-11-10 15:25:00,call,debtor,13177777868,promise_to_pay,,,-5,2026-11-20,ZC001,,\n",
        "promise_amount",
        "invalid_amount",
    ),
    (",2026-11-10 15:25:00,call,debtor,13177777868,no_answer,,,,,ZC001,,\n", "case_ref", "missing_field"),
]


@pytest.mark.parametrize(("row", "field", "code"), CONTACT_CASES)
def test_contact_row_errors_reject_the_row_and_keep_the_rest(app, upload, row, field, code):
    summary = upload(CONTACT_HEADER + GOOD_CONTACT + row)
    assert summary["status"] == "completed"
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (2, 1, 1)
    assert [(e["row"], e["field"], e["code"]) for e in summary["errors"]] == [(2, field, code)]


def test_work_outside_the_placement_raises_placement_inactive(app, upload):
    summary = upload(CONTACT_HEADER + CONTACT_CASES[2][0])
    assert summary["findings_total"] == 1 and summary["errors"][0]["code"] == "case_not_assigned"
    with app.app_context():
        finding = db.session.execute(select(Finding)).scalar_one()
        assert (finding.rule, finding.row, finding.contact_id) == ("placement_inactive", 1, None)


def test_after_a_recall_contacts_are_case_not_assigned(app, upload):
    with app.app_context():
        placement = db.session.execute(select(Placement).order_by(Placement.id)).scalars().first()
        placement.ended_at = utcnow() - timedelta(days=1)
        placement.end_reason = "recalled"
        db.session.commit()
    late = (utcnow() + timedelta(hours=8) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    summary = upload(CONTACT_HEADER + GOOD_CONTACT.replace("2026-11-10 15:25:00", late))
    assert summary["errors"][0]["code"] == "case_not_assigned"


def test_rows_repeated_within_one_file_count_once(app, upload):
    summary = upload(CONTACT_HEADER + GOOD_CONTACT + GOOD_CONTACT)
    assert (summary["rows_accepted"], summary["rows_duplicate"]) == (1, 1)


GOOD_SETTLEMENT = "ZY202600001,2026-11-15 10:00:00,200.00,bank_transfer,ZC-T-1,partial,,\n"

SETTLEMENT_CASES = [
    ("ZY202600001,2026-11-15 10:00:00,99999.00,bank_transfer,ZC-T-2,partial,,\n", "amount", "exceeds_balance"),
    ("ZY202600001,2026-11-15 10:00:00,10.00,bank_transfer,ZC-T-1,partial,,\n", "payment_ref", "duplicate_payment_ref"),
    ("ZY202600002,2026-11-15 10:00:00,10.00,bank_transfer,ZC-T-2,partial,,\n", "case_ref", "unknown_case"),
    ("ZY202600001,2026-10-15 10:00:00,10.00,bank_transfer,ZC-T-2,partial,,\n", "paid_at", "case_not_assigned"),
    ("ZY202600001,2099-10-15 10:00:00,10.00,bank_transfer,ZC-T-2,partial,,\n", "paid_at", "future_date"),
    ("ZY202600001,2026-11-15 10:00:00,10.001,bank_transfer,ZC-T-2,partial,,\n", "amount", "invalid_amount"),
    ("ZY202600001,2026-11-15 10:00:00,10.00,paypal,ZC-T-2,partial,,\n", "method", "invalid_value"),
    ("ZY202600001,2026-11-15 10:00:00,10.00,bank_transfer,ZC-T-2,full,,\n", "type", "invalid_value"),
    ("ZY202600001,2026-11-15 10:00:00,10.00,bank_transfer,ZC-T-2,settlement,5.00,\n", "waiver_amount", "invalid_value"),
]


@pytest.mark.parametrize(("row", "field", "code"), SETTLEMENT_CASES)
def test_one_bad_settlement_row_rejects_the_whole_file(app, upload, row, field, code):
    summary = upload(SETTLEMENT_HEADER + GOOD_SETTLEMENT + row, kind="settlements")
    assert summary["status"] == "rejected"
    assert (summary["rows_total"], summary["rows_accepted"], summary["rows_rejected"]) == (2, 0, 2)
    assert [(e["row"], e["field"], e["code"]) for e in summary["errors"]] == [(2, field, code)]
    with app.app_context():
        assert db.session.execute(select(Settlement)).first() is None


def test_payment_refs_are_unique_across_uploads(app, upload):
    assert upload(SETTLEMENT_HEADER + GOOD_SETTLEMENT, kind="settlements")["status"] == "completed"
    again = upload(SETTLEMENT_HEADER + GOOD_SETTLEMENT.replace("200.00", "100.00"), kind="settlements")
    assert again["status"] == "rejected" and again["errors"][0]["code"] == "duplicate_payment_ref"


def test_the_balance_counts_earlier_settlements_and_the_files_own_rows(app, upload):
    # ZY202600003 owes 3549.28.
    first = "ZY202600003,2026-11-15 10:00:00,3000.00,alipay,ZC-A-1,partial,,\n"
    assert upload(SETTLEMENT_HEADER + first, kind="settlements")["status"] == "completed"
    rows = (
        "ZY202600003,2026-11-16 10:00:00,300.00,alipay,ZC-A-2,partial,,\n"
        "ZY202600003,2026-11-17 10:00:00,300.00,alipay,ZC-A-3,partial,,\n"
    )
    summary = upload(SETTLEMENT_HEADER + rows, kind="settlements")
    assert summary["errors"] == [
        {
            "row": 2,
            "field": "amount",
            "code": "exceeds_balance",
            "message": "amount 300.00 is more than the case's remaining balance 249.28",
            "column": "amount",
            "line": 3,
        }
    ]
    full = "ZY202600003,2026-11-16 10:00:00,549.28,alipay,ZC-A-4,full,,\n"
    assert upload(SETTLEMENT_HEADER + full, kind="settlements")["status"] == "completed"


def test_a_settlement_with_a_waiver_must_close_the_balance(app, upload):
    row = "ZY202600003,2026-11-15 10:00:00,3000.00,wechat_pay,ZC-W-1,settlement,549.28,\n"
    assert upload(SETTLEMENT_HEADER + row, kind="settlements")["status"] == "completed"


def test_findings_api_lists_an_agencys_own_findings_only(app, upload, runner, world):
    summary = upload(CONTACT_HEADER + CONTACT_CASES[2][0])
    with app.app_context():
        tokens = {
            who: runner.invoke(args=["users", "token", world[who]]).stdout.strip().splitlines()[-1]
            for who in ("zc_agent", "hx_agent", "compliance")
        }
    client = app.test_client()

    def get(who, query=""):
        return client.get(f"/api/v1/findings{query}", headers={"Authorization": f"Bearer {tokens[who]}"})

    body = get("zc_agent", f"?upload_id={summary['id']}").json
    assert [(f["rule"], f["case_ref"], f["row"], f["status"]) for f in body["items"]] == [
        ("placement_inactive", "ZY202600001", 1, "open")
    ]
    assert body["next"] is None
    assert get("hx_agent").json["items"] == []
    assert len(get("compliance", "?rule=placement_inactive").json["items"]) == 1
    assert get("compliance", "?status=bogus").json["error"]["code"] == "invalid_parameter"
