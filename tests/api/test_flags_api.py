"""Case flags in the API (issue 10): the history for lender staff, set and clear by hand, tenancy."""

from __future__ import annotations

import pytest

from tests.api.test_cases_api import api  # noqa: F401  (the token client fixture)
from tests.conftest import audit_actions, last_seq

URL = "/api/v1/cases/{}/flags"


@pytest.fixture
def refs(api):  # noqa: F811
    def first(agency: str) -> str:
        return api("ops").get(f"/api/v1/cases?agency={agency}&limit=1").json["items"][0]["case_ref"]

    return {"ZC": first("ZC"), "HX": first("HX")}


def test_set_unchanged_clear_cycle_is_audited_and_in_the_history(app, api, refs):  # noqa: F811
    ops, url = api("ops"), URL.format(refs["ZC"])
    with app.app_context():
        seq = last_seq()
    first = ops.post(url, json={"flag": "cease", "reason": "asked on the phone", "from": "2026-11-20"})
    assert first.status_code == 200
    assert first.json["action"] == "set" and first.json["case_ref"] == refs["ZC"]
    assert first.json["effective_from"].startswith("2026-11-1") and first.json["effective_to"] is None
    again = ops.post(url, json={"flag": "cease", "reason": "again"})
    assert again.status_code == 200 and again.json["action"] == "unchanged"
    cleared = api("compliance").post(url, json={"flag": "cease", "reason": "withdrawn", "clear": True})
    assert cleared.status_code == 200 and cleared.json["action"] == "cleared" and cleared.json["effective_to"]
    not_open = ops.post(url, json={"flag": "cease", "reason": "x", "clear": True})
    assert not_open.json["action"] == "unchanged"
    with app.app_context():
        assert [a for a in audit_actions(seq) if a.startswith("case:flag")] == ["case:flag:set", "case:flag:clear"]
    history = ops.get(url)
    assert history.status_code == 200
    (spell,) = [item for item in history.json["items"] if item["flag"] == "cease"]
    assert spell["source"] == "manual" and spell["reason"] == "asked on the phone"
    assert spell["clear_reason"] == "withdrawn" and spell["effective_to"] is not None
    detail = api("zc_agent").get(f"/api/v1/cases/{refs['ZC']}").json
    assert "cease" not in detail["flags"]


def test_agencies_are_refused_and_other_agencies_see_nothing(api, refs):  # noqa: F811
    body = {"flag": "dispute", "reason": "x"}
    for who in ("zc_agent", "zc_admin"):
        assert api(who).get(URL.format(refs["ZC"])).status_code == 403
        assert api(who).post(URL.format(refs["ZC"]), json=body).status_code == 403
        # Another agency's case answers as a case that does not exist.
        for ref in (refs["HX"], "NO-SUCH-CASE"):
            response = api(who).get(URL.format(ref))
            assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
            assert api(who).post(URL.format(ref), json=body).status_code == 404
    assert api("ops").post(URL.format("NO-SUCH-CASE"), json=body).status_code == 404
    assert api("admin").post(URL.format(refs["HX"]), json=body).json["action"] == "set"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"flag": "cease"}, 422, "invalid_content"),
        ({"flag": "cease", "reason": "   "}, 422, "invalid_content"),
        ({"flag": "cease", "reason": "x" * 501}, 422, "invalid_content"),
        ({"flag": "nonsense", "reason": "x"}, 400, "invalid_parameter"),
        ({"reason": "x"}, 422, "invalid_content"),
        ({"flag": 3, "reason": "x"}, 400, "invalid_parameter"),
        ({"flag": "cease", "reason": "x", "from": "2026-13-01"}, 400, "invalid_parameter"),
        ({"flag": "cease", "reason": "x", "from": "0001-01-01"}, 400, "invalid_parameter"),
        ({"flag": "cease", "reason": "x", "clear": "yes"}, 400, "invalid_parameter"),
        (["cease"], 400, "invalid_parameter"),
    ],
)
def test_bad_bodies_are_client_errors(api, refs, body, status, code):  # noqa: F811
    response = api("ops").post(URL.format(refs["ZC"]), json=body)
    assert response.status_code == status and response.json["error"]["code"] == code


def test_messages_are_in_the_readers_language(api, refs):  # noqa: F811
    zh = {"Accept-Language": "zh-CN"}
    missing = api("ops").post(URL.format(refs["ZC"]), json={"flag": "cease"}, headers=zh)
    assert missing.json["error"]["message"] == "必须填写原因"
    bad_day = api("ops").post(URL.format(refs["ZC"]), json={"flag": "cease", "reason": "x", "from": "x"}, headers=zh)
    assert bad_day.json["error"]["message"] == "from 必须是日期（YYYY-MM-DD）"
    not_json = api("ops").post(URL.format(refs["ZC"]), data="x", headers=zh)
    assert not_json.json["error"]["message"] == "请发送一个 JSON 对象"
