"""The preflight's checks one by one, on the sample issue and on HTML and messages made to have one
problem each: images, size, subject and preheader, unsubscribe, the HTML's build and SpamAssassin."""

from __future__ import annotations

import datetime as dt
import shutil
from email.message import EmailMessage

import pytest
from conftest import ENVELOPE, IN_CI, ROOT, SAMPLE, png

from newsletter.delivering.preflight import Level, images, inbox, links, page, preflight, spam, structure
from newsletter.delivering.preflight.findings import Finding
from newsletter.delivering.preflight.web import Answer, Outcome
from newsletter.model import InlineImage
from newsletter.rendering.project import Project

NOW = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
HEAD = '<html lang="en"><head><meta charset="utf-8"><title>T</title></head><body>'


def _levels(found: list[Finding]) -> list[tuple[Level, str]]:
    return [(f.level, f.what) for f in found]


def _only(found: list[Finding], level: Level) -> list[Finding]:
    return [f for f in found if f.level is level]


def test_the_sample_issue_offline_has_no_error_and_asks_nothing() -> None:
    loaded, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    report = preflight(loaded, rendered, ENVELOPE, now=NOW, online=False, spamassassin=None)
    assert report.errors == []
    links = dict(report.by_area())["links"]
    assert len(links) == 5
    assert all("not asked (offline)" in f.what for f in links)
    article = next(f for f in links if "health-campus" in f.what)
    assert article.where.startswith("issues/2026-01.yaml:") or article.where.startswith(str(SAMPLE))
    assert article.where.endswith("sections[1].link.url")
    # The sample's subject is 73 characters: a phone shows the first 40.
    subject = next(f for f in report.warnings if f.area == "inbox")
    assert "73 characters" in subject.what
    assert "'Limburg op de internationale kaart: San…'" in subject.what
    assert report.as_dict()["errors"] == 0


def test_without_spamassassin_one_line_says_how_to_install_it() -> None:
    found = list(spam.findings(b"Subject: x\r\n\r\nhello\r\n", None))
    assert len(found) == 1
    assert found[0].level is Level.WARNING
    assert "not installed" in found[0].what
    assert "apt-get install spamassassin" in found[0].fix


def test_images_without_alt_are_errors_and_each_is_weighed() -> None:
    photo = InlineImage("p1@newsletter", "photo.png", "image/png", png(40, 30))
    html = (
        HEAD + '<img src="cid:p1@newsletter" width="40" height="30">'
        '<img src="cid:p1@newsletter" alt="" width="40" height="30">'
        '<img src="cid:p1@newsletter" alt="" role="presentation" width="40" height="30">'
        '<img src="cid:p1@newsletter" alt="A red square">'
    )
    found = list(images.findings(page.read(html), {photo.cid: photo}, None, None))
    errors, warnings = _only(found, Level.ERROR), _only(found, Level.WARNING)
    assert [f.what for f in errors] == ["photo.png has no alt text"]
    assert errors[0].where == "the layout, HTML line 1"
    # Empty alt: meant for decoration only when the layout marks it so.
    assert [f.what for f in warnings] == [
        "photo.png has an empty alt text",
        "photo.png has no width or height",
    ]
    sizes = [f.what for f in found if f.level is Level.OK]
    assert sizes.count(f"photo.png: {len(photo.data) / 1024:.1f} KB, 40x30 px") == 4
    assert sizes[-1].startswith("4 images, 4 weighed")


@pytest.mark.parametrize(
    ("kb", "level"),
    [(40, Level.OK), (95, Level.WARNING), (103, Level.ERROR)],
    ids=["small", "near", "clipped"],
)
def test_html_size_is_weighed_against_gmail_clipping(kb: int, level: Level) -> None:
    html = HEAD + "x" * (kb * 1024 - len(HEAD))
    (found,) = inbox.size(html)
    assert found.level is level
    assert f"{kb:.1f} KB of Gmail's 102 KB" in found.what


def test_subject_and_preheader_lengths_against_what_inboxes_show() -> None:
    (short,) = inbox.subject("Our news of January")
    assert short.level is Level.OK
    (long,) = inbox.subject("A" * 30 + " " + "B" * 40, "issues/x.yaml:1 subject")
    assert long.level is Level.WARNING
    assert long.where == "issues/x.yaml:1 subject"
    assert f"'{'A' * 30} {'B' * 9}…'" in long.what
    assert [f.level for f in inbox.preheader("Short")] == [Level.WARNING]
    assert [f.level for f in inbox.preheader("")] == [Level.WARNING]
    assert [f.level for f in inbox.preheader("w " * 80)] == [Level.WARNING]
    assert [f.level for f in inbox.preheader("What this issue holds, in one sentence that fits.")] == [
        Level.OK
    ]


def _message(headers: dict[str, str]) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    return message


