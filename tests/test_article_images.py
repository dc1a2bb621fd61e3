"""An article's image beside its text (`image.align`) and its caption, in both layouts; the strings and
the sample reader that follow the issue's language or read the same in any.

Beside means its own MJML column: 40% for the image, 60% for the text on a desktop (MJML's media
query for screens of 480 px and wider), each 100% wide and stacked on a phone.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Comment, Tag
from conftest import ROOT
from issue_files import render, write_issue

from newsletter.errors import IssueError
from newsletter.model import SAMPLE_RECIPIENT, Issue, Rendered
from newsletter.model.merge import escape_html, resolve
from newsletter.reading import issues, layouts

LAYOUTS = ("default", "pom-limburg")

ISSUE = """\
subject: Images beside the text
preheader: Left, right and on top
language: LANGUAGE
layout: LAYOUT
sections:
  - type: article
    title: Image on the left
    body: Text beside the left image.
    image:
      src: images/dot.png
      alt: A dot on the left
      align: left
      caption: The *left* caption
    link:
      url: https://example.org/left
  - type: article
    title: Image on the right
    body: Text beside the right image.
    image:
      src: images/dot.png
      alt: A dot on the right
      align: right
      caption: The right caption
      href: https://example.org/dot
  - type: article
    title: Image on top
    body: Text under the image.
    image:
      src: images/dot.png
      alt: A dot on top
      width: 120
      caption: The top caption
  - type: article
    title: Image beside with a width
    body: A small image keeps its width on a phone.
    image:
      src: images/dot.png
      alt: A small dot
      width: 80
      align: left
"""


def values(rendered: Rendered) -> tuple[str, ...]:
    data = {**SAMPLE_RECIPIENT.merge_data(), "unsubscribe_url": "https://example.org/unsubscribe?t=x"}
    return resolve(rendered.fields, data)


@pytest.fixture(scope="module", params=LAYOUTS)
def beside(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The issue above in English, rendered in one layout: its HTML parsed, and its text."""
    layout = str(request.param)
    text = ISSUE.replace("LANGUAGE", "en")
    path = write_issue(tmp_path_factory.mktemp(layout), layout, text, name="beside")
    _, rendered = render(path)
    html = rendered.html.fill(values(rendered), escape_html)
    return {"soup": BeautifulSoup(html, "lxml"), "text": rendered.text.fill(values(rendered))}


def section_of(soup: BeautifulSoup, title: str) -> Tag:
    """The outermost table of the MJML section that holds the heading `title`."""
    heading = soup.find("h2", string=title)
    assert isinstance(heading, Tag), f"no <h2>{title}</h2>"
    column = heading.find_parent("div", class_=re.compile("^mj-column-per-"))
    assert isinstance(column, Tag)
    section = column.find_parent("table")
    assert isinstance(section, Tag)
    return section


def columns(section: Tag) -> list[tuple[str, Tag]]:
    """The section's columns in document order: (their mj-column-per-N class, the column)."""
    found = []
    for div in section.find_all("div", class_=re.compile("mj-column-per-")):
        width = next(c for c in div["class"] if c.startswith("mj-column-per-"))
        found.append((width, div))
    return found


def is_comment(text: object) -> bool:
    return isinstance(text, Comment)


def kind(column: Tag) -> str:
    has_image, has_heading = column.find("img") is not None, column.find("h2") is not None
    return {(True, False): "image", (False, True): "text"}.get((has_image, has_heading), "both")


def test_left_image_column_comes_before_the_text_column(beside: dict) -> None:
    found = columns(section_of(beside["soup"], "Image on the left"))
    assert [(width, kind(c)) for width, c in found] == [
        ("mj-column-per-40", "image"),
        ("mj-column-per-60", "text"),
    ]


def test_right_image_column_comes_after_the_text_column(beside: dict) -> None:
    found = columns(section_of(beside["soup"], "Image on the right"))
    assert [(width, kind(c)) for width, c in found] == [
        ("mj-column-per-60", "text"),
        ("mj-column-per-40", "image"),
    ]
    image = found[1][1].find("img", alt="A dot on the right")
    assert isinstance(image, Tag)
    assert image.find_parent("a", href="https://example.org/dot") is not None


def test_image_without_align_spans_the_article_above_its_title(beside: dict) -> None:
    found = columns(section_of(beside["soup"], "Image on top"))
    assert [(width, kind(c)) for width, c in found] == [("mj-column-per-100", "both")]
    html = str(found[0][1])
    assert html.index('alt="A dot on top"') < html.index("The top caption") < html.index("Image on top")


