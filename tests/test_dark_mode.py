"""Dark mode: what the email declares, the colours it brings (given in layout.yaml's `dark:` or derived
from `brand:`), the dark logo, and how a real browser set to dark shows it and the preview's switch.

Also the header's month label and the sample's photo, which the dark screenshots show.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag
from command import WIDE, environment, run
from conftest import ISSUE, ROOT, SAMPLE, edit, line_of, needs_chromium
from issue_files import copy_sample_images, render, sample_text
from playwright.sync_api import Browser, Frame, Page, expect
from preview_server import serving

from newsletter.model import SAMPLE_RECIPIENT, Rendered
from newsletter.reading import layouts
from newsletter.reading.palette import contrast, dark_palette, lightened, luminance
from newsletter.rendering.dates import format_month, issue_month
from newsletter.rendering.project import Project

POM = ROOT / "layouts" / "pom-limburg" / "layout.yaml"
# The pairs of the palette that stand as text on a background in the base layout.
TEXT_PAIRS = [
    ("text", "background"),
    ("text", "surface"),
    ("muted", "background"),
    ("muted", "surface"),
    ("primary", "surface"),  # headings, the article's outline button
    ("accent", "surface"),  # kickers, links, the callout's button
    ("on_primary", "primary"),  # the header band, buttons
    ("on_primary", "accent"),  # the callout
]
# Brand colours a layout might well have: the shipped two, a pale one, a yellow, a black-and-white.
BRANDS = [
    {"primary": "#0b4f6c", "accent": "#d1495b", "text": "#1d2b36", "muted": "#5b6770",
     "background": "#eef2f4", "surface": "#ffffff", "on_primary": "#ffffff"},
    {"primary": "#2b3a55", "accent": "#b5523b", "text": "#222222", "muted": "#666666",
     "background": "#f2f2f2", "surface": "#ffffff", "on_primary": "#ffffff"},
    {"primary": "#9ecae1", "accent": "#f4d35e", "text": "#333333", "muted": "#777777",
     "background": "#fffdf5", "surface": "#ffffff", "on_primary": "#000000"},
    {"primary": "#000000", "accent": "#000000", "text": "#000000", "muted": "#444444",
     "background": "#ffffff", "surface": "#ffffff", "on_primary": "#ffffff"},
]  # fmt: skip


def html_of(rendered: Rendered) -> str:
    return rendered.sample_html({**SAMPLE_RECIPIENT.merge_data(), "unsubscribe_url": "https://example.org/u"})


def head_styles(html: str) -> str:
    """The text of the <style> blocks in the head, as the mail program gets them."""
    head = BeautifulSoup(html, "lxml").head
    assert head is not None
    return "\n".join(style.get_text() for style in head.find_all("style"))


def dark_rules(styles: str) -> str:
    """The body of the `prefers-color-scheme: dark` media query."""
    found = re.search(r"@media \(prefers-color-scheme: dark\) \{(.*?)\n\}", styles, re.DOTALL)
    assert found is not None, "no dark-mode media query in the head"
    return found[1]


def colour_of(rules: str, selector: str, prop: str = "color") -> str:
    found = re.search(
        rf"(?m)^{re.escape(selector)}[ ,][^{{]*\{{[^}}]*?\b{prop}: (#[0-9a-f]{{6}}) !important", rules
    )
    assert found is not None, f"no {prop} for {selector}"
    return found[1]


@pytest.fixture(scope="module")
def sample() -> tuple[Rendered, str]:
    _, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    return rendered, html_of(rendered)


# -- what the email declares --------------------------------------------------------------------


def test_the_email_declares_both_schemes_in_metas_and_css(sample: tuple[Rendered, str]) -> None:
    html = sample[1]
    head = BeautifulSoup(html, "lxml").head
    assert head is not None
    assert head.find("meta", attrs={"name": "color-scheme", "content": "light dark"}) is not None
    assert head.find("meta", attrs={"name": "supported-color-schemes", "content": "light dark"}) is not None
    # premailer inlines the other styles away; this block must reach the mail program whole.
    assert ":root { color-scheme: light dark;" in head_styles(html)


def test_without_dark_the_media_query_holds_the_colours_derived_from_brand(
    sample: tuple[Rendered, str],
) -> None:
    config = layouts.load(ROOT / "layouts", "pom-limburg").config
    derived = dark_palette(config.brand.model_dump(), {})
    rules = dark_rules(head_styles(sample[1]))
    assert colour_of(rules, "body", "background-color") == derived["background"]
    assert colour_of(rules, ".nl-surface", "background-color") == derived["surface"]
    assert colour_of(rules, ".nl-band", "background-color") == derived["primary"]
    assert colour_of(rules, ".nl-text div") == derived["text"]
    assert colour_of(rules, ".nl-text h1") == derived["primary"]
    assert colour_of(rules, ".nl-text .kicker") == derived["accent"]
    assert colour_of(rules, ".small div") == derived["muted"]
    assert colour_of(rules, ".nl-on-primary div") == derived["on_primary"]
    # Dark backgrounds, light text.
    assert luminance(derived["background"]) < 0.02
    assert luminance(derived["surface"]) < 0.03
    assert luminance(derived["text"]) > 0.7


def test_the_same_rules_stand_for_outlook_under_its_attribute_selectors(sample: tuple[Rendered, str]) -> None:
    styles = head_styles(sample[1])
    outside = styles.split("@media (prefers-color-scheme: dark)")[1].split("\n}\n", 1)[1]
    derived = dark_palette(layouts.load(ROOT / "layouts", "pom-limburg").config.brand.model_dump(), {})
    assert colour_of(outside, "[data-ogsb] .nl-surface", "background-color") == derived["surface"]
    assert colour_of(outside, "[data-ogsc] .nl-text div") == derived["text"]
    assert "[data-ogsc] .nl-logo-light { display: none !important; }" in outside


def test_given_dark_colours_win_and_the_rest_are_derived_around_them(project_dir: Path) -> None:
    layout = project_dir / "layouts" / "pom-limburg" / "layout.yaml"
    edit(layout, "fonts:\n", 'dark:\n  surface: "#202020"\n  accent: "#ffb000"\nfonts:\n')
    _, rendered = Project(project_dir / "issues", project_dir / "layouts").render(project_dir / ISSUE)
    rules = dark_rules(head_styles(html_of(rendered)))
    assert colour_of(rules, ".nl-surface", "background-color") == "#202020"
    assert colour_of(rules, ".nl-text .kicker") == "#ffb000"
    brand = layouts.load(project_dir / "layouts", "pom-limburg").config.brand.model_dump()
    derived = dark_palette(brand, {"surface": "#202020", "accent": "#ffb000"})
    assert colour_of(rules, ".nl-text div") == derived["text"]
    # The derived primary is measured on the given surface, not on the one it would have derived.
    assert contrast(derived["primary"], "#202020") >= 4.5


def validate(project: Path) -> subprocess.CompletedProcess[str]:
    return run("validate", str(ISSUE), cwd=project, env=environment(WIDE), timeout=120)


def test_a_bad_dark_colour_is_one_line_with_file_and_line(project_dir: Path) -> None:
    layout = project_dir / "layouts" / "pom-limburg" / "layout.yaml"
    edit(layout, "fonts:\n", "dark:\n  primary: lightblue\nfonts:\n")
    result = validate(project_dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: layouts/pom-limburg/layout.yaml:{line_of(layout, 'primary: lightblue')}: dark.primary: "
        "Value error, 'lightblue' is not a colour; write it as #rrggbb, e.g. #1f6f5c (1 problem(s))"
    ]


def test_an_unknown_dark_key_is_one_line_with_its_line(project_dir: Path) -> None:
    layout = project_dir / "layouts" / "pom-limburg" / "layout.yaml"
    edit(layout, "fonts:\n", 'dark:\n  backgrond: "#000000"\nfonts:\n')
    result = validate(project_dir)
    assert result.returncode == 2
    # As a misspelt brand: key is reported.
    assert result.stderr.splitlines() == [
        f"error: layouts/pom-limburg/layout.yaml:{line_of(layout, 'backgrond')}: dark.backgrond: "
        "Extra inputs are not permitted (1 problem(s))"
    ]


def test_a_dark_logo_without_a_logo_is_one_line(project_dir: Path) -> None:
    layout = project_dir / "layouts" / "pom-limburg" / "layout.yaml"
    edit(layout, "logo:\n  src: logo.png\n  alt: POM Limburg\n  width: 160\n", "")
    result = validate(project_dir)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: layouts/pom-limburg/layout.yaml: logo_dark: a dark logo needs a logo: add logo: with its alt"
    ]


def test_a_missing_dark_logo_file_is_one_line(project_dir: Path) -> None:
    (project_dir / "layouts" / "pom-limburg" / "logo-dark.png").unlink()
    result = validate(project_dir)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: layouts/pom-limburg/layout.yaml: logo_dark: no file 'logo-dark.png' in the layout"
    ]


# -- the derived palette --------------------------------------------------------------------------


@pytest.mark.parametrize("brand", BRANDS, ids=lambda b: f"{b['primary']}-{b['accent']}")
def test_every_text_pair_of_the_derived_palette_reads_at_wcag_aa(brand: dict[str, str]) -> None:
    dark = dark_palette(brand, {})
    low = {f"{fg}/{bg}": round(contrast(dark[fg], dark[bg]), 2) for fg, bg in TEXT_PAIRS}
    assert all(ratio >= 4.5 for ratio in low.values()), low


def test_the_derived_brand_colours_keep_their_hue_and_are_lightened_only_as_far_as_needed() -> None:
    dark = dark_palette(BRANDS[0], {})
    assert dark["primary"] == lightened("#0b4f6c", (dark["background"], dark["surface"]))
    # One step (1% lightness) darker would no longer read on the surface.
    assert 4.5 <= contrast(dark["primary"], dark["surface"]) < 4.8
    red, green, blue = (int(dark["primary"][i : i + 2], 16) for i in (1, 3, 5))
    assert blue > green > red, "still the layout's blue"


def test_the_contrast_ratio_is_wcag_s() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#123456", "#123456") == 1


# -- the header's month ---------------------------------------------------------------------------


def header_texts(rendered: Rendered) -> list[str]:
    soup = BeautifulSoup(html_of(rendered), "lxml")
    band = soup.select_one(".nl-band")
    assert isinstance(band, Tag)
    return list(band.stripped_strings)


def test_the_header_shows_the_issue_s_month_in_dutch(sample: tuple[Rendered, str]) -> None:
    assert header_texts(sample[0]) == ["januari 2026"]


def sample_as(folder: Path, name: str, text: str) -> Path:
    """`text` as folder/issues/<name>.yaml, beside a copy of the sample's images."""
    copy_sample_images(folder / "issues")
    path = folder / "issues" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_header_shows_the_issue_s_month_in_english(tmp_path: Path) -> None:
    _, rendered = render(sample_as(tmp_path, "2026-03", sample_text(("language: nl", "language: en"))))
    assert header_texts(rendered) == ["March 2026"]


