"""The rendered email for screen readers, read from its HTML: the heading outline, layout tables,
the names of the "Lees meer" links, lang and dir, alt text; and the contrast of a layout's colours.

The same in a real browser's accessibility tree: tests/test_accessibility_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from accessible import (
    ARTICLE_FIRST,
    COLUMNS,
    HEAD,
    INTRO_WITH_TITLE,
    INTRO_WITH_TITLE_OUTLINE,
    MANY,
    MANY_ARTICLES,
    NO_INTRO_TITLE,
    ONLY_EVENTS,
    article,
    assert_sound,
    html_of,
    issue_text,
    outline,
    render_text,
    write_layouts,
)
from bs4 import BeautifulSoup, Tag
from command import output, run
from conftest import FIRST_TITLE, ROOT
from issue_files import render, write_issue

from newsletter.errors import LayoutError
from newsletter.model import SAMPLE_RECIPIENT, Rendered
from newsletter.model.merge import keep, resolve
from newsletter.reading import contrast, layouts
from newsletter.reading.layouts import Brand
from newsletter.rendering import access

SAMPLE_OUTLINE = [
    (1, "POM Limburg"),
    (2, FIRST_TITLE),
    (2, "Spaas Kaarsen halveert zijn CO₂-uitstoot door over te stappen op het spoor"),
    (2, "Limburg zoekt samenwerking met Noord-Limburg en Brainport Eindhoven"),
    (2, "Groeitip voor jouw bedrijf"),
]


def soup_of(rendered: Rendered) -> BeautifulSoup:
    return BeautifulSoup(html_of(rendered), "lxml")


# -- the heading outline ---------------------------------------------------------------------------


def test_the_sample_without_an_intro_title_has_the_header_name_as_its_h1(rendered: Rendered) -> None:
    headings = outline(html_of(rendered))
    assert headings == SAMPLE_OUTLINE
    assert_sound(headings)


def test_an_intro_title_is_the_h1_and_the_header_holds_none(tmp_path: Path) -> None:
    soup = soup_of(render_text(tmp_path, issue_text(INTRO_WITH_TITLE)))
    assert outline(str(soup)) == INTRO_WITH_TITLE_OUTLINE
    assert_sound(outline(str(soup)))
    h1 = soup.find("h1")
    assert isinstance(h1, Tag)
    assert "font-size:26px" in str(h1.get("style")), "the intro's title keeps its size"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (NO_INTRO_TITLE, [(1, "Newsletter"), (2, "Eerste artikel"), (2, "Een tip")]),
        (ONLY_EVENTS, [(1, "Newsletter"), (2, "Agenda")]),
        (ARTICLE_FIRST, [(1, "Newsletter"), (2, "Eerst dit"), (2, "Een late titel")]),
        (COLUMNS, [(1, "Newsletter"), (2, "Links"), (2, "Rechts")]),
    ],
    ids=["no-intro-title", "only-events", "article-before-intro", "columns"],
)
def test_every_shape_of_issue_has_one_h1_and_its_sections_at_h2(
    tmp_path: Path, shape: str, expected: list[tuple[int, str]]
) -> None:
    headings = outline(html_of(render_text(tmp_path, issue_text(shape))))
    assert headings == expected
    assert_sound(headings)


def test_many_articles_are_each_an_h2_under_the_one_h1(tmp_path: Path) -> None:
    headings = outline(html_of(render_text(tmp_path, issue_text(MANY_ARTICLES, language="en"))))
    assert headings == [(1, "Newsletter"), *((2, f"Article number {n}") for n in range(1, MANY + 1))]
    assert_sound(headings)


@pytest.mark.parametrize("layout", ["default", "pom-limburg"])
def test_every_section_type_together_makes_a_sound_outline(tmp_path: Path, layout: str) -> None:
    _, rendered = render(write_issue(tmp_path, layout))
    headings = outline(html_of(rendered))
    assert headings[0] == (1, "Welkom bij de intro")
    assert [text for level, text in headings if level == 2] == [
        "Artikeltitel met CO₂",
        "De callouttitel",
        "Kolom links",
        "Kolom rechts",
        "De agendatitel",
    ]
    assert_sound(headings)


@pytest.mark.parametrize("title", ["    title: Welkom\n", ""], ids=["intro-title", "no-intro-title"])
def test_a_heading_in_the_intros_text_skips_no_level_and_keeps_its_look(tmp_path: Path, title: str) -> None:
    text = (
        issue_text(HEAD) + f"  - type: intro\n{title}    body: |\n      Beste lezer.\n\n      # Een kopje\n"
    )
    soup = soup_of(render_text(tmp_path, text + article("Daarna", "https://example.org/d")))
    headings = outline(str(soup))
    assert headings == [(1, "Welkom" if title else "Newsletter"), (2, "Een kopje"), (2, "Daarna")]
    assert_sound(headings)
    raised = soup.find("h2", string="Een kopje")
    assert isinstance(raised, Tag)
    assert raised["class"] == ["h3"]
    assert "font-size:18px" in str(raised["style"]), "it looks like the h3 it was written as"


def test_finishing_raises_a_heading_that_skips_a_level_and_leaves_the_rest() -> None:
    page = '<h1>A</h1><h3 style="x">B</h3><h3>C</h3><h2>D</h2><h4 class="k">E</h4>'
    assert access.finish(page) == (
        '<h1>A</h1><h2 class="h3" style="x">B</h2><h3>C</h3><h2>D</h2><h3 class="k">E</h3>'
    )


def test_main_heading_header_makes_the_name_the_h1_and_the_intro_title_an_h2(tmp_path: Path) -> None:
    root = write_layouts(tmp_path, **{"wordmark: Newsletter": "wordmark: Newsletter\nmain_heading: header"})
    soup = soup_of(render_text(tmp_path, issue_text(INTRO_WITH_TITLE, "changed"), root))
    assert outline(str(soup)) == [
        (1, "Newsletter"),
        (2, "Het nummer van maart"),
        *INTRO_WITH_TITLE_OUTLINE[1:],
    ]
    intro = soup.find("h2", string="Het nummer van maart")
    assert isinstance(intro, Tag)
    assert intro["class"] == ["h1"]
    assert "font-size:26px" in str(intro["style"]), "it looks as the intro's title always did"


def test_a_logo_in_the_header_is_the_h1_named_by_its_alt_text(tmp_path: Path) -> None:
    logo = '# logo: {src: logo.png, alt: "Our name", width: 180}'
    root = write_layouts(tmp_path, **{logo: 'logo: {src: logo.png, alt: "Het Huis", width: 120}'})
    soup = soup_of(render_text(tmp_path, issue_text(NO_INTRO_TITLE, "changed"), root))
    h1 = soup.find("h1")
    assert isinstance(h1, Tag)
    assert h1.img is not None
    assert h1.img["alt"] == "Het Huis"
    assert h1.img["height"] == "40", "its height from the file, as MJML's image had"
    assert outline(str(soup)) == [(1, "Het Huis"), (2, "Eerste artikel"), (2, "Een tip")]


def test_a_layout_with_an_unknown_main_heading_is_refused(tmp_path: Path) -> None:
    root = write_layouts(tmp_path, **{"wordmark: Newsletter": "wordmark: Newsletter\nmain_heading: logo"})
    with pytest.raises(LayoutError, match=r"layout\.yaml:\d+: main_heading"):
        layouts.load(root, "changed")


# -- tables, lang and dir, images ------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["default", "pom-limburg"])
def test_every_table_is_a_layout_table_for_screen_readers(tmp_path: Path, layout: str) -> None:
    _, rendered = render(write_issue(tmp_path, layout))
    html = html_of(rendered)
    tables = re.findall(r"<table\b[^>]*>", html)  # those in Outlook's conditional comments too
    assert len(tables) > 30
    assert all('role="presentation"' in t for t in tables)


def test_a_layouts_own_table_gets_the_role_and_a_table_of_data_keeps_its_own() -> None:
    page = (
        '<table><tr><td><table role="grid"><tr><td>a</td></tr></table></td></tr></table>'
        "<table><caption>Prices</caption><tr><th>Item</th></tr></table>"
        '<table class="x"><tr><td><img src="a.png"><img alt="B" src="b.png"></td></tr></table>'
    )
    assert access.finish(page) == (
        '<table role="presentation"><tr><td><table role="grid"><tr><td>a</td></tr></table></td></tr></table>'
        "<table><caption>Prices</caption><tr><th>Item</th></tr></table>"
        '<table role="presentation" class="x"><tr><td><img alt="" src="a.png"><img alt="B" src="b.png">'
        "</td></tr></table>"
    )


@pytest.mark.parametrize(
    ("language", "layout"), [("nl", "pom-limburg"), ("en", "default"), ("de", "default")]
)
def test_html_carries_the_issues_language_and_direction(tmp_path: Path, language: str, layout: str) -> None:
    soup = soup_of(render_text(tmp_path, issue_text(NO_INTRO_TITLE, layout, language)))
    assert soup.html is not None
    assert (soup.html["lang"], soup.html["dir"]) == (language, "ltr")


def test_every_image_has_alt_text(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path))
    images = soup_of(rendered).find_all("img")
    assert images
    assert all(isinstance(img.get("alt"), str) for img in images)
    assert {img["alt"] for img in images} == {"Rode stip", "Externe foto", "Stip rechts"}


# -- "Lees meer" -----------------------------------------------------------------------------------


def read_more_links(soup: BeautifulSoup, words: str) -> list[Tag]:
    return [a for a in soup.find_all("a") if a.find(class_="screen-reader") and words in a.get_text()]


def test_each_lees_meer_button_is_named_after_its_article(rendered: Rendered) -> None:
    links = read_more_links(soup_of(rendered), "Lees meer")
    assert [a["aria-label"] for a in links] == [
        f"Lees meer: {FIRST_TITLE}",
        "Lees meer: Spaas Kaarsen halveert zijn CO₂-uitstoot door over te stappen op het spoor",
    ]
    for a in links:
        hidden = a.find(class_="screen-reader")
        assert isinstance(hidden, Tag)
        assert " ".join(a.get_text().split()) == a["aria-label"], "the text names it where aria is dropped"
        style = str(hidden["style"])
        assert "font-size:0" in style
        assert "mso-hide:all" in style
        assert "display:none" not in style, "display:none would hide it from screen readers too"


def test_read_more_in_english_and_in_columns_names_the_article(tmp_path: Path) -> None:
    soup = soup_of(render_text(tmp_path, issue_text(MANY_ARTICLES, language="en")))
    labels = [a["aria-label"] for a in read_more_links(soup, "Read more")]
    assert labels == [f"Read more: Article number {n}" for n in range(1, MANY + 1)]
    soup = soup_of(render_text(tmp_path, issue_text(COLUMNS), name="columns"))
    assert [a["aria-label"] for a in read_more_links(soup, "Lees meer")] == [
        "Lees meer: Links",
        "Lees meer: Rechts",
    ], "the arrow after the words is not read"


def test_a_title_with_a_merge_field_and_quotes_is_named_for_each_reader(tmp_path: Path) -> None:
    title = 'title: "Voor {{ first_name | default(\'jou\') }}: \\"tips\\" & meer"'
    text = issue_text(NO_INTRO_TITLE).replace("title: Eerste artikel", title)
    soup = soup_of(render_text(tmp_path, text))
    (link,) = read_more_links(soup, "Lees meer")
    assert link["aria-label"] == 'Lees meer: Voor Sam: "tips" & meer'


def test_the_plain_text_says_lees_meer_with_the_title_and_the_address(rendered: Rendered) -> None:
    text = rendered.text.fill(resolve(rendered.fields, SAMPLE_RECIPIENT.merge_data()), keep)
    assert f"Lees meer: {FIRST_TITLE} https://example.org/nieuws/health-campus-limburg-san-francisco" in text


# -- contrast --------------------------------------------------------------------------------------


def test_contrast_follows_the_wcag_formula() -> None:
    assert round(contrast.contrast("#777777", "#ffffff"), 2) == 4.48
    assert contrast.contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast.contrast("#ffffff", "#000000") == contrast.contrast("#000000", "#ffffff")
    assert contrast.is_large(24, bold=False)
    assert contrast.is_large(18.66, bold=True)
    assert not contrast.is_large(18, bold=True)


def test_a_low_contrast_pair_is_named_with_its_colours_and_ratio() -> None:
    brand = Brand(primary="#2b3a55", accent="#777777")
    assert contrast.problems(brand, "layouts/x/layout.yaml") == [
        "layouts/x/layout.yaml: link colour #777777 on #ffffff has contrast 4.48:1, below 4.5:1 (WCAG AA); "
        "change brand.accent or brand.surface",
        "layouts/x/layout.yaml: callout text #ffffff on #777777 has contrast 4.48:1, below 4.5:1 (WCAG AA); "
        "change brand.on_primary or brand.accent",
    ]


def test_a_ratio_just_below_the_line_is_not_shown_as_reaching_it() -> None:
    # 4.4966:1 would round to 4.5; it is shown as what it is, below.
    lines = contrast.problems(Brand(primary="#2b3a55", accent="#d04557"), "l.yaml")
    assert lines[0].startswith("l.yaml: link colour #d04557 on #ffffff has contrast 4.49:1, below 4.5:1")


def test_the_shipped_layouts_pass_wcag_aa() -> None:
    for name in layouts.available(ROOT / "layouts"):
        assert contrast.layout_problems(layouts.load(ROOT / "layouts", name)) == [], name


def test_validate_warns_about_the_layouts_hard_to_read_pairs_once(tmp_path: Path) -> None:
    write_layouts(tmp_path, **{'accent: "#b5523b"': 'accent: "#6fa8dc"'})
    for name in ("a", "b"):
        (tmp_path / "issues").mkdir(exist_ok=True)
        (tmp_path / "issues" / f"{name}.yaml").write_text(issue_text(NO_INTRO_TITLE, "changed"), "utf-8")
    result = run("validate", "issues/a.yaml", "issues/b.yaml", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    warnings = [line for line in result.stdout.splitlines() if "contrast" in line]
    assert warnings == [
        "warning: layouts/changed/layout.yaml: link colour #6fa8dc on #ffffff has contrast 2.53:1, "
        "below 4.5:1 (WCAG AA); change brand.accent or brand.surface",
        "warning: layouts/changed/layout.yaml: callout text #ffffff on #6fa8dc has contrast 2.53:1, "
        "below 4.5:1 (WCAG AA); change brand.on_primary or brand.accent",
    ]


def test_validate_of_the_sample_gives_no_contrast_warning(project_dir: Path) -> None:
    result = run("validate", "issues/2026-01.yaml", cwd=project_dir)
    assert result.returncode == 0, output(result)
    assert "warning" not in output(result)
