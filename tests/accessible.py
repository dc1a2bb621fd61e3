"""Issues of several shapes for the accessibility tests, and what their outline must be.

Each shape is an issue file's text (`issue_files.write_issue` writes it) and the outline a screen
reader's heading list must show: (level, text) in order.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from bs4 import BeautifulSoup
from conftest import ROOT, png

from newsletter.model import SAMPLE_RECIPIENT, Rendered
from newsletter.rendering.project import Project

Outline = list[tuple[int, str]]

HEAD = """\
subject: Een nummer
preheader: Wat erin staat
language: LANGUAGE
layout: LAYOUT
sections:
"""


def article(title: str, link: str | None = None, body: str = "Een tekst.") -> str:
    text = f"  - type: article\n    title: {title}\n    body: |\n      {body}\n"
    if link:
        text += f"    link:\n      url: {link}\n"
    return text


INTRO_WITH_TITLE = (
    HEAD
    + "  - type: intro\n    title: Het nummer van maart\n    body: Beste lezer.\n"
    + article("Eerste artikel", "https://example.org/een")
    + article(
        "Tweede artikel", "https://example.org/twee", body="Een tekst.\n\n      # Een kopje\n\n      Meer."
    )
)
INTRO_WITH_TITLE_OUTLINE: Outline = [
    (1, "Het nummer van maart"),
    (2, "Eerste artikel"),
    (2, "Tweede artikel"),
    (3, "Een kopje"),
]

NO_INTRO_TITLE = (
    HEAD
    + "  - type: intro\n    body: Beste lezer.\n"
    + article("Eerste artikel", "https://example.org/een")
    + "  - type: callout\n    title: Een tip\n    body: Doe het.\n"
)

ONLY_EVENTS = (
    HEAD
    + "  - type: events\n    events:\n      - date: 2026-03-01\n        title: Een dag\n"
    + "        link:\n          url: https://example.org/dag\n"
)

# An article before the intro: the intro's title would be an h1 after an h2, so the header holds it.
ARTICLE_FIRST = (
    HEAD
    + article("Eerst dit", "https://example.org/dit")
    + "  - type: intro\n    title: Een late titel\n    body: Beste lezer.\n"
)

COLUMNS = (
    HEAD
    + "  - type: columns\n    columns:\n"
    + "      - title: Links\n        body: Tekst.\n        link:\n          url: https://example.org/l\n"
    + "      - title: Rechts\n        body: Tekst.\n        link:\n          url: https://example.org/r\n"
)

MANY = 40
MANY_ARTICLES = HEAD + "".join(
    article(f"Article number {n}", f"https://example.org/a/{n}") for n in range(1, MANY + 1)
)


def issue_text(shape: str, layout: str = "default", language: str = "nl") -> str:
    return shape.replace("LAYOUT", layout).replace("LANGUAGE", language)


def write_layouts(folder: Path, **changes: str) -> Path:
    """The shipped layouts copied to folder/layouts, with a layout `changed` made from `default` by
    putting `changes` (a line of layout.yaml each: key → new line) in its layout.yaml."""
    root = folder / "layouts"
    shutil.copytree(ROOT / "layouts", root)
    changed = root / "changed"
    shutil.copytree(root / "default", changed)
    config = changed / "layout.yaml"
    text = config.read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    (changed / "logo.png").write_bytes(png(120, 40))
    return root


def render_text(folder: Path, text: str, layouts: Path | None = None, name: str = "shape") -> Rendered:
    issues = folder / "issues"
    issues.mkdir(parents=True, exist_ok=True)
    path = issues / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return Project(issues, layouts or ROOT / "layouts").render(path)[1]


def html_of(rendered: Rendered) -> str:
    return rendered.sample_html(SAMPLE_RECIPIENT.merge_data())


def outline(html: str) -> Outline:
    """The headings of the HTML in document order, as a screen reader lists them."""
    soup = BeautifulSoup(html, "lxml")
    return [
        (int(h.name[1]), " ".join(h.get_text(" ").split()) or str(h.img.get("alt") if h.img else ""))
        for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])
    ]


def assert_sound(headings: Outline) -> None:
    """One h1, first; every other heading at most one level below the one before it."""
    levels = [level for level, _ in headings]
    assert levels.count(1) == 1, headings
    assert levels[0] == 1, headings
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, f"a heading skips from h{before} to h{after}: {headings}"
