"""The web archive: a static site of every sent (or, on request, ready) issue, with no reader's data."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import command
import pytest
from bs4 import BeautifulSoup
from conftest import CSV, SUBJECT, edit, needs_chromium, png
from issue_files import copy_sample
from PIL import Image
from playwright.sync_api import Browser, expect

from newsletter.config import load_settings
from newsletter.errors import NewsletterError
from newsletter.ledger import Ledger
from newsletter.reading.recipients import load as load_recipients
from newsletter.rendering.dates import format_date
from newsletter.rendering.project import Project
from newsletter.web import archive

FEBRUARY = "Februari: nieuwe kansen in Genk en Hasselt"
MARCH = "Maart: een concept dat nog niet af is"
UNSUBSCRIBE = "https://example.org/unsubscribe?token={token}"
# Everything a recipient could leave in a page: the sample reader, the audience file's people.
PERSONAL = re.compile(
    r"\b(Sam|Voorbeeld|An|Peeters|Bert|Janssens|Carla|Maes)\b|@example\.(org|com)\b(?<!nieuwsbrief@example\.org)"
)


def write_issue(
    project_dir: Path,
    slug: str,
    *,
    subject: str | None = None,
    status: str = "ready",
    send_at: str | None = None,
    image: str | None = None,
) -> Path:
    """A copy of the sample issue as issues/<slug>.yaml, with another subject, status or image."""
    path = copy_sample(project_dir, slug, status=status, send_at=send_at, subject=subject)
    if image is not None:
        edit(
            path,
            "    link:\n      url: https://example.org/nieuws/health-campus-limburg-san-francisco\n",
            f"    image:\n      src: {image}\n      alt: Het panel in San Francisco\n",
        )
    return path


@pytest.fixture
def two_ready(project_dir: Path) -> Path:
    """January and February ready to go (January with a local image and a layout logo), March a draft."""
    images = project_dir / "issues" / "images"
    images.mkdir(exist_ok=True)
    (images / "panel.png").write_bytes(png(4, 3))
    # The layout's logo and dark logo (layout.yaml names both), as files this test knows.
    layout = project_dir / "layouts" / "pom-limburg"
    (layout / "logo.png").write_bytes(png(8, 2))
    (layout / "logo-dark.png").write_bytes(png(8, 3))
    write_issue(project_dir, "2026-01", send_at="2026-01-20T09:00", image="images/panel.png")
    write_issue(project_dir, "2026-02", subject=FEBRUARY, send_at="2026-02-17T09:00")
    write_issue(project_dir, "2026-03", subject=MARCH, status="draft")
    return project_dir


def run(project_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`newsletter ARGS` in the project folder, with extra NEWSLETTER_* settings."""
    env = command.environment({"COLUMNS": "200"}, **settings)
    return command.run(*args, cwd=project_dir, env=env, timeout=120)


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def index_links(site: Path) -> list[tuple[str, str]]:
    return [(str(a["href"]), a.get_text(strip=True)) for a in soup(site / "index.html").select("li a")]


def local_links(page: Path) -> list[str]:
    """Every href and src of a page that points at a file of the site (not the web, mail, or itself)."""
    found = []
    for tag in soup(page).find_all(["a", "img", "link", "script"]):
        for attribute in ("href", "src"):
            value = tag.get(attribute)
            if not value:
                continue
            url = urlsplit(str(value))
            if url.scheme or url.netloc or not url.path:
                continue
            found.append(unquote(url.path))
    return found


def sent(project_dir: Path, slug: str, subject: str, when: dt.datetime, sent_to: list[str]) -> None:
    """Record in the ledger that a delivery of `slug` started at `when`, and who got it."""
    ledger = Ledger(project_dir / load_settings().db)
    try:
        ledger.start(
            slug,
            subject=subject,
            content_hash="0" * 64,
            audience_source=str(CSV),
            recipients=load_recipients(project_dir / CSV).recipients,
            now=when,
        )
        for email in sent_to:
            ledger.mark(slug, email, "sent", "250 2.0.0 OK", when)
    finally:
        ledger.close()


# -- which issues, in which order ----------------------------------------------------------------


