"""Accessibility of the rendered email: the heading outline, the writing direction, text for screen
readers only, and the finishing of the HTML (link names, layout tables, images' alt).

A screen reader lists an email's headings, links and tables; this module makes those lists say what
the issue says. One h1 (the issue's title, or the name in the header), each section's title an h2,
every "Lees meer" link named after its article, and no layout table read out as a table of data.
"""

from __future__ import annotations

import html
import re
from typing import Any

from markupsafe import Markup, escape

from newsletter.model import Article, Callout, Columns, Events, Intro, Issue, Language
from newsletter.reading.layouts import Layout

DIRECTION: dict[Language, str] = {"nl": "ltr", "en": "ltr", "fr": "ltr", "de": "ltr"}

# Text that sighted readers do not see and screen readers do read, in every mail client we know of:
# display:none or visibility:hidden would hide it from screen readers too, and position/clip (the
# web's usual way) is dropped by Gmail, which would then show the text. So it is shrunk to nothing:
# font-size, line-height and a zero box with overflow hidden hide it wherever CSS is kept, and
# mso-hide hides it in Outlook for Windows, which keeps no zero font size.
SCREEN_READER_CLASS = "screen-reader"
_SCREEN_READER_STYLE = (
    "display:inline-block;font-size:0;line-height:0;max-height:0;max-width:0;"
    "opacity:0;overflow:hidden;white-space:nowrap;mso-hide:all;"
)


def screen_reader(text: str) -> Markup:
    """`text` for screen readers only, e.g. the article's title inside its "Lees meer" button."""
    return Markup(  # noqa: S704 - the text is escaped here
        f'<span class="{SCREEN_READER_CLASS}" style="{_SCREEN_READER_STYLE}">{escape(text)}</span>'
    )


_HEADED = (Intro, Article, Callout, Columns, Events)


def title_section(issue: Issue, main_heading: str) -> Intro | None:
    """The section whose title is the email's h1: the intro that opens the issue's outline, if the
    layout puts the h1 there; None when the h1 is the header's name.

    An intro counts only if no other heading comes before it, so that the h1 is the first heading.
    """
    if main_heading != "title":
        return None
    for section in issue.sections:
        if isinstance(section, Intro) and section.title:
            return section
        if isinstance(section, _HEADED) and not isinstance(section, Intro):
            return None
    return None


def context(issue: Issue, layout: Layout) -> dict[str, Any]:
    """What the templates need for the outline and for screen readers (see email.mjml.j2)."""
    return {
        "dir": DIRECTION[issue.language],
        "h1_section": title_section(issue, layout.config.main_heading),
        "screen_reader": screen_reader,
    }


_LINK = re.compile(r"<a\b([^>]*)>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_HIDDEN_SPAN = re.compile(r'<span\b[^>]*aria-hidden="true"[^>]*>.*?</span\s*>', re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _named_links(page: str) -> str:
    """An aria-label on each link that holds text for screen readers: the link's whole text.

    Both, because mail clients differ: Gmail and Outlook.com drop aria attributes from a message
    but keep the hidden text, which then names the link; Apple Mail keeps the aria-label, which
    WebKit's screen reader reads even where it skips text of no size. The label is the visible
    words first ("Lees meer: <title>"), so that a voice command saying what is seen still works.
    """

    def name(m: re.Match[str]) -> str:
        attributes, inner = m[1], m[2]
        if SCREEN_READER_CLASS not in inner or "aria-label=" in attributes:
            return m[0]
        words = " ".join(html.unescape(_TAG.sub("", _HIDDEN_SPAN.sub("", inner))).split())
        label = html.escape(words, quote=True)
        return f'<a{attributes} aria-label="{label}">{inner}</a>'

    return _LINK.sub(name, page)


_TABLE_PARTS = re.compile(r"<table\b[^>]*>|</table\s*>|<(?:th|caption)\b", re.IGNORECASE)


def _presentation_tables(page: str) -> str:
    """role="presentation" on every table without a role, except a table of data (one with a <th>
    or a <caption> of its own), so that a screen reader reads the email as text, not as cells.

    MRML gives its own tables the role; this covers the tables a layout writes itself.
    """
    open_tables: list[list[Any]] = []  # [end of the opening tag's name, has a role, is data]
    plain: list[int] = []
    for m in _TABLE_PARTS.finditer(page):
        part = m[0].lower()
        if part.startswith("<table"):
            open_tables.append([m.start() + len("<table"), "role=" in part, False])
        elif part.startswith("</table"):
            if open_tables:
                where, has_role, is_data = open_tables.pop()
                if not has_role and not is_data:
                    plain.append(where)
        elif open_tables:
            open_tables[-1][2] = True
    plain.extend(where for where, has_role, is_data in open_tables if not has_role and not is_data)
    for where in sorted(plain, reverse=True):
        page = f'{page[:where]} role="presentation"{page[where:]}'
    return page


_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\salt=)", re.IGNORECASE)


def _alt_on_images(page: str) -> str:
    """alt="" on an image without alt text: a layout's decorative image, which a screen reader
    would otherwise announce by its file name. (Every image of an issue has its alt text.)"""
    return _IMG_WITHOUT_ALT.sub('<img alt=""', page)


_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b([^>]*)>", re.IGNORECASE)


def _no_skipped_levels(page: str) -> str:
    """Each heading at most one level below the heading before it.

    The templates give each heading its level, but a heading in an issue's Markdown cannot know
    where it stands: `#` is an h3 under an article's title, and would skip a level after the h1 in
    an intro. Such a heading is raised; its look stays, since its style is inline by now (and its
    old level is kept as a class for the phone styles).
    """
    previous = 0
    level_now = 0
    parts: list[str] = []
    at = 0
    for m in _HEADING_TAG.finditer(page):
        closing, level, rest = m[1], int(m[2]), m[3]
        if closing:
            new = f"</h{level_now or level}>"
        else:
            level_now = min(level, previous + 1) if previous else level
            previous = level_now
            new = m[0]
            if level_now != level:
                shown = rest if "class=" in rest else f' class="h{level}"{rest}'
                new = f"<h{level_now}{shown}>"
        parts += [page[at : m.start()], new]
        at = m.end()
    return "".join([*parts, page[at:]])


def finish(page: str) -> str:
    """The finished HTML with named links, layout tables as presentation, alt on every image and no
    heading level skipped."""
    return _no_skipped_levels(_alt_on_images(_presentation_tables(_named_links(page))))
