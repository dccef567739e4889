"""Browser fixtures: a live server on the test app, headless Chromium, screenshots and page-load timings."""

from __future__ import annotations

import json
import os
import statistics
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Every page the browser tests load, as (test, url, milliseconds from navigation start to the load event).
LOADS: list[tuple[str, str, float]] = []


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


class Browser:
    """One person's tab: log in, take screenshots, and note how long each page took to load."""

    def __init__(self, page, base: str, test_name: str) -> None:
        self.page = page
        self.base = base
        self.test_name = test_name
        self.console_errors: list[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("load", lambda _page: self._timed())
        self._pending = False

    def _timed(self) -> None:
        # Reading the timing inside the event would re-enter Playwright: note it and read it later.
        self._pending = True

    def note_load(self) -> None:
        if not self._pending:
            return
        self._pending = False
        timing = self.page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n ? [n.name, n.loadEventEnd - n.startTime] : null; }"
        )
        if timing and timing[1] > 0:
            LOADS.append((self.test_name, timing[0], float(timing[1])))

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.note_load()

    def wait(self, pattern: str) -> None:
        self.page.wait_for_url(pattern if pattern.startswith(("**", "http")) else self.base + pattern)
        self.page.wait_for_load_state("load")
        self.note_load()

    def shot(self, name: str) -> None:
        self.note_load()
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def login(self, email: str, password: str = PASSWORD, lands_on: str | None = None) -> None:
        self.goto("/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        self.page.click("form button[type=submit].primary")
        self.page.wait_for_load_state("load")
        if lands_on:
            self.wait(lands_on)
        self.note_load()

    def logout(self) -> None:
        self.page.click("#logout")
        self.wait("**/login")

    def flashes(self) -> list[str]:
        return self.page.locator("p.flash").all_inner_texts()


@pytest.fixture
def browser_factory(live_server, request):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
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
        contexts = []

        def open_tab(locale: str = "zh-CN") -> Browser:
            context = chromium.new_context(
                viewport={"width": 1366, "height": 900}, locale=locale, accept_downloads=True
            )
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(15_000)
            # Pages ask before destructive actions (data-confirm): a person says yes.
            page.on("dialog", lambda dialog: dialog.accept())
            return Browser(page, live_server, request.node.name)

        yield open_tab
        for context in contexts:
            context.close()
        chromium.close()


@pytest.fixture
def tab(browser_factory) -> Browser:
    return browser_factory()


def pytest_terminal_summary(terminalreporter) -> None:
    if not LOADS:
        return
    durations = [ms for _, _, ms in LOADS]
    slowest = max(LOADS, key=lambda item: item[2])
    summary = {
        "pages": len(LOADS),
        "median_ms": round(statistics.median(durations), 1),
        "slowest_ms": round(slowest[2], 1),
        "slowest_url": slowest[1],
        "loads": [{"test": t, "url": u, "ms": round(ms, 1)} for t, u, ms in LOADS],
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(summary, indent=2))
    terminalreporter.write_line(
        f"browser page loads: {summary['pages']} pages, median {summary['median_ms']} ms, "
        f"slowest {summary['slowest_ms']} ms ({summary['slowest_url']})"
    )
