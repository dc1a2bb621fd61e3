"""Rendering: every section type in both layouts, the structure of the HTML, the plain text part,
images inline or on an asset host, and Markdown.

The issue in issue_files.ALL_SECTIONS uses every section type once (columns and a local PNG included).
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag
from conftest import ROOT, SAMPLE, png
from issue_files import PNG, render, write_issue

from newsletter.errors import IssueError
from newsletter.model import Rendered
from newsletter.model.merge import escape_html
from newsletter.reading import layouts
from newsletter.rendering import imagesize, markdown
from newsletter.rendering.project import Project
from newsletter.rendering.render import page_title
from newsletter.rendering.size import GMAIL_CLIP_BYTES

LAYOUTS = ("default", "pom-limburg")
RSQUO = "\u2019"  # the typographic apostrophe, as in "regio's"


VALUES = {
    "first_name": "Sam",
    "email": "sam@example.org",
    "unsubscribe_url": "https://example.org/unsubscribe?token=abc",
}


def values_for(rendered: Rendered, values: dict[str, str] = VALUES) -> tuple[str, ...]:
    return tuple(values.get(f.name) or f.default or "" for f in rendered.fields)


def html_of(rendered: Rendered, values: dict[str, str] = VALUES) -> str:
    return rendered.html.fill(values_for(rendered, values), escape_html)


def text_of(rendered: Rendered, values: dict[str, str] = VALUES) -> str:
    return rendered.text.fill(values_for(rendered, values))


def soup_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def squeeze(text: str) -> str:
    return " ".join(text.split())


def style_names(tag: Tag) -> list[str]:
    """The property names of an element's inline style."""
    style = str(tag.get("style", ""))
    return [d.split(":", 1)[0].strip().lower() for d in style.split(";") if ":" in d]


def style_texts(soup: BeautifulSoup) -> list[str]:
    """The text of every <style> element, whitespace removed."""
    return ["".join(s.get_text().split()) for s in soup.find_all("style")]


