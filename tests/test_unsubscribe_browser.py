"""A reader in a real browser (headless Chromium through Playwright) follows the unsubscribe link of a
message really sent, presses the one button, and is on the suppression list that
`newsletter suppress list` prints.

Skipped only when Debian's chromium is not installed on a developer's machine; with CI set, a missing
browser fails the run instead. Screenshots of the pages go to the test's tmp_path.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from command import run
from conftest import needs_chromium
from endpoint_server import serve_env
from playwright.sync_api import Browser, expect

if TYPE_CHECKING:
    from endpoint_server import Endpoint, Sent

pytest_plugins = ["smtp_server", "endpoint_server"]
pytestmark = needs_chromium


def test_a_reader_presses_the_button_and_is_unsubscribed(
    browser: Browser, sent: Sent, served: Endpoint, tmp_path: Path
) -> None:
    email = "lid150@example.org"
    link = f"{served.base}/uitschrijven?token={sent.tokens[email]}"
    context = browser.new_context(locale="nl-BE", viewport={"width": 390, "height": 800})
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda message: complaints.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: complaints.append(str(error)))
    try:
        page.goto(link)
        expect(page).to_have_title("Uitschrijven \u2013 Nieuwsbrief POM Limburg")
        expect(page.get_by_role("heading", level=1)).to_have_text("Uitschrijven")
        expect(page.get_by_text("l•••@example.org")).to_be_visible()
        button = page.get_by_role("button", name="Ja, schrijf mij uit")
        expect(button).to_be_visible()
        # The layout's colours applied under the page's Content-Security-Policy (the style's nonce).
        expect(button).to_have_css("background-color", "rgb(11, 79, 108)")
        page.screenshot(path=tmp_path / "ask.png", full_page=True)
        # Opening the page unsubscribed nobody.
        assert email not in _suppressed(served)

        button.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Je bent uitgeschreven")
        expect(page.get_by_text("Je krijgt geen nieuwsbrieven meer")).to_be_visible()
        expect(page.get_by_role("button")).to_have_count(0)
        # The confirmation is the POST's own answer, at the same address: no redirect, no cookie.
        assert page.url == link
        assert context.cookies() == []
        page.screenshot(path=tmp_path / "done.png", full_page=True)
    finally:
        context.close()
    assert complaints == []
    assert _suppressed(served)[email] == ("unsubscribed", "unsubscribe page", "2026-01")


def _suppressed(served: Endpoint) -> dict[str, tuple[str, str, str]]:
    """`newsletter suppress list` in the served project, by address."""
    done = run("suppress", "list", "--csv", cwd=served.folder, env=serve_env())
    assert done.returncode == 0, done.stderr
    return {
        row["email"]: (row["reason"], row["source"], row["issue"])
        for row in csv.DictReader(io.StringIO(done.stdout))
    }


def test_a_link_scanner_that_opens_every_link_unsubscribes_nobody(
    browser: Browser, sent: Sent, served: Endpoint
) -> None:
    """A scanner opens each link (and runs what the page holds) but presses nothing."""
    context = browser.new_context()
    page = context.new_page()
    try:
        for email in ("lid160@example.org", "lid161@example.org", "lid162@example.org"):
            page.goto(f"{served.base}/uitschrijven?token={sent.tokens[email]}")
            expect(page.get_by_role("button")).to_have_count(1)
    finally:
        context.close()
    assert not {"lid160@example.org", "lid161@example.org", "lid162@example.org"} & set(_suppressed(served))