def test_the_month_comes_from_the_name_else_from_send_at_else_there_is_none() -> None:
    import datetime as dt

    assert issue_month("2026-01", None) == dt.date(2026, 1, 1)
    assert issue_month("2026-11-extra", dt.datetime(2026, 10, 30, 9, 0)) == dt.date(2026, 11, 1)
    assert issue_month("voorjaar", dt.datetime(2026, 4, 20, 9, 0)) == dt.date(2026, 4, 1)
    assert issue_month("voorjaar", None) is None
    assert issue_month("2026-13", None) is None
    assert [format_month(dt.date(2026, 3, 1), lang) for lang in ("nl", "en", "fr", "de")] == [
        "maart 2026",
        "March 2026",
        "mars 2026",
        "März 2026",
    ]


def test_an_issue_without_a_month_has_no_date_in_its_header(tmp_path: Path) -> None:
    _, rendered = render(sample_as(tmp_path, "voorjaar", SAMPLE.read_text(encoding="utf-8")))
    assert header_texts(rendered) == []
    soup = BeautifulSoup(html_of(rendered), "lxml")
    assert soup.select(".nl-band img[alt='POM Limburg']"), "the logo stays"


# -- the sample's logo and photo ------------------------------------------------------------------


def test_the_sample_s_photo_has_alt_text_and_is_sent_with_it(sample: tuple[Rendered, str]) -> None:
    rendered, html = sample
    photo = (ROOT / "issues" / "images" / "goederentrein.jpg").read_bytes()
    sent = [i for i in rendered.images if i.data == photo]
    assert [(i.filename, i.content_type) for i in sent] == [("goederentrein.jpg", "image/jpeg")]
    image = BeautifulSoup(html, "lxml").find("img", src=f"cid:{sent[0].cid}")
    assert isinstance(image, Tag)
    assert str(image["alt"]).startswith("Een goederentrein met gekleurde containers")
    assert image["width"] == "552"
    assert image["height"] == str(round(552 * 621 / 1104))


