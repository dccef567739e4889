"""The cases API (contract 4.1): tokens, pagination, masking, errors as JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.cases import test_case_page as case_page
from tests.conftest import audit_actions, last_seq

# The case page's fixtures: the same uploads, read through the API.
ingest = case_page.ingest
recalled_and_replaced = case_page.recalled_and_replaced
SETTLEMENT_HEADER = case_page.SETTLEMENT_HEADER
contact_rows = case_page.contact_rows


@pytest.fixture
def api(app, world, runner):
    def client_for(who: str):
        with app.app_context():
            token = runner.invoke(args=["users", "token", world[who]]).stdout.strip().splitlines()[-1]
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return client_for


def test_agency_list_has_the_contract_shape_and_only_its_cases(api):
    response = api("zc_agent").get("/api/v1/cases?limit=500")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["next"] is None and len(body["items"]) == 20
    item = body["items"][0]
    # The contract's fields, plus the balance after reported payments and the current flags.
    assert set(item) == {
        "case_ref",
        "status",
        "bucket",
        "days_past_due",
        "outstanding_balance",
        "currency",
        "placed_at",
        "placement_expires_at",
        "agency",
        "balance_after_reported",
        "flags",
    }
    assert item == {
        "case_ref": "ZY202600001",
        "status": "open",
        "bucket": "M2",
        "days_past_due": 58,
        "outstanding_balance": "10186.50",
        "currency": "CNY",
        "placed_at": "2026-10-31T16:00:00+00:00",
        "placement_expires_at": "2027-01-30T16:00:00+00:00",
        "agency": "ZC",
        "balance_after_reported": "10186.50",
        "flags": [],
    }
    assert {i["agency"] for i in body["items"]} == {"ZC"}
    assert next(i for i in body["items"] if i["case_ref"] == "ZY202600007")["flags"] == ["dispute"]


def test_pages_follow_the_cursor_without_gaps_or_repeats(api):
    client = api("ops")
    for sort in ("case_ref", "-outstanding_balance", "-days_past_due"):
        seen, cursor = [], None
        while True:
            url = f"/api/v1/cases?limit=7&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
            body = client.get(url).json
            seen += body["items"]
            cursor = body["next"]
            if cursor is None:
                break
        assert len(seen) == 40 and len({i["case_ref"] for i in seen}) == 40
        if sort == "-outstanding_balance":
            balances = [Decimal(i["outstanding_balance"]) for i in seen]
            assert balances == sorted(balances, reverse=True)


def test_filters_by_bucket_status_and_reference(api):
    client = api("ops")
    m2 = client.get("/api/v1/cases?bucket=M2&limit=500").json["items"]
    assert m2 and {i["bucket"] for i in m2} == {"M2"}
    assert client.get("/api/v1/cases?status=settled").json["items"] == []
    assert [i["case_ref"] for i in client.get("/api/v1/cases?q=zy20260000").json["items"]] == [
        f"ZY20260000{n}" for n in range(1, 10)
    ]


def test_case_detail_masks_personal_data_for_agencies_and_audits_the_view(app, api):
    client = api("zc_agent")
    with app.app_context():
        seq = last_seq()
    body = client.get("/api/v1/cases/ZY202600003").json
    assert body["debtor"] == {"name": "朱*", "id_number": "410***********3961", "province": "河南", "timezone": None}
    assert body["phones"] == [
        {"number": "13697714383", "party": "debtor"},
        {"number": "15410965605", "party": "spouse"},
    ]
    assert body["contacts_count"] == 0 and body["settled_amount"] == "0.00"
    assert body["placement"]["agency"] == "ZC"
    with app.app_context():
        assert audit_actions(seq) == ["case:personal_data:view"]
    lender = api("compliance").get("/api/v1/cases/ZY202600003").json
    assert lender["debtor"]["name"] == "朱丽" and lender["debtor"]["id_number"] == "410109196710103961"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/cases?limit=501", 400, "invalid_parameter"),
        ("/api/v1/cases?limit=zero", 400, "invalid_parameter"),
        ("/api/v1/cases?cursor=%%%", 400, "invalid_parameter"),
        ("/api/v1/cases?bucket=M9", 400, "invalid_parameter"),
        ("/api/v1/cases/NOPE", 404, "not_found"),
        ("/api/v1/cases/ZY202600002/contacts", 404, "not_found"),
        ("/api/v1/cases/ZY202600001/contacts?cursor=%%%", 400, "invalid_parameter"),
        ("/api/v1/cases/ZY202600001/contacts?cursor=WyJ4IiwxXQ", 400, "invalid_parameter"),
        ("/api/v1/cases/ZY202600001/contacts?cursor=WyIyMDI2LTExLTEwVDAwOjAwOjAwIiwxXQ", 400, "invalid_parameter"),
        ("/api/v1/cases/ZY202600001/contacts?limit=0", 400, "invalid_parameter"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ],
)
def test_errors_are_json_with_a_code_and_never_500(api, url, status, code):
    response = api("zc_agent").get(url)
    assert response.status_code == status
    assert response.json["error"]["code"] == code and response.json["error"]["message"]


def test_wrong_method_is_json_405(api):
    response = api("zc_agent").post("/api/v1/cases")
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer pt_not-a-token", "Basic dXNlcjpwYXNz", "Token x"])
def test_bad_or_missing_tokens_are_401(app, world, header):
    client = app.test_client()
    response = client.get("/api/v1/cases", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_cookies_do_not_authenticate_the_api(app, world):
    from tests.conftest import login

    client = app.test_client()
    login(client, world["ops"])
    assert client.get("/api/v1/cases").status_code == 401


def test_openapi_document_is_public_and_describes_the_cases_api(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    assert {"/cases", "/cases/{case_ref}"} <= set(doc["paths"])
    case_schema = doc["components"]["schemas"]["Case"]
    assert case_schema["properties"]["outstanding_balance"]["type"] == "string"


def test_balances_after_a_reported_settlement_in_the_list_and_the_detail(api, ingest):
    ingest(
        SETTLEMENT_HEADER + "ZY202600001,2026-11-15 10:00:00,200.00,bank_transfer,ZC-TXN-1,partial,,\n",
        kind="settlements",
    )
    for who in ("zc_agent", "ops"):
        client = api(who)
        detail = client.get("/api/v1/cases/ZY202600001").json
        assert detail["outstanding_balance"] == "10186.50" and detail["settled_amount"] == "200.00"
        assert detail["balance_after_reported"] == "9986.50"
        listed = client.get("/api/v1/cases?q=ZY202600001").json["items"]
        assert [(i["outstanding_balance"], i["balance_after_reported"]) for i in listed] == [("10186.50", "9986.50")]


def test_detail_carries_the_current_flags_and_since_when(api):
    detail = api("zc_agent").get("/api/v1/cases/ZY202600007").json
    assert detail["flags"] == ["dispute"] and set(detail["flags_since"]) == {"dispute"}


def test_contacts_endpoint_pages_newest_first_without_gaps_or_repeats(app, api, ingest):
    ingest(contact_rows(120))
    client = api("zc_agent")
    with app.app_context():
        seq = last_seq()
    seen, cursor, pages = [], None, 0
    while True:
        body = client.get("/api/v1/cases/ZY202600001/contacts?limit=50" + (f"&cursor={cursor}" if cursor else "")).json
        seen += body["items"]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 120
    assert len({(c["contacted_at"], c["collector_id"]) for c in seen}) == 120
    assert [c["contacted_at"] for c in seen] == sorted((c["contacted_at"] for c in seen), reverse=True)
    assert (
        seen[0]["outcome"] == "no_answer" and seen[0]["phone"] == "13177777868" and seen[0]["case_ref"] == "ZY202600001"
    )
    with app.app_context():
        # Contacts carry phone numbers: each page read is a view of personal data.
        assert audit_actions(seq) == ["case:personal_data:view"] * 3


def test_an_agency_reads_only_its_own_contacts_and_amounts_after_a_recall(api, recalled_and_replaced):
    zc, hx = api("zc_agent"), api("hx_agent")
    assert [c["notes"] for c in zc.get("/api/v1/cases/ZY202600001/contacts").json["items"]] == ["zc-note"]
    assert zc.get("/api/v1/cases/ZY202600001/contacts").json["items"][0]["phone"] == "131****7868"
    assert [c["notes"] for c in hx.get("/api/v1/cases/ZY202600001/contacts").json["items"]] == ["hx-note"]
    zc_case, hx_case = zc.get("/api/v1/cases/ZY202600001").json, hx.get("/api/v1/cases/ZY202600001").json
    assert (zc_case["settled_amount"], zc_case["contacts_count"]) == ("200.00", 1)
    assert (hx_case["settled_amount"], hx_case["contacts_count"]) == ("300.00", 1)
    assert zc_case["balance_after_reported"] == hx_case["balance_after_reported"] == "9686.50"
    lender = api("compliance").get("/api/v1/cases/ZY202600001").json
    assert (lender["settled_amount"], lender["contacts_count"]) == ("500.00", 2)
