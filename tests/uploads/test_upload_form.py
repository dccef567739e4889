"""The upload form and the upload service offer an agency the shared formats and its own private ones only."""

from __future__ import annotations

import io
import re

import pytest

from portal.plugins import AdapterFormat, Sniff, hookimpl
from tests.conftest import login

PRIVATE = AdapterFormat(
    key="hx_private_csv",
    label="HX private report",
    labels=(("zh_CN", "HX 专用报表"),),
    kinds=("contacts",),
    extensions=(".csv",),
    agency="HX",
)
SHARED = AdapterFormat(
    key="shared_test_csv",
    label="Shared test report",
    labels=(("zh_CN", "通用测试报表"),),
    kinds=("contacts",),
    extensions=(".csv",),
)
TWIN = AdapterFormat(
    key="twin_test_csv", label="Twin test report", labels=(("zh_CN", "孪生测试报表"),), kinds=("contacts",)
)


class PartnerFormats:
    """A plugin with one format private to HX and two shared ones that both claim files marked AMBIGUOUS."""

    @hookimpl
    def adapter_formats(self, settings):
        return [PRIVATE, SHARED, TWIN]

    @hookimpl
    def adapter_sniff(self, sample, filename, settings):
        if sample.startswith(b"HXPRIVATE"):
            return [Sniff(PRIVATE.key, 0.99)]
        if sample.startswith(b"AMBIGUOUS"):
            return [Sniff(SHARED.key, 0.9), Sniff(TWIN.key, 0.9)]
        return []

    @hookimpl
    def adapter_parse(self, format_key, stream, context):
        if format_key in (PRIVATE.key, SHARED.key, TWIN.key):
            return iter(())
        return None


@pytest.fixture
def partner_formats(app):
    app.extensions["portal.plugins"].register(PartnerFormats(), name="partner_test")


def _format_options(page: str) -> dict[str, str]:
    select = re.search(r'<select[^>]*name="adapter".*?</select>', page, re.S)
    assert select, "no format choice on the upload page"
    return dict(re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select.group(0)))


def test_an_agency_sees_the_shared_formats_and_only_its_own_private_ones(client, world, partner_formats):
    login(client, world["zc_agent"])
    options = _format_options(client.get("/uploads/").get_data(as_text=True))
    assert PRIVATE.key not in options and "HX 专用报表" not in str(options)
    assert options[SHARED.key].startswith("通用测试报表")  # translated label, Chinese by default for agencies
    assert "canonical_csv" in options

    client.post("/logout", data={})
    login(client, world["hx_agent"])
    options = _format_options(client.get("/uploads/").get_data(as_text=True))
    assert options[PRIVATE.key].startswith("HX 专用报表")
    client.post("/locale", data={"locale": "en", "next": "/uploads/"})
    options = _format_options(client.get("/uploads/").get_data(as_text=True))
    assert options[PRIVATE.key].startswith("HX private report")


def _post(client, token: str, data: bytes, adapter: str | None = None, lang: str = "en"):
    form = {"kind": "contacts", "file": (io.BytesIO(data), "report.csv")}
    if adapter:
        form["adapter"] = adapter
    return client.post(
        "/api/v1/uploads",
        data=form,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": lang},
        content_type="multipart/form-data",
    )


def _token(app, email: str) -> str:
    from portal.accounts.services import create_token, get_user_by_email
    from portal.security import Actor

    with app.app_context():
        _token, clear = create_token(actor=Actor.system(source="test"), user=get_user_by_email(email), label="t")
    return clear


def test_another_agencys_private_format_is_unknown_by_name_and_never_detected(app, client, world, partner_formats):
    zc = _token(app, world["zc_agent"])
    by_name = _post(client, zc, b"case_ref\nZY1\n", adapter=PRIVATE.key)
    missing = _post(client, zc, b"case_ref\nZY2\n", adapter="no_such_format")
    assert by_name.json["status"] == missing.json["status"] == "rejected"
    [refused], [unknown] = by_name.json["errors"], missing.json["errors"]
    assert refused["code"] == unknown["code"] == "unknown_format" and refused["row"] == 0
    # Exactly as for a format that does not exist: nothing tells ZC that HX has one.
    assert refused["message"] == unknown["message"].replace("no_such_format", PRIVATE.key)

    detected = _post(client, zc, b"HXPRIVATE\nZY3\n")
    assert detected.json["status"] == "rejected" and detected.json["errors"][0]["code"] == "unknown_format"

    hx = _token(app, world["hx_agent"])
    own = _post(client, hx, b"HXPRIVATE\nZY4\n")
    assert own.json["format"] == PRIVATE.key and own.json["status"] != "rejected"
    named = _post(client, hx, b"HXPRIVATE\nZY5\n", adapter=PRIVATE.key)
    assert named.json["format"] == PRIVATE.key


def test_the_ambiguous_format_flash_names_the_formats_by_their_translated_labels(client, world, partner_formats):
    login(client, world["zc_agent"])
    form = {"kind": "contacts", "adapter": "", "file": (io.BytesIO(b"AMBIGUOUS\n1\n"), "report.csv")}
    page = client.post("/uploads/", data=form, content_type="multipart/form-data", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "通用测试报表 (shared_test_csv)" in text and "孪生测试报表 (twin_test_csv)" in text
    assert "Shared test report" not in text