def test_the_logos_are_pngs_twice_as_wide_as_shown_with_a_transparent_background() -> None:
    from PIL import Image

    for name in ("logo.png", "logo-dark.png"):
        with Image.open(ROOT / "layouts" / "pom-limburg" / name) as logo:
            assert logo.format == "PNG"
            assert logo.mode == "RGBA"
            assert logo.width == 2 * 160
            assert logo.getpixel((logo.width - 1, 0))[3] == 0, "transparent"  # type: ignore[index]


def test_the_dark_logo_is_hidden_inline_for_programs_without_the_rules(sample: tuple[Rendered, str]) -> None:
    soup = BeautifulSoup(sample[1], "lxml")
    dark = soup.select_one(".nl-logo-dark")
    assert isinstance(dark, Tag)
    style = str(dark["style"])
    for hidden in ("display:none", "max-height:0px", "overflow:hidden", "visibility:hidden", "mso-hide:all"):
        assert hidden in style
    assert dark.find("img", alt="POM Limburg") is not None
    # Kept from Outlook for Windows, which would show it: inside <!--[if !mso]><!--> … <!--<![endif]-->.
    before = sample[1][: sample[1].index('class="nl-logo-dark"')]
    assert before.rfind("<!--[if !mso]><!-->") > before.rfind("<!--<![endif]-->")


