"""A person's journey in headless Chromium: log in as an agency agent, browse cases, switch language, log out."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import login  # noqa: F401  (same users as the other tests)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("PORTAL_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)")
        pytest.skip(f"{CHROMIUM} is not installed")


@pytest.fixture
def live_server(app, world) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(live_server):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_agency_agent_journey(page, live_server, world):
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page.goto(live_server + "/cases/")
    assert page.url.startswith(live_server + "/login")
    page.fill("input[name=email]", world["zc_agent"])
    page.fill("input[name=password]", "correct-horse-battery-9")
    shot(page, "01-login")
    page.click("button[type=submit].primary")

    page.wait_for_url(live_server + "/cases/")
    rows = page.locator("#case-list tbody tr")
    assert rows.count() == 20
    assert page.locator("h1").inner_text().startswith("案件")
    shot(page, "02-case-list-zh")

    page.select_option("select[name=bucket]", "M2")  # portal.js submits the filter on change
    page.wait_for_url("**bucket=M2**")
    assert all(text == "M2" for text in page.locator("#case-list .bucket").all_inner_texts())

    page.click("text=ZY202600001")
    page.wait_for_url(live_server + "/cases/ZY202600001")
    assert page.locator("#debtor-name").inner_text() == "高**"
    assert page.locator("#debtor-id").inner_text() == "410***********4517"
    shot(page, "03-case-zh")

    page.click("button[name=locale][value=en]")
    page.wait_for_url(live_server + "/cases/ZY202600001")
    assert page.locator("h1").inner_text() == "Case ZY202600001"
    assert "Outstanding" in page.content()
    shot(page, "04-case-en")

    page.click("#logout")
    page.wait_for_url("**/login")
    assert page.locator("h1").inner_text() == "Log in"
    page.goto(live_server + "/cases/")
    assert "/login" in page.url
    assert errors == []


def test_agency_uploads_a_file_and_sees_the_result(page, live_server, world):
    from tests.conftest import DATA

    page.goto(live_server + "/login")
    page.fill("input[name=email]", world["zc_agent"])
    page.fill("input[name=password]", "correct-horse-battery-9")
    page.click("button[type=submit].primary")
    page.wait_for_url(live_server + "/cases/")
    page.click("nav.mainnav >> text=上传")
    page.wait_for_url(live_server + "/uploads/")
    page.set_input_files("input[name=file]", str(DATA / "contacts_cn_gbk.csv"))
    shot(page, "05-upload-form")
    page.click("form.upload-form button[type=submit]")
    page.wait_for_url("**/uploads/1")
    assert page.locator("#upload-summary .kpi .value").first.inner_text() == "60"
    assert "cn_gbk_csv" in page.content()
    shot(page, "06-upload-result")
    page.goto(live_server + "/uploads/")
    assert page.locator("#upload-list tbody tr").count() == 1
    shot(page, "07-upload-history")
