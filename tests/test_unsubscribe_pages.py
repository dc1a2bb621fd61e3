"""The unsubscribe pages themselves: valid HTML (html-validate's recommended rules, none off) in every
state, language and shipped layout; readable colours whatever a layout says; the address masked; the
language a browser asks for; and where the token stands in the links."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import IN_CI, ROOT

from newsletter.errors import ConfigError
from newsletter.model import LANGUAGES
from newsletter.reading import layouts
from newsletter.reading.layouts import Brand
from newsletter.web.links import Link, LinkShape
from newsletter.web.looks import Look, accepted_language
from newsletter.web.readers import masked
from newsletter.web.unsubscribe_pages import TEXT_CONTRAST, Palette, contrast, render

TOOL_DIR = ROOT / "tests" / "html-validate"
CONFIG = TOOL_DIR / "pages.htmlvalidate.cjs"
CLI = TOOL_DIR / "node_modules" / "html-validate" / "bin" / "html-validate.mjs"
STATES = ("ask", "done", "already", "cannot")
LAYOUT_NAMES = (*layouts.available(ROOT / "layouts"), None)


def look(layout: str | None, language: str = "nl") -> Look:
    if layout is None:
        return Look(language, None)  # type: ignore[arg-type]
    loaded = layouts.load(ROOT / "layouts", layout)
    return Look(language, loaded.config)  # type: ignore[arg-type]


def page(state: str, layout: str | None = "pom-limburg", language: str = "nl") -> str:
    return render(
        state,  # type: ignore[arg-type]
        look(layout, language),
        address="j•••@example.org",
        action="?token=abc.def&email=j%40example.org",
        mailto="uitschrijven@example.org",
        nonce="n0nce",
    )


def test_every_page_is_valid_html(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("CI is set but node is missing: install Debian's nodejs and npm (see .ci/run)")
        pytest.skip("needs node to run html-validate (Debian: apt-get install nodejs npm)")
    if not CLI.is_file():
        pytest.fail("html-validate is not installed; run: cd tests/html-validate && npm ci")
    files = []
    for state in STATES:
        for layout in LAYOUT_NAMES:
            for language in LANGUAGES:
                path = tmp_path / f"{state}-{layout}-{language}.html"
                path.write_text(page(state, layout, language), encoding="utf-8")
                files.append(path)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [node, str(CLI), "--config", str(CONFIG), "--formatter", f"json={report}", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    findings = [
        f"{Path(result['filePath']).name}:{m['line']} {m['ruleId']}: {m['message']}"
        for result in json.loads(report.read_text(encoding="utf-8"))
        for m in result["messages"]
    ]
    assert not findings, "\n".join(findings)
    assert done.returncode == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_page_speaks_the_issues_language_and_has_one_heading(language: str) -> None:
    for state in STATES:
        soup = BeautifulSoup(page(state, "default", language), "html.parser")
        assert soup.html is not None
        assert soup.html["lang"] == language
        assert len(soup.find_all("h1")) == 1
        assert "{" not in soup.get_text()  # every placeholder filled
        assert len(soup.find_all("button")) == (1 if state == "ask" else 0)


def test_the_address_and_list_name_are_escaped() -> None:
    html = render("ask", look(None), address="<b>@example.org", action="?x=<y>", nonce="n")
    assert "<b>@" not in html
    assert "&lt;b&gt;@example.org" in html
    assert 'action="?x=&lt;y&gt;"' in html


def test_the_cannot_page_names_the_unsubscribe_address_only_when_there_is_one() -> None:
    without = render("cannot", look("pom-limburg"), nonce="n")
    assert "mailto:" not in without
    assert 'href="mailto:uitschrijven@example.org"' in page("cannot")


AWKWARD = [
    # Pale text on white, a yellow button with white text, a light band: all unreadable as given.
    Brand(primary="#ffe066", accent="#ffd43b", text="#cccccc", muted="#dddddd", on_primary="#ffffff"),
    Brand(primary="#0b4f6c", accent="#d1495b"),
    Brand(primary="#000000", accent="#111111", surface="#000000", text="#222222", background="#000000"),
    Brand(primary="#777777", accent="#888888", text="#777777", muted="#888888", on_primary="#808080"),
]


@pytest.mark.parametrize("brand", AWKWARD, ids=range(len(AWKWARD)))
def test_the_colours_read_whatever_the_layout_says(brand: Brand) -> None:
    colours = Palette.of(brand)
    for fore, back in [
        (colours.text, colours.card),
        (colours.muted, colours.card),
        (colours.link, colours.card),
        (colours.on_band, colours.band),
        (colours.on_button, colours.button),
    ]:
        assert contrast(fore, back) >= TEXT_CONTRAST, (fore, back)


def test_readable_layout_colours_are_kept() -> None:
    brand = layouts.load(ROOT / "layouts", "pom-limburg").config.brand
    colours = Palette.of(brand)
    assert (colours.band, colours.button, colours.text) == (brand.primary, brand.primary, brand.text)
    assert contrast("#000000", "#ffffff") == pytest.approx(21)


@pytest.mark.parametrize(
    ("email", "shown"),
    [
        ("jan.peeters@example.org", "j•••@example.org"),
        ("a@example.org", "a•••@example.org"),
        ("zoë@exämple.org", "z•••@exämple.org"),
        ("odd", "o•••"),
    ],
)
def test_an_address_is_shown_masked(email: str, shown: str) -> None:
    assert masked(email) == shown


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-BE,nl;q=0.9,en;q=0.8", "nl"),
        ("en-GB,en;q=0.9", "en"),
        ("es-ES,es;q=0.9,fr;q=0.8,de;q=0.7", "fr"),
        ("de;q=0.5, en;q=0.9", "en"),
        ("nl;q=0, en", "en"),
        ("ja, zh", None),
        ("", None),
        ("en;q=abc, de", "de"),
    ],
)
def test_the_browsers_language_is_the_first_one_the_pages_have(header: str, language: str | None) -> None:
    assert accepted_language(header) == language


def test_the_links_token_stands_in_the_query_or_in_the_path() -> None:
    query = LinkShape.of("https://nieuws.example.org/uitschrijven?list=pom&token={token}&email={email}")
    assert (query.path, query.pull_path) == ("/uitschrijven", "/uitschrijven/suppressions")
    assert query.read("/uitschrijven", {"token": ["abc"], "email": ["a@example.org"]}) == Link(
        "abc", "a@example.org"
    )
    assert query.read("/uitschrijven", {}) == Link("", None)
    assert query.read("/uitschrijven/x", {"token": ["abc"]}) is None
    in_path = LinkShape.of("https://example.org/nieuws/u/{token}")
    assert in_path.pull_path == "/nieuws/u/suppressions"
    assert in_path.read("/nieuws/u/abc.def", {}) == Link("abc.def", None)
    assert in_path.read("/nieuws/u/", {}) is None
    root = LinkShape.of("https://unsubscribe.example.org?t={token}")
    assert (root.path, root.pull_path) == ("/", "/suppressions")
    assert root.read("/", {"t": ["abc"]}) == Link("abc", None)


def test_a_link_without_a_place_for_the_token_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("NEWSLETTER_UNSUBSCRIBE_URL")):
        LinkShape.of("https://example.org/uitschrijven?token=x{token}")
