"""Every form a role uses daily, submitted in Chromium with JavaScript on, as that role would.

portal.js enhances forms (upload progress, filters that apply on change, confirmations); each test here
submits the real form and checks what the person then sees, so that an enhancement can never break a form.
"""

from __future__ import annotations

import re
import zipfile

import pytest

from tests.conftest import DATA, PASSWORD

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_lender_ops_imports_and_places_cases(tab, world, tmp_path):
    page = tab.page
    tab.login(world["ops"])
    page.click("nav.mainnav >> a[href='/cases/import']")
    tab.wait("/cases/import")
    tab.shot("20-import-page")

    new_case = (
        "case_ref,loan_ref,customer_id,debtor_name,id_number,phones,province,timezone,product,principal,"
        "outstanding_balance,currency,days_past_due,flags\n"
        "ZY209900001,LN9900001,CU9900001,李明,110101199003071234,13800138000:debtor,北京,,personal_loan,"
        "5000.00,4200.00,CNY,45,\n"
    )
    cases_file = tmp_path / "new_cases.csv"
    cases_file.write_text(new_case, encoding="utf-8")
    page.locator("form:has(button[value=import]) input[type=file]").set_input_files(str(cases_file))
    page.click("button[value=import]")
    tab.wait("/cases/import")
    result = page.locator("#import-result")
    result.wait_for()
    assert "1" in result.inner_text()
    assert CJK.search(result.inner_text())
    tab.shot("21-import-result")

    placements = tmp_path / "placements.csv"
    placements.write_text("case_ref,agency,placed_at,expires_at\nZY209900001,ZC,,\n", encoding="utf-8")
    page.locator("form:has(button[value=place]) input[type=file]").set_input_files(str(placements))
    page.click("button[value=place]")
    tab.wait("/cases/import")
    placed = page.locator("#place-result")
    placed.wait_for()
    assert "ZC: 1" in placed.inner_text()
    tab.shot("22-place-result")

    # The placed case now shows in the list, filtered by agency (the select submits on change).
    tab.goto("/cases/")
    page.select_option("select[name=agency]", "ZC")
    tab.wait("**agency=ZC**")
    page.fill("input[name=q]", "ZY2099")
    page.press("input[name=q]", "Enter")
    tab.wait("**q=ZY2099**")
    assert page.locator("#case-list tbody tr").count() == 1
    tab.shot("23-case-list-ops")
    assert tab.console_errors == []


def test_agency_agent_tokens_password_and_settlements(tab, world):
    page = tab.page
    tab.login(world["zc_agent"], lands_on="/cases/")

    # API token: create, see it once, revoke (the page asks first; the person says yes).
    page.click("a[href='/account/tokens']")
    tab.wait("/account/tokens")
    page.fill("input[name=name]", "nightly upload job")
    page.click("form.row-form button[type=submit]")
    tab.wait("/account/tokens")
    assert page.locator("#new-token").inner_text().strip()
    tab.shot("30-token-created")
    page.click("form[data-confirm] button[type=submit]")
    tab.wait("/account/tokens")
    assert any(CJK.search(text) for text in tab.flashes())
    assert page.locator("form[data-confirm]").count() == 0

    # Password: a wrong current password is refused in Chinese; the right one changes it.
    page.click("a[href='/account/password']")
    tab.wait("/account/password")
    page.fill("input[name=current_password]", "not-my-password-1")
    page.fill("input[name=new_password]", "a-much-better-passphrase-42")
    page.fill("input[name=confirm]", "a-much-better-passphrase-42")
    page.click("main form button[type=submit]")
    tab.wait("/account/password")
    refused = " ".join(tab.flashes() + page.locator(".field .error, .errors").all_inner_texts())
    assert CJK.search(refused) and not re.search(r"[A-Za-z]{4,}", refused), refused
    tab.shot("31-password-refused")
    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=new_password]", "a-much-better-passphrase-42")
    page.fill("input[name=confirm]", "a-much-better-passphrase-42")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("load")
    assert "/account/password" not in page.url
    tab.note_load()

    # Settlements in the canonical format, chosen by hand in the format list.
    page.click("nav.mainnav >> a[href='/uploads/']")
    tab.wait("/uploads/")
    page.select_option("select[name=kind]", "settlements")
    page.set_input_files("input[name=file]", str(DATA / "settlements_canonical.csv"))
    page.click("form.upload-form button[type=submit]")
    tab.wait("**/uploads/*")
    page.locator("#upload-summary").wait_for()
    tab.shot("32-settlements-uploaded")
    assert tab.console_errors == []


