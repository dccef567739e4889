"""The registers in Chromium with JavaScript on: a complaint from registering to the agency's answer, flags on the
case page, and a restricted period, each done as the role that does it."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u4e00-\u9fff]")
# A complaint's reference, as its URL, its page and the flash name it.
REFERENCE = re.compile(r"CP-[0-9A-HJKMNP-TV-Z]{8}")
CASE = "ZY202600001"  # placed with ZC


def test_a_complaint_registered_with_the_flag_is_answered_by_the_agency(browser_factory, world):
    officer = browser_factory("en-US")
    page = officer.page
    officer.login(world["compliance"], lands_on="/dashboard")
    page.click("nav.mainnav >> a[href='/complaints/']")
    officer.wait("/complaints/")
    page.click("#register-complaint")
    officer.wait("/complaints/new")
    page.select_option("select[name=agency]", "ZC")
    page.fill("input[name=case_ref]", CASE)
    page.fill("input[name=collector_id]", "C-017")
    page.select_option("select[name=category]", "harassment")
    page.select_option("select[name=channel]", "regulator")
    page.fill("input[name=complainant_name]", "高建国")
    page.fill("input[name=complainant_phone]", "13177777868")
    page.fill("textarea[name=summary]", "Eleven calls on a Sunday, two after 22:00.")
    page.check("input[name=set_flag]")
    officer.shot("60-complaint-form")
    page.click("#complaint-form button[type=submit]")
    officer.wait("**/complaints/CP-*")
    ref = page.url.rsplit("/", 1)[1]
    assert REFERENCE.fullmatch(ref), page.url
    assert f"Complaint {ref} registered." in officer.flashes()
    assert page.locator("h1").inner_text().startswith(f"Complaint {ref}")
    assert "13177777868" in page.locator("#complainant-phone").inner_text()
    officer.shot("61-complaint-registered")
    # The case now carries the complaint flag, and its history links back to the complaint.
    officer.goto(f"/cases/{CASE}")
    assert "complaint" in page.locator("#case-flags").inner_text()
    assert page.locator(f"#flag-spells a[href='/complaints/{ref}']").inner_text() == f"complaint {ref}"

    agency = browser_factory("zh-CN")
    tab = agency.page
    agency.login(world["zc_admin"], lands_on="/cases/")
    tab.click("nav.mainnav >> a[href='/complaints/']")
    agency.wait("/complaints/")
    assert tab.locator("#complaint-list tbody tr").count() == 1
    assert CJK.search(tab.locator("#complaint-list").inner_text())
    agency.shot("62-agency-complaints")
    assert tab.locator("#complaint-list a.reference").inner_text() == ref
    tab.click(f"#complaint-list a[href='/complaints/{ref}']")
    agency.wait(f"**/complaints/{ref}")
    assert tab.locator("#complainant-name").inner_text().strip() == "高**"
    assert tab.locator("#complainant-phone").inner_text().strip() == "131****7868"
    tab.fill("textarea[name=text]", "催收员 C-017 已停岗，正在复核录音。")
    tab.click("#response-form button[type=submit]")
    agency.wait(f"**/complaints/{ref}**")
    assert "催收员 C-017 已停岗" in tab.locator("#responses").inner_text()
    agency.shot("63-agency-answered")

    # The officer sees the answer and closes the complaint, clearing the flag it set.
    officer.goto(f"/complaints/{ref}")
    assert "C-017" in page.locator("#responses").inner_text()
    page.select_option("select[name=outcome]", "upheld")
    assert page.is_checked("input[name=clear_flag]")
    page.click("#close-form button[type=submit]")
    officer.wait(f"**/complaints/{ref}")
    assert f"Complaint {ref} closed." in officer.flashes()
    assert page.locator("#complaint-outcome").inner_text().strip() == "upheld"
    officer.shot("64-complaint-closed")
    officer.goto("/dashboard")
    assert page.locator("#kpi-open-complaints").inner_text().strip() == "0"
    zc_rate = page.locator("#complaint-rates tr:has(a:text-is('ZC')) td.num").all_inner_texts()
    assert zc_rate == ["1", "20", "50"]
    officer.shot("68-dashboard-complaints")
    assert officer.console_errors == [] and agency.console_errors == []


def test_lender_ops_sets_and_clears_a_flag_on_the_case_page(tab, world):
    page = tab.page
    tab.login(world["ops"], lands_on="/dashboard")
    tab.goto(f"/cases/{CASE}")
    page.select_option("select[name=flag-flag]", "dispute")
    page.fill("input[name=flag-reason]", "债务人对费用提出异议")
    page.click("#flag-set-form button[type=submit]")
    tab.wait(f"**/cases/{CASE}**")
    assert page.locator("#case-flags .flag-dispute").count() == 1
    assert "债务人对费用提出异议" in page.locator("#flag-spells").inner_text()
    tab.shot("65-flag-set")
    page.fill("#clear-reason-dispute", "电话中已解决")
    # The page asks before clearing; the person says yes (conftest accepts dialogs).
    page.click("form.clear-flag button[type=submit]")
    tab.wait(f"**/cases/{CASE}**")
    assert page.locator("#case-flags").count() == 0
    spells = page.locator("#flag-spells").inner_text()
    assert "债务人对费用提出异议" in spells and "电话中已解决" in spells
    tab.shot("66-flag-cleared")
    assert tab.console_errors == []


def test_compliance_adds_a_restricted_period_in_force_today(tab, world):
    page = tab.page
    tab.login(world["compliance"], lands_on="/dashboard")
    page.click("nav.mainnav >> a[href='/compliance/calendar/']")
    tab.wait("/compliance/calendar/")
    page.fill("input[name=name]", "河南暴雨灾区")
    page.fill("input[name=end_on]", "2099-12-31")
    page.fill("input[name=regions]", "河南")
    page.fill("textarea[name=reason]", "监管通知：灾区暂停催收")
    page.click("#period-form button[type=submit]")
    tab.wait("/compliance/calendar/")
    assert "河南暴雨灾区" in page.locator("#in-force-today").inner_text()
    assert "河南" in page.locator("#period-list").inner_text()
    tab.shot("67-calendar")
    assert tab.console_errors == []