def test_unsubscribe_must_be_in_the_header_the_html_and_the_text() -> None:
    url = "https://example.org/u?token=abc"
    message = _message({"List-Unsubscribe": f"<{url}>, <mailto:u@example.org>"})
    linked = page.read(HEAD + f'<a href="{url}">Unsubscribe</a>')
    found = list(inbox.unsubscribe(message, linked, f"Unsubscribe: {url}"))
    assert [f.level for f in found].count(Level.ERROR) == 0
    # Gmail and Yahoo ask bulk senders for one-click (RFC 8058).
    assert [f.what for f in found if f.level is Level.WARNING] == ["no List-Unsubscribe-Post header"]
    unlinked = list(inbox.unsubscribe(message, page.read(HEAD + "<p>bye</p>"), "bye"))
    assert [f.what for f in unlinked if f.level is Level.ERROR] == [
        "the HTML has no link to the reader's unsubscribe address",
        "the plain text has no unsubscribe address",
    ]
    (missing,) = inbox.unsubscribe(_message({}), linked, url)
    assert missing.level is Level.ERROR
    assert "List-Unsubscribe" in missing.what


def test_structure_finds_duplicate_ids_nested_and_script_links_and_a_bare_head() -> None:
    html = (
        "<html><head></head><body>"
        '<p id="a">one</p><p id="a">two</p>'
        '<a href="https://example.org/x">outer <a href="https://example.org/y">inner</a></a>'
        '<a href="javascript:alert(1)">run</a>'
        '<a href="https://example.org/z"></a>'
        '<a href="#">nowhere</a>'
    )
    found = list(structure.findings(page.read(html)))
    assert _levels(found) == [
        (Level.WARNING, "the page has no lang"),
        (Level.WARNING, "the page has no <title>"),
        (Level.WARNING, "the page names no charset"),
        (Level.WARNING, "the id 'a' is used 2 times"),
        (Level.ERROR, "a link inside another link (https://example.org/y)"),
        (Level.ERROR, "a javascript: link (run)"),
        (Level.WARNING, "a link without text (https://example.org/z)"),
        (Level.WARNING, "a link that goes nowhere (nowhere)"),
    ]
    (fine,) = structure.findings(page.read(HEAD + '<a href="https://example.org/">Home</a>'))
    assert fine.level is Level.OK


SA = shutil.which("spamassassin")
needs_spamassassin = pytest.mark.skipif(
    SA is None and not IN_CI, reason="needs Debian's spamassassin (apt-get install spamassassin)"
)

SPAMMY = (
    b"From: Winner <win@example.com>\r\nTo: you@example.org\r\nSubject: FREE MONEY WINNER GUARANTEED\r\n"
    b"Date: Tue, 20 Jan 2026 09:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b'<html><body><p><font size="7">100% FREE!!! Click here to claim your prize. Lose weight fast, '
    b"no prescription, viagra, casino, act now, risk free</font></p></body></html>\r\n"
)


@needs_spamassassin
def test_spamassassin_scores_the_sample_readers_real_message_low() -> None:
    assert SA is not None, "CI is set but spamassassin is missing: install Debian's spamassassin package"
    loaded, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    report = preflight(loaded, rendered, ENVELOPE, now=NOW, online=False, spamassassin=SA)
    (score,) = dict(report.by_area())["spam"]
    assert score.level is Level.OK
    assert score.what.startswith("SpamAssassin scores ")
    assert " of 5.0" in score.what


@needs_spamassassin
def test_spamassassin_names_the_rules_a_spammy_message_hits() -> None:
    assert SA is not None, "CI is set but spamassassin is missing: install Debian's spamassassin package"
    (score,) = spam.findings(SPAMMY, SA)
    assert score.level is Level.ERROR
    assert "SUBJ_ALL_CAPS +0.5 (Subject is all capitals)" in score.what
    assert "spam" in score.fix


def test_mailto_links_are_checked_for_syntax_without_the_network() -> None:
    html = (
        HEAD
        + '<a href="mailto:info@example.org?subject=Hi">Mail us</a><a href="mailto:info@@example">Oops</a>'
    )
    found = links.collect(page.read(html), "", None, unsubscribe=None, view=None)
    good, bad = links.findings(found, None)
    assert good.level is Level.OK
    assert good.what == "'Mail us' → mailto:info@example.org?subject=Hi: a valid address"
    assert bad.level is Level.ERROR
    assert bad.what.startswith("'Oops' → mailto:info@@example: not an address")


def test_the_archive_page_not_yet_published_is_only_a_warning() -> None:
    view = links.Link("https://example.org/archief/2026-01.html", "Bekijk", "the layout", "view in browser")
    other = links.Link("https://example.org/oud", "Oud", "issues/x.yaml:3 sections[0].link.url")
    gone = Answer(view.url, Outcome.ANSWERED, 404, view.url)
    assert links.finding(view, gone).level is Level.WARNING
    assert "newsletter archive" in links.finding(view, gone).fix
    assert links.finding(other, Answer(other.url, Outcome.ANSWERED, 404, other.url)).level is Level.ERROR
    # Members' pages and bot walls turn a program away: a warning, to open by hand.
    assert links.finding(other, Answer(other.url, Outcome.ANSWERED, 403, other.url)).level is Level.WARNING