@pytest.fixture(scope="module", params=LAYOUTS)
def all_sections(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The all-sections issue rendered in one layout: its HTML (parsed too) and text for VALUES."""
    layout = str(request.param)
    path = write_issue(tmp_path_factory.mktemp(layout), layout)
    loaded, rendered = render(path)
    html = html_of(rendered)
    return {
        "layout": layout,
        "path": path,
        "loaded": loaded,
        "rendered": rendered,
        "html": html,
        "soup": soup_of(html),
        "text": text_of(rendered),
    }


@pytest.fixture(scope="module")
def sample() -> dict:
    """The sample issue (layout pom-limburg) for VALUES."""
    loaded, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    html = html_of(rendered)
    return {
        "loaded": loaded,
        "rendered": rendered,
        "html": html,
        "soup": soup_of(html),
        "text": text_of(rendered),
    }


def headings(soup: BeautifulSoup, name: str) -> list[str]:
    return [squeeze(h.get_text()) for h in soup.find_all(name)]


def link(soup: BeautifulSoup, href: str) -> Tag:
    found = soup.find("a", href=href)
    assert isinstance(found, Tag), f"no <a href={href!r}> in the HTML"
    return found


def shown(tag: Tag) -> str:
    """The words of `tag` that a reader sees: without the text for screen readers only."""
    copy = BeautifulSoup(str(tag), "lxml")
    for hidden in copy.select(".screen-reader, [aria-hidden=true]"):
        hidden.decompose()
    return squeeze(copy.get_text())


def image(soup: BeautifulSoup, alt: str) -> Tag:
    found = soup.find("img", alt=alt)
    assert isinstance(found, Tag), f"no <img alt={alt!r}> in the HTML"
    return found


def visible_text(soup: BeautifulSoup) -> str:
    return squeeze(soup.body.get_text(" ") if soup.body else "")


# -- every section type, in both layouts ---------------------------------------------------------


def test_intro_renders_its_title_and_merged_greeting(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    assert headings(soup, "h1") == ["Welkom bij de intro"]
    assert "Beste Sam, dit is de intro." in visible_text(soup)
    assert "Welkom bij de intro\n-------------------" in text
    assert "Beste Sam, dit is de intro." in text


def test_article_renders_title_kicker_body_image_and_link(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    assert "Artikeltitel met CO₂" in headings(soup, "h2")
    assert [squeeze(k.get_text()) for k in soup.select(".kicker")] == ["De kickerregel"]
    assert "Body van het artikel met een link in de tekst en" in visible_text(soup)
    assert link(soup, "https://example.org/in-body").get_text() == "link in de tekst"
    assert [squeeze(li.get_text()) for li in soup.find_all("li")] == ["punt een", "punt twee"]
    assert image(soup, "Rode stip").find_parent("a", href="https://example.org/stip") is not None
    button = link(soup, "https://example.org/p?e=sam@example.org")
    assert shown(button) == "Lees het artikel"
    assert button["aria-label"] == "Lees het artikel: Artikeltitel met CO₂"
    assert "link in de tekst (https://example.org/in-body)" in squeeze(text)
    for line in (
        "Artikeltitel met CO₂\n--------------------",
        "De kickerregel",
        "- punt een\n- punt twee",
        "[Rode stip] (https://example.org/stip)",
        "Lees het artikel: Artikeltitel met CO₂ https://example.org/p?e=sam@example.org",
    ):
        assert line in text


def test_callout_renders_title_body_and_button(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    assert "De callouttitel" in headings(soup, "h2")
    assert f"De callouttekst van de regio{RSQUO}s." in visible_text(soup)
    assert squeeze(link(soup, "https://example.org/callout").get_text()) == "Calloutknop"
    assert "De callouttitel\n***************" in text
    assert f"De callouttekst van de regio{RSQUO}s." in text
    assert "Calloutknop: https://example.org/callout" in text


def test_image_section_renders_linked_image_and_caption(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    photo = image(soup, "Externe foto")
    assert photo["src"] == "https://example.org/foto.jpg"
    assert photo.find_parent("a", href="https://example.org/foto-link") is not None
    assert "Het bijschrift van de foto" in visible_text(soup)
    assert "[Externe foto] (https://example.org/foto-link)" in text
    assert "Het bijschrift van de foto" in text


def test_button_section_renders_a_link_with_its_label(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    assert squeeze(link(soup, "https://example.org/knop").get_text()) == "Losse knop"
    assert "Losse knop: https://example.org/knop" in text


def test_divider_renders_a_rule_between_its_neighbours(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    rules = [p for p in soup.find_all("p") if "border-top" in style_names(p)]
    assert len(rules) == 1
    button = text.index("Losse knop: https://example.org/knop")
    rule = text.index("\n" + "-" * 20 + "\n", button)
    assert button < rule < text.index("Kolom links")


def test_columns_render_side_by_side_halves(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    halves = soup.select("div.mj-column-per-50")
    assert [headings(half, "h2") for half in halves] == [["Kolom links"], ["Kolom rechts"]]
    assert [h["class"] for half in halves for h in half.find_all("h2")] == [["h3"], ["h3"]]
    assert "Tekst van links" in squeeze(halves[0].get_text(" "))
    assert halves[0].find("a", href="https://example.org/links") is not None
    assert halves[1].find("img", alt="Stip rechts") is not None
    assert "Kolom links\n-----------" in text
    assert "Tekst van links, met mail (info@example.org)." in text
    assert "Lees meer: Kolom links https://example.org/links" in text
    assert "Kolom rechts\n------------" in text
    assert "Tekst van rechts" in text


def test_events_render_date_time_title_place_and_link(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    assert "De agendatitel" in headings(soup, "h2")
    page = visible_text(soup)
    assert "3 februari 2026, 14:00 tot 17:00" in page
    assert squeeze(link(soup, "https://example.org/event1").get_text()) == "Evenement een"
    assert "Corda Campus, Hasselt" in page
    assert "10 maart 2026" in page
    assert "Evenement twee" in page
    assert (
        "- 3 februari 2026, 14:00 tot 17:00: Evenement een\n"
        "  Corda Campus, Hasselt\n"
        "  Lees meer: https://example.org/event1"
    ) in text
    assert "- 10 maart 2026: Evenement twee" in text


def test_sections_appear_in_the_order_of_the_issue(all_sections: dict) -> None:
    titles = [
        "Welkom bij de intro",
        "Artikeltitel met CO₂",
        "De callouttitel",
        "Het bijschrift van de foto",
        "Losse knop",
        "Kolom links",
        "Kolom rechts",
        "De agendatitel",
    ]
    page, text = visible_text(all_sections["soup"]), all_sections["text"]
    assert [page.index(t) for t in titles] == sorted(page.index(t) for t in titles)
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)


def test_footer_has_the_organisation_and_the_unsubscribe_link(all_sections: dict) -> None:
    soup, text = all_sections["soup"], all_sections["text"]
    config = layouts.load(ROOT / "layouts", all_sections["layout"]).config
    unsubscribe = link(soup, VALUES["unsubscribe_url"])
    assert squeeze(unsubscribe.get_text()) == config.strings["nl"]["unsubscribe"]
    for line in (config.organisation.name, *config.organisation.address):
        assert line in visible_text(soup)
        assert line in text
    assert text.endswith(f"{config.strings['nl']['unsubscribe']}: {VALUES['unsubscribe_url']}\n")


# -- structure of the HTML -----------------------------------------------------------------------


def test_html_starts_with_the_html5_doctype(sample: dict) -> None:
    assert sample["html"].startswith("<!DOCTYPE html>\n<html")


def test_html_declares_the_issue_language(sample: dict) -> None:
    assert sample["soup"].html["lang"] == "nl"


def test_html_title_is_the_subject_cut_at_a_word_to_70_characters(sample: dict) -> None:
    subject = sample["loaded"].issue.subject
    title = sample["soup"].title.get_text()
    assert len(subject) > 70
    assert title == "Limburg op de internationale kaart: San Francisco, het spoor en\u2026"
    assert sample["rendered"].subject.fill(()) == subject, "the Subject header keeps all of it"


def test_html_title_is_the_whole_subject_when_it_is_short(all_sections: dict) -> None:
    # Merge fields show their fallback: a title holds no reader's value, so its length is known.
    assert all_sections["soup"].title.get_text() == "Alles over CO₂ \u2013 voor lezer"


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("Kort", "Kort"),
        ("x" * 70, "x" * 70),
        ("Een " + "lang " * 14 + "onderwerp", "Een " + "lang " * 12 + "lang\u2026"),
        (
            "Nieuws uit Limburg, Genk en Hasselt, Maasmechelen en Lommel, de maand januari",
            "Nieuws uit Limburg, Genk en Hasselt, Maasmechelen en Lommel, de maand\u2026",
        ),
        (
            "Nieuws uit Limburg, Genk en Hasselt, Maasmechelen en Lommel: ondernemersnieuws",
            "Nieuws uit Limburg, Genk en Hasselt, Maasmechelen en Lommel\u2026",
        ),
        ("{{ first_name }}, dit is voor jou", "dit is voor jou"),
        ("a" * 80, "a" * 69 + "\u2026"),
    ],
)
def test_page_title_cuts_at_a_word_with_an_ellipsis(subject: str, title: str) -> None:
    assert page_title(subject) == title
    assert len(title) <= 70


def test_preheader_is_hidden_without_a_colour_trick(sample: dict) -> None:
    preheader = sample["loaded"].issue.preheader
    divs = sample["soup"].find_all("div")
    hidden = [d for d in divs if d.get_text().startswith(preheader) and "display" in style_names(d)]
    assert len(hidden) == 1
    names = style_names(hidden[0])
    assert "display" in names
    assert "display:none" in str(hidden[0]["style"]).replace(" ", "")
    assert not [n for n in names if "color" in n], "a coloured hidden text is scored as spam"
    # It comes before any section, so inboxes show it after the subject.
    first_title = sample["soup"].find("h2").get_text()
    assert sample["html"].index(preheader) < sample["html"].index(first_title)


def test_every_section_title_is_in_the_html(sample: dict) -> None:
    present = {squeeze(h.get_text()) for h in sample["soup"].find_all(["h1", "h2", "h3"])}
    titles = [getattr(s, "title", None) for s in sample["loaded"].issue.sections]
    assert [t for t in titles if t and t not in present] == []
    assert len([t for t in titles if t]) == 4


def test_heading_styles_are_inlined_with_the_brand_colour_and_font(sample: dict) -> None:
    config = layouts.load(ROOT / "layouts", "pom-limburg").config
    h2 = sample["soup"].find("h2")
    style = str(h2["style"])
    assert f"color:{config.brand.primary}" in style.replace(" ", "")
    assert "Trebuchet MS" in style, "the heading font of the mj-style block must survive inlining"
    assert "font-size:22px" in style.replace(" ", "")


def test_inlined_style_blocks_are_removed_but_media_queries_kept(sample: dict) -> None:
    styles = style_texts(sample["soup"])
    assert not [s for s in styles if s.startswith("h1,h2,h3{")], "the inline mj-style block stays inline"
    media = [s for s in styles if s.startswith("@media")]
    assert any("h2{font-size:20px!important" in s for s in media)
    assert any(".stack-pad{padding-bottom:24px!important" in s for s in media)


def test_column_widths_keep_important_in_a_media_query(all_sections: dict) -> None:
    media = [s for s in style_texts(all_sections["soup"]) if s.startswith("@media")]
    assert any(".mj-column-per-50{width:50%!important" in s for s in media)


def test_outlook_conditional_comments_are_kept(sample: dict) -> None:
    assert "<!--[if mso" in sample["html"]
    assert "<![endif]-->" in sample["html"]


def test_no_external_stylesheet_or_web_font(sample: dict) -> None:
    soup = sample["soup"]
    assert [x for x in soup.find_all("link") if "stylesheet" in (x.get("rel") or [])] == []
    assert "fonts.googleapis" not in sample["html"]
    assert "@import" not in sample["html"]


def test_html_stays_under_gmail_clipping_size(sample: dict) -> None:
    assert GMAIL_CLIP_BYTES == 102 * 1024
    assert len(sample["html"].encode("utf-8")) < GMAIL_CLIP_BYTES


def test_non_ascii_characters_survive_rendering(sample: dict) -> None:
    for characters in ("CO₂", f"regio{RSQUO}s", "technologieën", "patiënt"):
        assert characters in sample["html"]
        assert characters in sample["text"]
    assert "&#8217;" not in sample["html"]
    assert "&rsquo;" not in sample["html"]


def test_script_in_markdown_becomes_text_never_a_tag(all_sections: dict) -> None:
    soup = all_sections["soup"]
    assert soup.find_all("script") == []
    assert "<script>alert(1)</script> als tekst." in visible_text(soup)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in all_sections["html"]


def test_merge_field_in_a_link_url_survives_the_inliner(all_sections: dict) -> None:
    rendered = all_sections["rendered"]
    html = "".join(rendered.html.literals)
    assert "%20" not in html
    assert "{{" not in html
    assert "NLMERGE" not in html
    for email in ("sam@example.org", "jo@example.net"):
        soup = soup_of(html_of(rendered, {**VALUES, "email": email}))
        assert link(soup, f"https://example.org/p?e={email}")


def test_rendering_twice_gives_identical_bytes(tmp_path: Path) -> None:
    path = write_issue(tmp_path)
    _, first = render(path)
    _, second = render(path)
    assert html_of(first).encode() == html_of(second).encode()
    assert text_of(first).encode() == text_of(second).encode()
    assert first.images == second.images
    assert first == second


def test_image_width_attribute_stays_in_pixels_for_outlook(all_sections: dict) -> None:
    assert image(all_sections["soup"], "Rode stip")["width"] == "100"
    assert not [i for i in all_sections["soup"].find_all("img") if str(i.get("width", "")).endswith("%")]


def test_image_width_attribute_fits_inside_the_side_paddings(all_sections: dict) -> None:
    # The body is 600 px wide and images have 24 px padding on either side.
    assert image(all_sections["soup"], "Externe foto")["width"] == str(600 - 2 * 24)
    assert image(all_sections["soup"], "Stip rechts")["width"] == str(600 // 2 - 2 * 24)


def test_local_image_height_keeps_its_proportions_for_outlook(tmp_path: Path) -> None:
    path = write_issue(tmp_path)
    (path.parent / "images" / "dot.png").write_bytes(png(40, 10))
    _, rendered = render(path)
    soup = soup_of(html_of(rendered))
    assert (image(soup, "Rode stip")["width"], image(soup, "Rode stip")["height"]) == ("100", "25")
    assert (image(soup, "Stip rechts")["width"], image(soup, "Stip rechts")["height"]) == ("252", "63")
    assert "height:auto" in str(image(soup, "Rode stip")["style"]).replace(" ", ""), "phones shrink it"


def test_image_of_unknown_size_has_no_height_rather_than_an_invalid_one(all_sections: dict) -> None:
    soup = all_sections["soup"]
    assert "height" not in image(soup, "Externe foto").attrs
    assert [i["height"] for i in soup.find_all("img") if i.get("height") == "auto"] == []


def test_linked_local_image_keeps_its_height(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path), asset_base_url="https://cdn.example.org/nl")
    assert image(soup_of(html_of(rendered)), "Rode stip")["height"] == "100"


def test_image_sizes_are_read_from_png_gif_and_jpeg_headers() -> None:
    gif = b"GIF89a" + struct.pack("<HH", 320, 200) + b"\x00" * 8
    jpeg = b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01") + _segment(0xC0, _frame(640, 480)) + b"\xff\xd9"
    assert imagesize.dimensions(png(30, 12)) == (30, 12)
    assert imagesize.dimensions(gif) == (320, 200)
    assert imagesize.dimensions(jpeg) == (640, 480)
    assert imagesize.dimensions(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert imagesize.dimensions(b"\xff\xd8\xff") is None, "a cut-off file is no size"


def test_jpeg_turned_by_its_exif_orientation_gets_no_height() -> None:
    def exif(orientation: int) -> bytes:
        entry = struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
        return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry

    def photo(orientation: int) -> bytes:
        return b"\xff\xd8" + _segment(0xE1, exif(orientation)) + _segment(0xC2, _frame(640, 480))

    assert imagesize.dimensions(photo(1)) == (640, 480)
    assert imagesize.dimensions(photo(6)) is None


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def _frame(width: int, height: int) -> bytes:
    return b"\x08" + struct.pack(">HH", height, width) + b"\x03" + b"\x00" * 9


def test_phone_number_in_the_footer_cannot_wrap(all_sections: dict) -> None:
    config = layouts.load(ROOT / "layouts", all_sections["layout"]).config
    assert config.organisation.phone
    phone = all_sections["soup"].find("a", href=re.compile("^tel:"))
    assert isinstance(phone, Tag)
    assert phone.get_text() == config.organisation.phone.replace(" ", "\u00a0")
    assert config.organisation.phone in all_sections["text"], "the text part keeps plain spaces"


def test_local_image_is_embedded_once_as_a_cid_part(all_sections: dict) -> None:
    rendered, soup = all_sections["rendered"], all_sections["soup"]
    # Besides the layout's own (pom-limburg's logo and dark logo).
    issue_images = [i for i in rendered.images if i.filename not in ("logo.png", "logo-dark.png")]
    assert len(issue_images) == 1, "the PNG is used twice and sent once"
    embedded = issue_images[0]
    assert embedded.data == PNG
    assert embedded.content_type == "image/png"
    assert embedded.filename == "dot.png"
    assert image(soup, "Rode stip")["src"] == f"cid:{embedded.cid}"
    assert image(soup, "Stip rechts")["src"] == f"cid:{embedded.cid}"


def test_asset_base_url_links_local_images_instead_of_embedding(tmp_path: Path) -> None:
    path = write_issue(tmp_path)
    _, rendered = render(path, asset_base_url="https://cdn.example.org/nl/")
    soup = soup_of(html_of(rendered))
    assert rendered.images == ()
    [linked] = rendered.linked
    assert linked.source == "images/dot.png"
    # Named by its content: an address under the asset host always means the same bytes.
    assert linked.path == f"images/dot-{hashlib.sha256(linked.data).hexdigest()[:8]}.png"
    assert image(soup, "Rode stip")["src"] == f"https://cdn.example.org/nl/{linked.path}"
    assert image(soup, "Externe foto")["src"] == "https://example.org/foto.jpg"
    assert "cid:" not in html_of(rendered)


def test_archive_url_adds_a_view_in_browser_link(tmp_path: Path) -> None:
    path = write_issue(tmp_path)
    _, rendered = render(path, archive_url="https://example.org/archief")
    view = "https://example.org/archief/all.html"
    assert link(soup_of(html_of(rendered)), view)
    assert text_of(rendered).startswith(f"Bekijk deze e-mail in je browser: {view}\n")


def test_unknown_layout_is_refused_before_rendering(tmp_path: Path) -> None:
    path = write_issue(tmp_path, "nope")
    with pytest.raises(IssueError, match="unknown layout 'nope'"):
        render(path)


# -- the plain text part -------------------------------------------------------------------------


def _model_urls(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("url", "href") and isinstance(item, str):
                yield item
            else:
                yield from _model_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _model_urls(item)


def assert_text_has_every_link_of_the_html(issue: dict) -> None:
    text = issue["text"]
    hrefs = [str(a["href"]) for a in issue["soup"].find_all("a", href=True)]
    assert len(hrefs) >= 5
    for href in hrefs:
        if href.startswith("tel:"):
            assert any(line.replace(" ", "") == href[4:] for line in text.splitlines()), href
        elif href.startswith("mailto:"):
            assert href[7:] in text
        else:
            assert href in text


def assert_text_has_every_link_of_the_issue(issue: dict) -> None:
    urls = list(_model_urls(issue["loaded"].issue.model_dump()))
    assert urls
    for url in urls:
        assert url.replace("{{ email }}", VALUES["email"]) in issue["text"]


def test_text_part_carries_every_link_of_the_sample_html(sample: dict) -> None:
    assert_text_has_every_link_of_the_html(sample)


def test_text_part_carries_every_link_of_every_section_type(all_sections: dict) -> None:
    assert_text_has_every_link_of_the_html(all_sections)


def test_text_part_carries_every_link_url_of_the_sample_issue(sample: dict) -> None:
    assert_text_has_every_link_of_the_issue(sample)


def test_text_part_carries_every_link_url_of_every_section_type(all_sections: dict) -> None:
    assert_text_has_every_link_of_the_issue(all_sections)


def test_text_part_has_every_heading_underlined(sample: dict) -> None:
    text = sample["text"]
    assert text.startswith("Nieuwsbrief POM Limburg\n=======================\n")
    for section in sample["loaded"].issue.sections:
        title = getattr(section, "title", None)
        if title:
            underline = "*" if section.type == "callout" else "-"
            assert f"\n{title}\n{underline * min(len(title), 72)}\n" in text


def test_text_part_has_no_html_tags_or_entities(sample: dict) -> None:
    text = sample["text"]
    assert re.search(r"</?[a-zA-Z][^>]*>", text) is None
    assert re.search(r"&(#\d+|[a-z]+);", text) is None


def test_text_part_is_wrapped_for_plain_mail_readers(sample: dict) -> None:
    lines = sample["text"].splitlines()
    long = [line for line in lines if len(line) > 78 and " " in line.strip() and "://" not in line]
    assert long == []


def test_text_part_greets_the_reader_by_name(sample: dict) -> None:
    assert "Beste Sam," in sample["text"]
    assert "Beste lezer," in text_of(sample["rendered"], {**VALUES, "first_name": ""})


# -- Markdown ------------------------------------------------------------------------------------


def test_markdown_raw_html_is_escaped_in_html() -> None:
    assert markdown.to_html("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert "<div>" not in markdown.to_html("<div>\nblok\n</div>")
    assert markdown.to_html("Tekst <b>vet</b> & zo") == "<p>Tekst &lt;b&gt;vet&lt;/b&gt; &amp; zo</p>"


def test_markdown_images_are_not_rendered_as_images() -> None:
    assert "<img" not in markdown.to_html("![foto](https://example.org/x.png)")


def test_markdown_links_get_the_layout_style_and_a_new_tab() -> None:
    html = markdown.to_html("[site](https://example.org/x)", "color:#d1495b;")
    assert html == '<p><a style="color:#d1495b;" target="_blank" href="https://example.org/x">site</a></p>'


def test_markdown_links_are_written_out_in_text() -> None:
    text = markdown.to_text(
        "Zie [de site](https://example.org/x), <https://example.org/y> "
        "en [mail ons](mailto:info@example.org)."
    )
    assert text == (
        "Zie de site (https://example.org/x), https://example.org/y en mail ons\n(info@example.org)."
    )


def test_markdown_lists_become_dashes_and_numbers_in_text() -> None:
    source = "Intro:\n\n1. een\n2. [twee](https://example.org/2)\n   - sub a\n   - sub b\n3. drie\n\n- los"
    assert markdown.to_text(source) == (
        "Intro:\n\n1. een\n2. twee (https://example.org/2)\n  - sub a\n  - sub b\n3. drie\n\n- los"
    )


def test_markdown_emphasis_and_breaks_become_plain_text() -> None:
    assert markdown.to_text("Een **vet** en *schuin* woord,  \nnieuwe regel.") == (
        "Een vet en schuin woord,\nnieuwe regel."
    )


def test_markdown_paragraphs_wrap_at_72_columns_without_breaking_urls() -> None:
    long_url = "https://example.org/" + "x" * 90
    text = markdown.to_text(" ".join(["woord"] * 40) + f" [link]({long_url})")
    lines = text.splitlines()
    assert all(len(line) <= 72 for line in lines if "://" not in line)
    assert f"({long_url})" in text
