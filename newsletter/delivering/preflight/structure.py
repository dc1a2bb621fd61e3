"""Checks of the HTML's build that html-validate would make and Python can: the head (lang, title,
charset), ids, and links that go nowhere, nest or run script.

Each finding points at the line of the HTML part as sent, which `newsletter render` writes to
build/<slug>.html.
"""

from __future__ import annotations

from collections.abc import Iterator

from newsletter.delivering.preflight.findings import Finding
from newsletter.delivering.preflight.page import Page

AREA = "structure"


def findings(page: Page) -> Iterator[Finding]:
    """What is wrong with the page's build; one ok finding when nothing is."""
    found = [*_head(page), *_ids(page), *_anchors(page)]
    yield from found
    if not found:
        yield Finding.ok(AREA, f"lang, title, charset, ids and {len(page.anchors)} links are well formed")


def _head(page: Page) -> Iterator[Finding]:
    if not page.lang:
        yield Finding.warning(
            AREA, "the page has no lang", "<html>", 'say the language (<html lang="nl">) for screen readers'
        )
    if not page.title:
        yield Finding.warning(
            AREA, "the page has no <title>", "<head>", "some webmail and the browser view show the title"
        )
    if not page.charset:
        yield Finding.warning(
            AREA, "the page names no charset", "<head>", 'add <meta charset="utf-8"> so accents survive'
        )


def _ids(page: Page) -> Iterator[Finding]:
    for name, count in page.ids.items():
        if count > 1:
            yield Finding.warning(
                AREA,
                f"the id {name!r} is used {count} times",
                f"HTML line {page.id_lines[name]}",
                "an id must be unique; a layout template that repeats it should make it per section",
            )


def _anchors(page: Page) -> Iterator[Finding]:
    for anchor in page.anchors:
        where = f"HTML line {anchor.line}"
        href = (anchor.href or "").strip()
        if href.lower().startswith("javascript:"):
            yield Finding.error(
                AREA, f"a javascript: link ({anchor.label or 'no text'})", where, "mail clients refuse script"
            )
        elif not href or href == "#":
            yield Finding.warning(
                AREA, f"a link that goes nowhere ({anchor.label or 'no text'})", where, "give it an address"
            )
        if anchor.nested:
            yield Finding.error(
                AREA, f"a link inside another link ({href})", where, "clients break nested links apart"
            )
        if not anchor.label:
            yield Finding.warning(
                AREA,
                f"a link without text ({href})",
                where,
                "screen readers read out the address: give it words, or alt text to its image",
            )
