"""A person's journey in headless Chromium: log in as an agency agent, browse cases, switch language, log out."""

from __future__ import annotations

import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.browser


def test_agency_agent_journey(tab, world):
    page = tab.page
    tab.goto("/cases/")
    assert page.url.startswith(tab.base + "/login")
    page.fill("input[name=email]", world["zc_agent"])
    page.fill("input[name=password]", "correct-horse-battery-9")
    tab.shot("01-login")
    page.click("button[type=submit].primary")

    tab.wait("/cases/")
    rows = page.locator("#case-list tbody tr")
    assert rows.count() == 20
    assert page.locator("h1").inner_text().startswith("案件")
    tab.shot("02-case-list-zh")

    page.select_option("select[name=bucket]", "M2")  # portal.js submits the filter on change
    tab.wait("**bucket=M2**")
    assert all(text == "M2" for text in page.locator("#case-list .bucket").all_inner_texts())

    page.click("text=ZY202600001")
    tab.wait("/cases/ZY202600001")
    assert page.locator("#debtor-name").inner_text() == "高**"
    assert page.locator("#debtor-id").inner_text() == "410***********4517"
    tab.shot("03-case-zh")

    page.click("button[name=locale][value=en]")
    tab.wait("/cases/ZY202600001")
    assert page.locator("h1").inner_text() == "Case ZY202600001"
    tab.shot("04-case-en")

    tab.logout()
    assert page.locator("h1").inner_text() == "Log in"
    tab.goto("/cases/")
    assert "/login" in page.url
    assert tab.console_errors == []


def test_agency_uploads_a_file_and_sees_the_result(tab, world):
    page = tab.page
    tab.login(world["zc_agent"], lands_on="/cases/")
    page.click("nav.mainnav >> text=上传")
    tab.wait("/uploads/")
    page.set_input_files("input[name=file]", str(DATA / "contacts_cn_gbk.csv"))
    tab.shot("05-upload-form")
    page.click("form.upload-form button[type=submit]")
    tab.wait("**/uploads/*")
    assert page.locator("#upload-summary .kpi .value").first.inner_text() == "60"
    tab.shot("06-upload-result")

    # The same bytes again: with JavaScript on, the page must still say why it shows the old upload.
    first_upload = page.url
    tab.goto("/uploads/")
    page.set_input_files("input[name=file]", str(DATA / "contacts_cn_gbk.csv"))
    page.click("form.upload-form button[type=submit]")
    tab.wait(first_upload)
    assert any("相同的文件" in text for text in tab.flashes()), tab.flashes()
    tab.shot("07-upload-duplicate")

    tab.goto("/uploads/")
    assert page.locator("#upload-list tbody tr").count() == 1
    tab.shot("08-upload-history")
    assert tab.console_errors == []
