"""The preview page in a real browser: headless Chromium through Playwright.

Skipped only when Debian's chromium is not installed on a developer's machine; with CI set, a missing
browser fails the run instead. Screenshots of each test go to its tmp_path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import CSV, FIRST_TITLE, ISSUE, SUBJECT, edit, line_of, needs_chromium
from playwright.sync_api import Browser, Frame, Page, expect
from preview_server import Running, serving

from newsletter.model import Recipient
from newsletter.reading.recipients import load as load_recipients

PHONE_WIDTH = 375
CHANGE_MS = 5_000  # how long a saved change may take to show in the page

pytestmark = needs_chromium

COLUMNS = """sections:
  - type: columns
    columns:
      - title: Linkerkolom over Genk
        body: Een korte tekst in de linkerkolom.
      - title: Rechterkolom over Hasselt
        body: Een korte tekst in de rechterkolom.
"""


@pytest.fixture
def open_preview(
    browser: Browser, project_dir: Path, tmp_path: Path
) -> Iterator[Callable[..., tuple[Page, Running]]]:
    """Serve the scratch project's sample issue and open the preview page; a screenshot at the end."""
    pages: list[Page] = []
    with ExitStack() as servers:

        def _open(**kwargs: object) -> tuple[Page, Running]:
            running = servers.enter_context(serving(project_dir, **kwargs))
            page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            pages.append(page)
            page.goto(running.url + "/")
            return page, running

        yield _open
        for i, page in enumerate(pages):
            page.screenshot(path=tmp_path / f"preview-{i}.png", full_page=True)
            page.context.close()


def frame(page: Page, name: str) -> Frame:
    """The document inside the page's #desktop or #phone frame."""
    handle = page.locator(f"#{name}").element_handle()
    assert handle is not None
    found = handle.content_frame()
    assert found is not None
    return found


def test_the_page_loads_and_both_frames_show_the_sample_issue(
    open_preview: Callable[..., tuple[Page, Running]],
) -> None:
    page, running = open_preview()
    expect(page).to_have_title(f"Preview: {running.path}")
    expect(page.locator("#subject")).to_have_text(SUBJECT)
    expect(page.locator("#from")).to_contain_text("nieuwsbrief@example.org")
    expect(page.locator("#size")).to_contain_text("of 102 KB")
    expect(page.locator("#errors")).to_be_hidden()
    for name in ("desktop", "phone"):
        email = page.frame_locator(f"#{name}")
        expect(email.get_by_role("heading", name=FIRST_TITLE)).to_be_visible()
        expect(email.get_by_text("Beste Sam,")).to_be_visible()


def test_in_the_phone_frame_the_email_is_no_wider_than_the_phone(
    open_preview: Callable[..., tuple[Page, Running]],
) -> None:
    page, _ = open_preview()
    expect(page.frame_locator("#phone").get_by_role("heading", name=FIRST_TITLE)).to_be_visible()
    phone = frame(page, "phone")
    assert phone.evaluate("document.documentElement.clientWidth") == PHONE_WIDTH
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    # The frame is sized to the email's height: no scrolling inside it.
    height = phone.evaluate("document.documentElement.scrollHeight")
    box = page.locator("#phone").bounding_box()
    assert box is not None
    assert abs(box["height"] - height) <= 2


def test_two_columns_stack_on_a_phone_and_sit_side_by_side_on_a_desktop(
    open_preview: Callable[..., tuple[Page, Running]], project_dir: Path
) -> None:
    edit(project_dir / ISSUE, "sections:\n", COLUMNS)
    page, _ = open_preview()
    boxes = {}
    for name in ("desktop", "phone"):
        expect(
            page.frame_locator(f"#{name}").get_by_role("heading", name="Rechterkolom over Hasselt")
        ).to_be_visible()
        # Each column's box: the MJML column around the column's heading.
        boxes[name] = frame(page, name).evaluate(
            """() => ["Linkerkolom over Genk", "Rechterkolom over Hasselt"].map((title) => {
                 const heading = [...document.querySelectorAll("h2")].find((h) => h.textContent === title);
                 const r = heading.closest('[class*="mj-column"]').getBoundingClientRect();
                 return {top: r.top, bottom: r.bottom, left: r.left, width: r.width};
               })"""
        )
    left, right = boxes["phone"]
    assert right["top"] >= left["bottom"] - 1, "on a phone the second column comes below the first"
    assert left["width"] >= 0.95 * PHONE_WIDTH
    assert right["width"] >= 0.95 * PHONE_WIDTH
    assert left["left"] == right["left"]
    assert frame(page, "phone").evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH

    left, right = boxes["desktop"]
    assert left["top"] == right["top"], "on a desktop the columns sit side by side"
    assert right["left"] >= left["left"] + left["width"] - 1
    assert 250 <= left["width"] <= 340
    assert 250 <= right["width"] <= 340


def test_editing_the_issue_updates_the_phone_frame_without_reloading_the_page(
    open_preview: Callable[..., tuple[Page, Running]],
) -> None:
    page, running = open_preview()
    phone = page.frame_locator("#phone")
    expect(phone.get_by_role("heading", name=FIRST_TITLE)).to_be_visible()
    version = page.evaluate("document.body.dataset.version")
    page.evaluate("window.sameDocument = true")

    edit(running.path, f"title: {FIRST_TITLE}", "title: Health Campus Limburg opnieuw in San Francisco")

    expect(phone.get_by_role("heading", name="Health Campus Limburg opnieuw in San Francisco")).to_be_visible(
        timeout=CHANGE_MS
    )
    expect(phone.get_by_role("heading", name=FIRST_TITLE)).to_have_count(0)
    expect(
        page.frame_locator("#desktop").get_by_role(
            "heading", name="Health Campus Limburg opnieuw in San Francisco"
        )
    ).to_be_visible()
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    assert int(page.evaluate("document.body.dataset.version")) > int(version)


