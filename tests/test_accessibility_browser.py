"""The rendered email as a screen reader gets it: headless Chromium's accessibility tree.

The heading list must be the issue's outline, and each "Lees meer" link's accessible name must hold
its article's title, also where a mail client drops the aria-label (Gmail, Outlook.com) and only the
text for screen readers is left.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from accessible import MANY, MANY_ARTICLES, html_of, issue_text, render_text
from conftest import FIRST_TITLE, needs_chromium
from playwright.sync_api import Browser, Page
from test_accessibility import SAMPLE_OUTLINE

from newsletter.model import Rendered

pytestmark = needs_chromium

_HEADING = re.compile(r'^\s*- heading "(.*)" \[level=(\d)\]', re.MULTILINE)


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    yield page
    page.screenshot(path=tmp_path / "email.png", full_page=True)
    context.close()


def heading_list(page: Page) -> list[tuple[int, str]]:
    """The headings in the accessibility tree, in order, with the level Chromium gives each."""
    tree = page.locator("body").aria_snapshot()
    return [(int(level), name) for name, level in _HEADING.findall(tree)]


def test_the_samples_heading_list_is_its_outline(page: Page, rendered: Rendered) -> None:
    page.set_content(html_of(rendered))
    assert heading_list(page) == SAMPLE_OUTLINE
    assert page.get_by_role("heading", level=1).count() == 1


def test_the_dutch_buttons_are_named_after_their_articles(page: Page, rendered: Rendered) -> None:
    page.set_content(html_of(rendered))
    link = page.get_by_role("link", name=f"Lees meer: {FIRST_TITLE}", exact=True)
    assert link.count() == 1
    assert link.inner_text().startswith("Lees meer")
    hidden = link.locator(".screen-reader")
    box = hidden.bounding_box()
    assert box is not None
    assert box["width"] <= 1
    assert box["height"] <= 1, "the title is for screen readers, not seen"


def test_the_english_buttons_are_named_after_their_articles(page: Page, tmp_path: Path) -> None:
    page.set_content(html_of(render_text(tmp_path, issue_text(MANY_ARTICLES, language="en"))))
    for n in (1, MANY // 2, MANY):
        assert page.get_by_role("link", name=f"Read more: Article number {n}", exact=True).count() == 1
    assert page.get_by_role("link", name="Read more", exact=True).count() == 0
    assert len(heading_list(page)) == MANY + 1


def test_without_the_aria_label_the_hidden_text_still_names_the_button(
    page: Page, rendered: Rendered
) -> None:
    # What Gmail and Outlook.com leave: they drop aria-* attributes from a message.
    html = re.sub(r' aria-label="[^"]*"', "", html_of(rendered))
    assert "aria-label" not in html
    page.set_content(html)
    link = page.get_by_role("link", name=re.compile(r"^Lees meer\W+Health Campus Limburg"))
    assert link.count() == 1
    assert page.get_by_role("link", name="Lees meer", exact=True).count() == 0
