"""The pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download),
against a live ``notereader serve`` process, a private redis-server and a real worker, on SQLite.

Set NOTEREADER_SCREENSHOTS=docs/pages to write a screenshot of each page there as the test goes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from page_helpers import FLAGGED_TEXT, IMPACT_NOTE, IMPACT_WORD, edited_housing_rubric, flagged_note
from svc_helpers import wait_for

pytestmark = [pytest.mark.service, pytest.mark.parametrize("service", ["sqlite"], indirect=True)]
CHROMIUM = os.environ.get("NOTEREADER_CHROMIUM", "/usr/bin/chromium")
SCRIPT_LINE = "\n\nShe pasted <script>window.__pwned = 1; alert('x')</script> into the portal."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(service: Any) -> Iterator[str]:
    """``notereader serve`` on the service's database and Redis; yields its base URL."""
    port = _free_port()
    log = open(service.log_dir / "serve.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "notereader", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=service.env(), stdout=log, stderr=subprocess.STDOUT, cwd=service.log_dir)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError((service.log_dir / "serve.log").read_text())
        try:
            return urllib.request.urlopen(base + "/healthz", timeout=2).status == 200
        except OSError:
            return False
    try:
        wait_for(up, 60, 0.3, "notereader serve to answer")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); .ci/run does")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Shots:
    def __init__(self) -> None:
        target = os.environ.get("NOTEREADER_SCREENSHOTS")
        self.dir = Path(target) if target else None
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> None:
        if self.dir:
            page.screenshot(path=str(self.dir / f"{name}.png"), full_page=True)


def sign_in(browser: Any, base: str, token: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/pages/sign-in")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    return page


@pytest.mark.slow
def test_supervisor_dismisses_a_flag_and_an_auditor_traces_it(service, live, browser, tmp_path):
    shots = Shots()
    body, flags = flagged_note(service, text=FLAGGED_TEXT + SCRIPT_LINE,
                               plan={"goals": [{"goal_id": "home", "text": "Keep her flat"}]})
    flag = flags[0]
    dialogs: list[str] = []

    # Sign in as the team's supervisor; the posted note's flag is in the queue.
    page = sign_in(browser, live, service.tokens["sup_housing"])
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.wait_for_url("**/pages/queue")
    row = page.locator(f'tr[data-flag-id="{flag.id}"]')
    row.wait_for()
    assert flag.quotes[0] in row.inner_text()
    shots.take(page, "risk-queue")

    # A note posted while the queue is open appears without a reload.
    later, later_flags = flagged_note(service, text="Her landlord handed her a notice to vacate this week and she "
                                                    "has nowhere else to go.")
    page.locator(f'tr[data-flag-id="{later_flags[0].id}"]').wait_for(timeout=60_000)
    assert "Queue updated" in page.locator("#queue-status").inner_text()

    # Open the flag: the note is shown (the script in it is text, never run), the citation is in view.
    row.get_by_role("link").first.click()
    page.wait_for_url(f"**/pages/flags/{flag.id}#cite-1")
    assert page.locator("#cite-1").is_visible() and page.locator("#cite-1").bounding_box() is not None
    assert "<script>window.__pwned" in page.locator(".note-text").inner_text()
    assert page.evaluate("window.__pwned") is None and dialogs == []
    shots.take(page, "flag-detail")

    # Dismiss it with a reason; it leaves the open queue.
    page.get_by_label("Dismiss (give a reason)").check()
    page.get_by_label("Reason (required to dismiss)").fill("She was describing a TV drama, not her life.")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url(f"**/pages/flags/{flag.id}?done=dismiss")
    assert page.locator("#flag-status").inner_text() == "dismissed"
    assert "She was describing a TV drama" in page.locator(".history").inner_text()
    page.goto(live + "/pages/queue")
    assert page.locator(f'tr[data-flag-id="{flag.id}"]').count() == 0
    page.goto(live + f"/pages/clients/{body['client_id']}")
    assert "Keep her flat" in page.inner_text("main")
    shots.take(page, "client-timeline")

    # A form post without the session's CSRF token is refused, with the session's own cookie.
    refused = page.request.post(live + f"/pages/flags/{later_flags[0].id}/review", form={"action": "acknowledge"})
    assert refused.status == 403

    # Sign out ends the session.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/pages/sign-in")
    shots.take(page, "sign-in")
    page.goto(live + "/pages/queue")
    assert "/pages/sign-in" in page.url

    # Another team's supervisor cannot reach it.
    other = sign_in(browser, live, service.tokens["sup_family"])
    other.wait_for_url("**/pages/queue")
    response = other.goto(live + f"/pages/flags/{flag.id}")
    assert response is not None and response.status == 404 and "Not found" in other.inner_text("h1")

    # The auditor traces it.
    aud = sign_in(browser, live, service.tokens["auditor"])
    aud.wait_for_url("**/pages/audit")
    aud.goto(live + f"/pages/audit?note={body['note_id']}")
    aud.locator(f"a[href='/pages/findings/{flag.finding_id}/trace']").click()
    aud.wait_for_url("**/trace")
    assert aud.locator("#all-verified").inner_text().startswith("Yes")
    assert "dismiss" in aud.inner_text("main")
    aud.get_by_role("button", name="Re-run now").click()
    aud.locator("#rerun-result").wait_for(timeout=120_000)
    assert "Reproduces." in aud.locator("#rerun-result").inner_text()
    shots.take(aud, "trace")

    # The analyst's quality page counts the dismissal, and the edited rubric's impact is checked
    # (on a machine that never compiled that rubric set, this takes about 90 s: hence slow).
    ana = sign_in(browser, live, service.tokens["analyst"])
    ana.wait_for_url("**/pages/rubrics/quality")
    assert "She was describing a TV drama" in ana.inner_text("main")
    shots.take(ana, "rubric-quality")

    # The analyst checks an edited rubric against the stored notes before publishing it.
    _r, impact_note = service.post_note(text=IMPACT_NOTE)
    service.analysis(impact_note["note_id"])
    edited = tmp_path / "housing_loss.yaml"
    edited.write_text(edited_housing_rubric(), encoding="utf-8")
    ana.goto(live + "/pages/rubrics/impact")
    ana.get_by_label("Edited rubric files").set_input_files(str(edited))
    ana.get_by_role("button", name="Check impact").click()
    ana.locator("#impact-summary").wait_for(timeout=600_000)  # a new rubric set compiles in ~90 s the first time
    assert impact_note["note_id"] in ana.inner_text("main") and IMPACT_WORD in ana.inner_text("main")
    shots.take(ana, "rubric-impact")


def test_keyboard_reaches_the_sign_in_form_with_a_visible_focus(live, browser):
    page = browser.new_page()
    page.goto(live + "/pages/sign-in")
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.className") == "brand"


def test_reading_works_without_javascript(service, live, browser):
    _body, flags = flagged_note(service)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live + "/pages/sign-in")
    page.get_by_label("API token").fill(service.tokens["sup_housing"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/pages/queue")
    page.get_by_label("Client").fill(_body["client_id"])
    page.get_by_role("button", name="Filter").click()
    page.locator(f'tr[data-flag-id="{flags[0].id}"] a').first.click()
    page.wait_for_url(f"**/pages/flags/{flags[0].id}#cite-1")
    assert flags[0].quotes[0] in page.locator("#cite-1").inner_text()
    page.get_by_label("Acknowledge").check()
    page.get_by_role("button", name="Save review").click()
    assert page.locator("#flag-status").inner_text() == "acknowledged"
    context.close()