def test_a_mistake_shows_its_file_and_line_in_the_errors_panel_until_fixed(
    open_preview: Callable[..., tuple[Page, Running]], tmp_path: Path
) -> None:
    page, running = open_preview()
    errors = page.locator("#errors")
    expect(page.frame_locator("#phone").get_by_role("heading", name=FIRST_TITLE)).to_be_visible()
    expect(errors).to_be_hidden()
    good = running.path.read_text(encoding="utf-8")

    edit(running.path, "    kicker: Waar onderzoek", "    kickr: Waar onderzoek")
    line = line_of(running.path, "kickr:")
    expect(errors).to_be_visible(timeout=CHANGE_MS)
    expect(errors).to_contain_text(f"{running.path}:{line}: sections[1].kickr: unknown key 'kickr'")
    expect(errors).to_contain_text("did you mean 'kicker'?")
    # The last good email stays in view under the panel.
    expect(page.frame_locator("#phone").get_by_role("heading", name=FIRST_TITLE)).to_be_visible()
    page.screenshot(path=tmp_path / "errors-panel.png", full_page=True)

    running.path.write_text(good, encoding="utf-8")
    expect(errors).to_be_hidden(timeout=CHANGE_MS)
    expect(errors).to_have_text("")


def test_the_plain_text_tab_shows_the_text(open_preview: Callable[..., tuple[Page, Running]]) -> None:
    page, _ = open_preview()
    text = page.locator("#text")
    expect(text).to_be_hidden()
    page.get_by_role("button", name="Plain text").click()
    expect(text).to_be_visible()
    expect(text).to_contain_text("Beste Sam,")
    expect(text).to_contain_text(FIRST_TITLE)
    expect(text).to_contain_text("https://example.org/nieuws/health-campus-limburg-san-francisco")
    expect(page.locator("#phone")).to_be_hidden()
    expect(page.locator("#desktop")).to_be_hidden()

    page.get_by_role("button", name="Email").click()
    expect(text).to_be_hidden()
    expect(page.locator("#phone")).to_be_visible()


def test_the_recipient_chooser_switches_the_greeting(
    open_preview: Callable[..., tuple[Page, Running]],
) -> None:
    page, _ = open_preview(recipients=load_recipients(CSV).recipients)
    chooser = page.locator("#recipient")
    phone = page.frame_locator("#phone")
    desktop = page.frame_locator("#desktop")
    expect(chooser.locator("option")).to_have_count(4)
    expect(phone.get_by_text("Beste An,")).to_be_visible()

    chooser.select_option(label="Bert Janssens <bert.janssens@example.org>")
    expect(phone.get_by_text("Beste Bert,")).to_be_visible()
    expect(desktop.get_by_text("Beste Bert,")).to_be_visible()
    expect(page.locator("#text")).to_contain_text("Beste Bert,")

    # A row without a first name gets the issue's default greeting.
    chooser.select_option("3")
    expect(phone.get_by_text("Beste lezer,")).to_be_visible()
    expect(phone.get_by_text("Beste Bert,")).to_have_count(0)


# Markup that would run, quotes and template braces, where the issue and the audience put text (the
# subject as YAML writes it, then as a reader without a first name sees it).
HOSTILE_SUBJECT = (
    """'<img src=x onerror="window.pwned = 1"> & ''q'' {{ first_name | default("{{ 7*7 }}") }}'"""
)
SHOWN_SUBJECT = """<img src=x onerror="window.pwned = 1"> & 'q' {{ 7*7 }}"""
HOSTILE_NAME = """<img src=x onerror="window.pwned = 'name'"> & 'Co'"""
HOSTILE_LAYOUT = """layout: '<img src=x onerror="window.pwned = 2">'"""
KICKER = "    kicker: Waar onderzoek, ondernemen en investeren samenkomen"


def test_markup_in_the_subject_a_name_or_a_mistake_shows_as_text_and_runs_nothing(
    open_preview: Callable[..., tuple[Page, Running]], project_dir: Path
) -> None:
    issue = project_dir / ISSUE
    text = issue.read_text(encoding="utf-8")
    issue.write_text(re.sub(r"(?m)^subject: .*$", lambda _: f"subject: {HOSTILE_SUBJECT}", text), "utf-8")
    page, running = open_preview(recipients=[Recipient(email="lezer@example.org", name=HOSTILE_NAME)])
    expect(page.locator("#subject")).to_have_text(SHOWN_SUBJECT)
    expect(page.locator("#recipient option")).to_have_text([f"{HOSTILE_NAME} <lezer@example.org>"])
    expect(page.frame_locator("#phone").get_by_role("heading", name=FIRST_TITLE)).to_be_visible()

    edit(running.path, "layout: pom-limburg", HOSTILE_LAYOUT)
    edit(running.path, KICKER, "    kicker: '{{ 7*7 }} " + KICKER.removeprefix("    kicker: ") + "'")
    errors = page.locator("#errors")
    expect(errors).to_be_visible(timeout=CHANGE_MS)
    expect(errors).to_contain_text("""unknown layout '<img src=x onerror="window.pwned = 2">'""")
    expect(errors).to_contain_text("cannot understand merge field '{{ 7*7 }}'")

    # Nothing of it became an element, and nothing of it ran.
    expect(page.locator("header img, nav img, #errors img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