def test_agency_admin_manages_users(tab, world):
    page = tab.page
    tab.login(world["zc_admin"], lands_on="/cases/")
    page.click("nav.mainnav >> a[href='/users']")
    tab.wait("/users")
    page.click("a[href='/users/new']")
    tab.wait("/users/new")
    page.fill("input[name=email]", "new.collector@zc.example.com")
    page.select_option("select[name=role]", "agency_agent")
    page.fill("input[name=password]", "temporary-passphrase-77")
    tab.shot("40-user-new")
    page.click("main form button[type=submit]")
    tab.wait("/users")
    row = page.locator("tr", has_text="new.collector@zc.example.com")
    assert row.count() == 1

    row.locator("form[action$='/deactivate'] button").click()
    tab.wait("/users")
    row = page.locator("tr", has_text="new.collector@zc.example.com")
    assert row.locator("form[action$='/activate'] button").count() == 1
    row.locator("form[action*='reset'] button").click()  # confirmed by the dialog handler
    tab.wait("**/users/**")
    tab.shot("41-user-reset")
    assert tab.console_errors == []


def test_compliance_searches_verifies_and_exports(tab, world):
    page = tab.page
    tab.login(world["compliance"])
    page.click("nav.mainnav >> a[href='/audit/']")
    tab.wait("/audit/")
    page.fill("#audit-filters input[name=action]", "case:")
    page.click("#audit-filters button[type=submit]")
    tab.wait("**action=case**")
    assert page.locator("table tbody tr").count() > 0
    tab.shot("50-audit-search")

    page.fill("#timeline-form input[name=case_ref]", "ZY202600001")
    page.click("#timeline-form button[type=submit]")
    tab.wait("**/ZY202600001**")
    tab.shot("51-case-timeline")

    tab.goto("/audit/")
    page.click("#verify-now")
    page.wait_for_load_state("load")
    tab.note_load()
    tab.shot("52-verified")

    tab.goto("/audit/")
    with page.expect_download() as download:
        page.click("#download-bundle")
    assert download.value.suggested_filename.endswith(".zip")
    # Wait for the whole bundle (the server then closes its file) and check it is a zip with the trail.
    with zipfile.ZipFile(download.value.path()) as bundle:
        assert "audit_events.jsonl" in bundle.namelist()
    assert tab.console_errors == []


def test_admin_creates_and_edits_an_agency(tab, world):
    page = tab.page
    tab.login(world["admin"])
    page.click("nav.mainnav >> a[href='/agencies/']")
    tab.wait("/agencies/")
    page.click("a[href='/agencies/new']")
    tab.wait("/agencies/new")
    page.fill("input[name=code]", "QX")
    page.fill("input[name=name]", "青鑫催收")
    page.fill("input[name=timezone]", "Asia/Shanghai")
    tab.shot("60-agency-new")
    page.click("main form button[type=submit]")
    tab.wait("/agencies/")
    assert page.locator("tr", has_text="青鑫催收").count() == 1
    page.click("a[href='/agencies/QX/edit']")
    tab.wait("/agencies/QX/edit")
    page.fill("input[name=name]", "青鑫资产管理")
    page.click("main form button[type=submit]")
    tab.wait("/agencies/")
    assert page.locator("tr", has_text="青鑫资产管理").count() == 1
    tab.shot("61-agency-edited")
    assert tab.console_errors == []