# -- in a real browser ----------------------------------------------------------------------------


@pytest.fixture
def open_email(browser: Browser, project_dir: Path, tmp_path: Path) -> Iterator[object]:
    """Open the sample's rendered HTML (`newsletter render`) in a browser set to a colour scheme."""
    done = run("render", str(ISSUE), "-o", "out", cwd=project_dir, env=environment(WIDE), timeout=120)
    assert done.returncode == 0, done.stderr
    pages: list[Page] = []

    def _open(scheme: str) -> Page:
        context = browser.new_context(color_scheme=scheme, viewport={"width": 700, "height": 900})  # type: ignore[arg-type]
        page = context.new_page()
        page.goto((project_dir / "out" / "2026-01.html").as_uri())
        pages.append(page)
        return page

    yield _open
    for page in pages:
        page.screenshot(path=tmp_path / f"email-{len(pages)}.png", full_page=True)
        page.context.close()


def looks(frame: Page | Frame) -> dict[str, object]:
    """The body's background, a paragraph's text colour and which logo shows, as the browser draws them."""
    return frame.evaluate(
        """() => {
          const shown = (img) => img.getBoundingClientRect().width > 0
            && getComputedStyle(img).visibility !== "hidden";
          const paragraph = document.querySelector(".nl-text p");
          return {
            background: getComputedStyle(document.body).backgroundColor,
            text: getComputedStyle(paragraph).color,
            // The logo is the h1 of an issue without an intro title (the img carries the class), an
            // <mj-image> otherwise (its cell does).
            light_logo: shown(document.querySelector("img.nl-logo-light, .nl-logo-light img")),
            dark_logo: shown(document.querySelector(".nl-logo-dark img")),
          };
        }"""
    )