def test_include_ready_writes_an_index_linking_each_ready_issue_newest_first(two_ready: Path) -> None:
    result = run(two_ready, "archive", "-o", "site", "--include-ready")
    assert result.returncode == 0, result.stderr
    site = two_ready / "site"
    assert index_links(site) == [("2026-02.html", FEBRUARY), ("2026-01.html", SUBJECT)]
    index = soup(site / "index.html")
    # Newest first, dated as a Dutch reader writes dates.
    assert [d.get_text() for d in index.select(".date")] == ["17 februari 2026", "20 januari 2026"]
    assert index.title is not None
    assert index.title.get_text() == "Nieuwsbrief POM Limburg"
    # A draft is never published.
    assert not (site / "2026-03.html").exists()
    assert MARCH not in (site / "index.html").read_text(encoding="utf-8")
    assert "wrote 2 issue(s)" in result.stdout
    assert "Traceback" not in result.stderr


def test_without_include_ready_and_nothing_sent_it_says_so(two_ready: Path) -> None:
    result = run(two_ready, "archive", "-o", "site")
    assert result.returncode == 2
    assert "nothing has been sent yet" in result.stderr
    assert "--include-ready" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (two_ready / "site").exists(), "nothing to publish, so no site folder either"


def test_with_only_drafts_even_include_ready_has_nothing_to_publish(project_dir: Path) -> None:
    result = run(project_dir, "archive", "-o", "site", "--include-ready")
    assert result.returncode == 2
    assert "nothing has been sent yet" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_issue_sent_according_to_the_ledger_is_included(two_ready: Path) -> None:
    # January went out to one reader; February's delivery started but reached nobody yet.
    january = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)
    sent(two_ready, "2026-01", SUBJECT, january, ["an.peeters@example.org"])
    sent(two_ready, "2026-02", FEBRUARY, january + dt.timedelta(days=28), [])
    result = run(two_ready, "archive", "-o", "site")
    assert result.returncode == 0, result.stderr
    site = two_ready / "site"
    assert index_links(site) == [("2026-01.html", SUBJECT)]
    assert [d.get_text() for d in soup(site / "index.html").select(".date")] == [
        format_date(january.astimezone().date(), "nl")
    ]
    assert not (site / "2026-02.html").exists()

    # With --include-ready, the ready February joins it, newest first.
    result = run(two_ready, "archive", "-o", "site", "--include-ready")
    assert result.returncode == 0, result.stderr
    assert [href for href, _ in index_links(site)] == ["2026-02.html", "2026-01.html"]


def test_issues_to_publish_in_process_reads_the_ledger_and_the_issue_files(two_ready: Path) -> None:
    issues = Path("issues")  # the project's folder, as Project() names it
    january = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)
    sent(two_ready, "2026-01", SUBJECT, january, ["an.peeters@example.org"])
    sent(two_ready, "2026-02", FEBRUARY, january + dt.timedelta(days=28), [])
    sent_on = january.astimezone().date().isoformat()
    ledger = Ledger.for_reading(two_ready / load_settings().db)
    try:
        assert archive.issues_to_publish(Project(), ledger, include_ready=False) == [
            archive.ToPublish(issues / "2026-01.yaml", sent_on)
        ]
        # February's delivery reached nobody yet: it joins as a ready issue, dated by its send_at.
        assert archive.issues_to_publish(Project(), ledger, include_ready=True) == [
            archive.ToPublish(issues / "2026-01.yaml", sent_on),
            archive.ToPublish(issues / "2026-02.yaml", "2026-02-17"),
        ]
    finally:
        ledger.close()
    # Without a ledger nothing was sent; the March draft is never chosen.
    assert archive.issues_to_publish(Project(), None, include_ready=False) == []
    assert [p.file.stem for p in archive.issues_to_publish(Project(), None, include_ready=True)] == [
        "2026-01",
        "2026-02",
    ]


@pytest.mark.parametrize(
    ("setting", "page"),
    [
        ("https://example.org/unsubscribe?token={token}", "https://example.org/unsubscribe?token="),
        ("https://example.org/u?e={email}&t={token}", "https://example.org/u?e=&t="),
        ("{token}", "#"),
        (None, "#"),
    ],
)
def test_the_unsubscribe_link_of_the_archive_has_no_token_or_address(setting: str | None, page: str) -> None:
    assert archive.public_unsubscribe_page(setting) == page


# -- what the pages hold --------------------------------------------------------------------------