def test_side_by_side_columns_stack_on_a_phone(beside: dict) -> None:
    soup = beside["soup"]
    for _, column in columns(section_of(soup, "Image on the left")):
        # Without the desktop media query every column is the full width: one under the other.
        assert "width:100%" in str(column["style"]).replace(" ", "")
    desktop = [
        "".join(s.get_text().split())
        for s in soup.find_all("style")
        if "min-width:480px" in "".join(s.get_text().split())
    ]
    assert desktop, "no media query for desktop widths"
    assert any(".mj-column-per-40{width:40%!important" in s for s in desktop)
    assert any(".mj-column-per-60{width:60%!important" in s for s in desktop)
    # Outlook for Windows ignores media queries: its own cells, in conditional comments, hold the
    # desktop widths of the 600 px page.
    outlook = " ".join(str(c) for c in section_of(soup, "Image on the left").find_all(string=is_comment))
    assert outlook.index("width:240px") < outlook.index("width:360px")


def test_side_image_fills_a_phone_unless_it_has_a_width(beside: dict) -> None:
    soup = beside["soup"]

    def fluid(alt: str) -> bool:
        image = soup.find("img", alt=alt)
        assert isinstance(image, Tag)
        table = image.find_parent("table")
        assert isinstance(table, Tag)
        return "mj-full-width-mobile" in table.get("class", [])

    assert fluid("A dot on the left")
    assert not fluid("A small dot")
    assert soup.find("img", alt="A small dot")["width"] == "80"


def test_caption_stands_under_its_image_in_the_same_column(beside: dict) -> None:
    for title, alt, caption in (
        ("Image on the left", "A dot on the left", "The left caption"),
        ("Image on the right", "A dot on the right", "The right caption"),
    ):
        image_column = next(c for _, c in columns(section_of(beside["soup"], title)) if kind(c) == "image")
        text = " ".join(image_column.get_text(" ").split())
        assert text == caption
        html = str(image_column)
        assert html.index(f'alt="{alt}"') < html.index(caption.split()[-1])
    emphasis = beside["soup"].find("em", string="left")
    assert isinstance(emphasis, Tag), "a caption is Markdown"


def test_caption_is_in_the_plain_text_after_the_article_body(beside: dict) -> None:
    text = beside["text"]
    assert (
        "Text beside the left image.\n\n[Image: The left caption]\n\n"
        "Read more: Image on the left https://example.org/left" in text
    )
    assert "[Image: The right caption] (https://example.org/dot)" in text
    assert "[Image: The top caption]" in text
    assert "A small dot" not in text, "an image without caption or link stays out of the text"


def test_caption_word_follows_the_issue_language(tmp_path: Path) -> None:
    path = write_issue(tmp_path, "pom-limburg", ISSUE.replace("LANGUAGE", "de"), name="bild")
    _, rendered = render(path)
    assert "[Bild: The left caption]" in rendered.text.fill(values(rendered))


def test_layout_without_the_image_string_still_loads(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "layouts" / "default", tmp_path / "old")
    config = tmp_path / "old" / "layout.yaml"
    config.write_text(
        re.sub(r"(?m)^    image: .*\n", "", config.read_text(encoding="utf-8")), encoding="utf-8"
    )
    loaded = layouts.load(tmp_path, "old")
    assert "image" not in loaded.config.strings["nl"]
    assert loaded.config.strings_for("nl")["image"] == "Afbeelding"
    assert loaded.config.strings_for("en")["image"] == "Image"


def test_align_is_left_or_right_and_only_on_an_article_image() -> None:
    base = ISSUE.replace("LANGUAGE", "en").replace("LAYOUT", "default")
    with pytest.raises(IssueError) as caught:
        issues.parse(base.replace("align: right", "align: center"))
    problem = caught.value.problems[0]
    assert problem.field == "sections[1].image.align"
    assert "'left' or 'right'" in problem.message
    column = """\
  - type: columns
    columns:
      - {title: A, body: a, image: {src: images/dot.png, alt: a, align: left}}
      - {title: B, body: b}
"""
    with pytest.raises(IssueError) as caught:
        issues.parse(base + column)
    assert caught.value.problems[0].field == "sections[4].columns[0].image.align"


def test_schema_documents_align_and_caption_in_english() -> None:
    schema = json.loads((ROOT / "issue.schema.json").read_text(encoding="utf-8"))
    image = schema["$defs"]["ArticleImage"]["properties"]
    assert image["align"]["anyOf"][0]["enum"] == ["left", "right"]
    assert "beside the text" in image["align"]["description"]
    assert "under the image" in image["caption"]["description"]
    descriptions = re.findall(r'"description": "([^"]*)"', json.dumps(Issue.model_json_schema()))
    dutch = re.compile(r"\b(Lees|meer|lezer|Beste|nieuwsbrief|Afbeelding)\b", re.IGNORECASE)
    assert [d for d in descriptions if dutch.search(d)] == []


def test_sample_reader_reads_the_same_in_every_language() -> None:
    assert (SAMPLE_RECIPIENT.first_name, SAMPLE_RECIPIENT.name) == ("Sam", "Sam")
    assert SAMPLE_RECIPIENT.email == "reader@example.org"