def rgb_of(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


DARK = dark_palette(layouts.load(ROOT / "layouts", "pom-limburg").config.brand.model_dump(), {})
DARK_LOOKS = {"background": rgb_of(DARK["background"]), "text": rgb_of(DARK["text"]), "light_logo": False,
              "dark_logo": True}  # fmt: skip
LIGHT_LOOKS = {
    "background": rgb_of("#eef2f4"),
    "text": rgb_of("#1d2b36"),
    "light_logo": True,
    "dark_logo": False,
}


@needs_chromium
def test_a_browser_in_dark_mode_shows_dark_colours_and_the_dark_logo(open_email: object) -> None:
    page = open_email("dark")  # type: ignore[operator]
    expect(page.locator(".nl-logo-dark img")).to_be_visible()
    assert looks(page) == DARK_LOOKS


@needs_chromium
def test_a_browser_in_light_mode_shows_the_light_colours_and_logo(open_email: object) -> None:
    page = open_email("light")  # type: ignore[operator]
    expect(page.locator("img.nl-logo-light, .nl-logo-light img")).to_be_visible()
    assert looks(page) == LIGHT_LOOKS


def frame(page: Page, name: str) -> Frame:
    handle = page.locator(f"#{name}").element_handle()
    assert handle is not None
    found = handle.content_frame()
    assert found is not None
    return found


def wait_for_looks(page: Page, expected: dict[str, object]) -> None:
    for name in ("desktop", "phone"):
        page.wait_for_function(
            """([name, background]) => {
              const doc = document.getElementById(name).contentDocument;
              return doc && doc.body && doc.querySelector(".nl-text p")
                && getComputedStyle(doc.body).backgroundColor === background;
            }""",
            arg=[name, expected["background"]],
        )
        assert looks(frame(page, name)) == expected, name


@needs_chromium
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_preview_starts_as_the_browser_is_set_and_its_switch_flips_both_frames(
    browser: Browser, project_dir: Path, tmp_path: Path, scheme: str
) -> None:
    with serving(project_dir) as running:
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1200, "height": 900})  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(running.url + "/")
        first, then = (LIGHT_LOOKS, DARK_LOOKS) if scheme == "light" else (DARK_LOOKS, LIGHT_LOOKS)
        switch = page.get_by_role("button", name="Dark mode")
        expect(switch).to_have_attribute("aria-pressed", str(scheme == "dark").lower())
        wait_for_looks(page, first)
        switch.click()
        expect(switch).to_have_attribute("aria-pressed", str(scheme != "dark").lower())
        wait_for_looks(page, then)
        page.screenshot(path=tmp_path / "preview.png", full_page=True)
        context.close()


def test_the_preview_serves_the_email_in_either_scheme(project_dir: Path) -> None:
    with serving(project_dir) as running:
        plain = running.body("/email.html", "text/html")
        dark = running.body("/email.html?scheme=dark", "text/html")
        light = running.body("/email.html?scheme=light", "text/html")
    assert "@media (prefers-color-scheme: dark)" in plain
    assert "@media (prefers-color-scheme: dark)" not in dark + light
    assert dark.replace("@media all {", "@media (prefers-color-scheme: dark) {") == plain
    assert light.replace("@media not all {", "@media (prefers-color-scheme: dark) {") == plain