def test_the_issue_pages_carry_no_recipient_data(two_ready: Path) -> None:
    sent(
        two_ready, "2026-01", SUBJECT, dt.datetime(2026, 1, 20, 12, tzinfo=dt.UTC), ["an.peeters@example.org"]
    )
    result = run(
        two_ready,
        "archive",
        "-o",
        "site",
        "--include-ready",
        NEWSLETTER_UNSUBSCRIBE_URL=UNSUBSCRIBE,
        NEWSLETTER_SECRET="a-secret-that-makes-tokens",
        NEWSLETTER_FROM="POM Limburg <nieuwsbrief@example.org>",
    )
    assert result.returncode == 0, result.stderr
    site = two_ready / "site"
    for slug in ("2026-01", "2026-02"):
        page = (site / f"{slug}.html").read_text(encoding="utf-8")
        # Merge fields take their defaults: the greeting is the issue's own fallback.
        assert "Beste lezer," in page
        assert "NLMERGE" not in page
        assert "{{" not in page
        found = PERSONAL.search(page)
        assert found is None, f"{slug}.html shows {found[0]!r}: {page[found.start() - 60 : found.end() + 20]}"
        # The unsubscribe link leads to the page, without anyone's token.
        hrefs = [str(a["href"]) for a in soup(site / f"{slug}.html").find_all("a", href=True)]
        unsubscribe = [h for h in hrefs if h.startswith("https://example.org/unsubscribe")]
        assert unsubscribe == ["https://example.org/unsubscribe?token="]
        assert "a-secret-that-makes-tokens" not in page
        assert "{token}" not in page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert PERSONAL.search(index) is None


def test_without_an_unsubscribe_setting_the_link_goes_nowhere(two_ready: Path) -> None:
    assert run(two_ready, "archive", "-o", "site", "--include-ready").returncode == 0
    page = soup(two_ready / "site" / "2026-02.html")
    assert page.find("a", string="Uitschrijven")["href"] == "#"  # type: ignore[index]


def test_local_images_are_copied_under_site_assets(two_ready: Path) -> None:
    assert run(two_ready, "archive", "-o", "site", "--include-ready").returncode == 0
    site = two_ready / "site"
    # The files as the messages carry them, made for email: the same pictures, perhaps fewer bytes.
    # Each named by its content, as on the asset host: images/panel-1a2b3c4d.png.
    sources = [str(img["src"]) for img in soup(site / "2026-01.html").find_all("img")]
    for path, size in (
        ("images/panel", (4, 3)),
        ("layouts/pom-limburg/logo", (8, 2)),
        ("layouts/pom-limburg/logo-dark", (8, 3)),
    ):
        [source] = [s for s in sources if re.fullmatch(f"assets/{path}-[0-9a-f]{{8}}\\.png", s)]
        with Image.open(site / source) as published:
            assert (published.format, published.size) == ("PNG", size), path
    # Nothing is embedded or left pointing at a mail part.
    assert not [s for s in sources if s.startswith(("cid:", "data:"))]


def test_every_link_in_the_archive_leads_to_a_file(two_ready: Path) -> None:
    assert run(two_ready, "archive", "-o", "site", "--include-ready").returncode == 0
    site = two_ready / "site"
    pages = [site / href for href, _ in index_links(site)]
    assert len(pages) == 2
    checked = 0
    for page in [site / "index.html", *pages]:
        for link in local_links(page):
            target = (page.parent / link).resolve()
            assert target.is_relative_to(site.resolve()), f"{page.name} links out of the site: {link}"
            assert target.is_file(), f"{page.name} links to {link}, which does not exist"
            checked += 1
    assert checked >= 5  # two issue links, and each page's images


def test_build_in_process_returns_the_pages_newest_first(two_ready: Path) -> None:
    issues = two_ready / "issues"
    # A subject with a merge field shows its default on the index, not the field's source.
    write_issue(
        two_ready,
        "2026-04",
        subject="{{ first_name | default('Lezer') }}, dit is april",
        send_at="2026-04-21T09:00",
    )
    out = two_ready / "public"
    pages = archive.build(
        Project(),
        [
            (issues / "2026-01.yaml", "2026-01-20"),
            (issues / "2026-04.yaml", "2026-04-21"),
            (issues / "2026-02.yaml", "2026-02-17"),
        ],
        out,
        unsubscribe_page="https://example.org/unsubscribe",
    )
    assert [(p.slug, p.date) for p in pages] == [
        ("2026-04", "2026-04-21"),
        ("2026-02", "2026-02-17"),
        ("2026-01", "2026-01-20"),
    ]
    assert [p.file for p in pages] == [out / "2026-04.html", out / "2026-02.html", out / "2026-01.html"]
    assert pages[0].subject == "Lezer, dit is april"
    assert index_links(out)[0] == ("2026-04.html", "Lezer, dit is april")
    assert "{{" not in (out / "index.html").read_text(encoding="utf-8")
    april = soup(out / "2026-04.html")
    assert april.title is not None
    assert april.title.get_text() == "Lezer, dit is april"


def test_build_with_no_issues_raises_a_user_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError, match="nothing has been sent yet"):
        archive.build(Project(), [], tmp_path / "site", unsubscribe_page="#")
    assert not (tmp_path / "site").exists()


# -- what the issue or the layout writes is shown as text -----------------------------------------

# The subject as YAML writes it, then as a reader without a first name sees it: markup that would run,
# quotes and template braces.
HOSTILE_SUBJECT = """'<script>alert("x")</script> & ''q'' {{ first_name | default("{{ 7*7 }}") }}'"""
SHOWN_SUBJECT = """<script>alert("x")</script> & 'q' {{ 7*7 }}"""
HOSTILE_LIST_NAME = """</title><script>alert('x')</script> "Nieuws" & {{ 7*7 }}"""


def test_markup_quotes_and_braces_in_a_subject_or_the_list_name_are_shown_as_text(two_ready: Path) -> None:
    february = two_ready / "issues" / "2026-02.yaml"
    text = february.read_text(encoding="utf-8")
    february.write_text(re.sub(r"(?m)^subject: .*$", lambda _: f"subject: {HOSTILE_SUBJECT}", text), "utf-8")
    edit(
        two_ready / "layouts" / "pom-limburg" / "layout.yaml",
        "list_name: Nieuwsbrief POM Limburg",
        "list_name: '" + HOSTILE_LIST_NAME.replace("'", "''") + "'",
    )
    result = run(two_ready, "archive", "-o", "site", "--include-ready")
    assert result.returncode == 0, result.stderr
    site = two_ready / "site"
    assert index_links(site) == [("2026-02.html", SHOWN_SUBJECT), ("2026-01.html", SUBJECT)]
    index = soup(site / "index.html")
    assert index.title is not None
    assert index.title.get_text() == HOSTILE_LIST_NAME
    assert index.h1 is not None
    assert index.h1.get_text() == HOSTILE_LIST_NAME
    assert index.find_all("script") == []
    assert "<script>" not in (site / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("slug", ["\"><script>alert('x')<!-- {{ 7*7 }}", "javascript:alert(1)"])
def test_a_slug_with_markup_or_a_scheme_links_to_its_own_page(two_ready: Path, slug: str) -> None:
    # The CLI publishes only files named as slugs are (letters, digits, . - _); the library takes any.
    path = write_issue(two_ready, slug, send_at="2026-02-17T09:00")
    out = two_ready / "public"
    archive.build(Project(), [(path, "2026-02-17")], out, unsubscribe_page="#")
    [(href, label)] = index_links(out)
    assert label == SUBJECT
    # A path of the site, percent-encoded: no quote ends the attribute, no scheme makes it a script.
    assert urlsplit(href).scheme == ""
    assert re.fullmatch(r"[A-Za-z0-9%._-]+\.html", href), href
    assert (out / unquote(href)).read_text(encoding="utf-8") == (out / f"{slug}.html").read_text(
        encoding="utf-8"
    )
    assert soup(out / "index.html").find_all("script") == []


# -- in a browser ---------------------------------------------------------------------------------


@needs_chromium
def test_in_a_browser_the_index_leads_to_the_newest_issue(
    two_ready: Path, browser: Browser, tmp_path: Path
) -> None:
    assert run(two_ready, "archive", "-o", "site", "--include-ready").returncode == 0
    site = two_ready / "site"
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    try:
        page = context.new_page()
        page.goto((site / "index.html").as_uri())
        expect(page).to_have_title("Nieuwsbrief POM Limburg")
        expect(page.get_by_role("link")).to_have_count(2)
        page.screenshot(path=tmp_path / "archive-index.png", full_page=True)

        page.get_by_role("link").first.click()
        expect(page).to_have_url((site / "2026-02.html").as_uri())
        expect(page).to_have_title(FEBRUARY)
        expect(page.get_by_text("Beste lezer,")).to_be_visible()
        expect(page.get_by_role("heading", name="Health Campus Limburg versterkt zijn plek")).to_be_visible()
        page.screenshot(path=tmp_path / "archive-issue.png", full_page=True)
    finally:
        context.close()
