"""Data from the audience stays data: a merge value that is a link's address must be a link, a value
inside an address is percent-encoded, and no `javascript:` href can come out of the Composer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ENVELOPE
from issue_files import render, write_issue

from newsletter.composing import message
from newsletter.errors import MergeError, RenderError
from newsletter.model import Recipient, Rendered
from newsletter.model.links import merged_link_problem
from newsletter.model.merge import Field, link_problem
from newsletter.reading import recipients

DATE = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
ISSUE = """\
subject: Hallo {{ first_name | default('lezer') }}
preheader: P
language: nl
layout: default
sections:
  - type: intro
    body: |
      Bezoek [je site]({{ website }}) of [de zoekpagina](https://example.org/zoek?q={{ gemeente }}&x=1).
  - type: article
    title: Artikel
    body: Met [een standaard]({{ blog | default('https://example.org/blog') }}).
    link:
      url: https://example.org/p?e={{ email }}&g={{ gemeente }}
"""
BAD_LINKS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "http://example.org/",
    "ftp://example.org/",
    "//evil.example.org/",
    '"><script>alert(1)</script>',
    "https://example.org/ onmouseover=alert(1)",
    "https://example.org/\x00",
    "mailto:",
    "",
]


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(write_issue(tmp_path_factory.mktemp("links"), text=ISSUE))[1]


def reader(website: str, gemeente: str = "Genk", blog: str = "") -> Recipient:
    return Recipient(
        "jo@example.org", "Jo", fields=(("website", website), ("gemeente", gemeente), ("blog", blog))
    )


def hrefs(html: str) -> list[str]:
    soup = BeautifulSoup(html, "lxml")
    return [str(a["href"]) for a in soup.find_all(href=True)] + [
        str(i["src"]) for i in soup.find_all(src=True)
    ]


def composed_html(rendered: Rendered, recipient: Recipient) -> str:
    msg = message.parse(message.Composer(rendered, ENVELOPE, date=DATE).compose(recipient).data)
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_fields_at_the_start_of_an_href_are_recorded_as_link_fields(linked: Rendered) -> None:
    names = {f.name: f.default for f in linked.link_fields}
    assert names == {"website": None, "blog": "https://example.org/blog", "unsubscribe_url": None}
    inside = {f.name for f in linked.fields if f.where == "url"}
    assert inside == {"gemeente", "email"}


@pytest.mark.parametrize("value", BAD_LINKS)
def test_a_value_that_is_no_link_is_refused_by_the_composer_and_by_the_audience_check(
    linked: Rendered, value: str
) -> None:
    with pytest.raises(MergeError, match=r"\{\{ website \}\} is the address of a link"):
        message.Composer(linked, ENVELOPE, date=DATE).compose(reader(value))
    problem = link_problem(linked.link_fields, reader(value).merge_data())
    assert problem is not None
    assert "website" in problem


@pytest.mark.parametrize("value", BAD_LINKS)
def test_no_href_but_https_mailto_or_cid_can_come_out_of_a_preview(linked: Rendered, value: str) -> None:
    html = linked.sample_html({**reader(value).merge_data(), "unsubscribe_url": "https://example.org/u"})
    for href in hrefs(html):
        # tel: is the layout's own phone link in the footer.
        assert href.startswith(("https://", "mailto:", "cid:", "tel:", "#")), href
    assert "javascript:" not in html.lower()


@pytest.mark.parametrize(
    "value", ["https://jo.example.org/", "mailto:jo@example.org", "HTTPS://X.EXAMPLE.ORG/a?b=c&d=e"]
)
def test_a_good_link_value_is_the_href_as_written(linked: Rendered, value: str) -> None:
    assert link_problem(linked.link_fields, reader(value).merge_data()) is None
    assert value in hrefs(composed_html(linked, reader(value)))


@pytest.mark.parametrize(
    "value", ["javascript:alert(1)", 'a" onclick="alert(1)', "Sint Truiden & co#top", "é/ü?x=1"]
)
def test_a_value_inside_an_address_is_percent_encoded_and_cannot_change_it(
    linked: Rendered, value: str
) -> None:
    found = hrefs(composed_html(linked, reader("https://jo.example.org/", gemeente=value)))
    search = next(h for h in found if h.startswith("https://example.org/zoek?"))
    query = search.removeprefix("https://example.org/zoek?q=")
    encoded, rest = query.split("&", 1)
    assert rest == "x=1"
    assert all(c.isalnum() or c in "%-._~@" for c in encoded), encoded
    assert ":" not in encoded
    assert "#" not in search


def test_a_value_inside_an_address_is_encoded_in_the_plain_text_too(linked: Rendered) -> None:
    msg = message.parse(
        message.Composer(linked, ENVELOPE, date=DATE)
        .compose(reader("https://a.example.org/", "As & Bree"))
        .data
    )
    text = msg.get_body(("plain",))
    assert text is not None
    assert "https://example.org/p?e=jo@example.org&g=As%20%26%20Bree" in str(text.get_content())


def test_an_empty_link_value_takes_its_default_and_without_one_is_refused(linked: Rendered) -> None:
    data = reader("https://jo.example.org/", blog="").merge_data()
    assert link_problem(linked.link_fields, data) is None
    assert "https://example.org/blog" in hrefs(composed_html(linked, reader("https://jo.example.org/")))
    assert link_problem(linked.link_fields, reader("").merge_data()) is not None


def test_a_default_that_is_no_link_is_refused_when_the_issue_is_rendered(tmp_path: Path) -> None:
    text = ISSUE.replace("default('https://example.org/blog')", "default('javascript:alert(1)')")
    with pytest.raises(RenderError, match=r"blog \| default\('javascript:alert\(1\)'\).*address of a link"):
        render(write_issue(tmp_path, text=text))


def test_the_audience_check_skips_the_row_with_its_line_like_an_invalid_address(linked: Rendered) -> None:
    audience = recipients.parse(
        "email;website\n"
        "an@example.org;https://an.example.org/\n"
        "kapot;https://x.example.org/\n"
        "eve@example.org;javascript:alert(document.cookie)\n"
        "bert@example.org;mailto:bert@example.org\n"
        "carla@example.org;\n",
        "leden.csv",
    )
    audience.refuse(lambda r: link_problem(linked.link_fields, r.merge_data()))
    assert [r.email for r in audience] == ["an@example.org", "bert@example.org"]
    assert audience.count == 2
    assert [(s.line, s.email) for s in audience.skipped] == [
        (3, "kapot"),
        (4, "eve@example.org"),
        (6, "carla@example.org"),
    ]
    assert "{{ website }} is the address of a link" in audience.skipped[1].reason
    assert audience.first is not None
    assert audience.first.email == "an@example.org"


def test_the_merged_link_rule_is_the_issue_rule_narrowed_to_https_and_mailto() -> None:
    assert merged_link_problem("https://example.org/a?b=c%20d") is None
    assert merged_link_problem("mailto:info@example.org?subject=Hallo") is None
    for value in ("http://example.org/", "tel:+3211000000", "https://", "https:/example.org", "mailto:x"):
        assert merged_link_problem(value) is not None, value


def test_trusted_fields_filled_by_the_composer_are_not_checked() -> None:
    assert link_problem((Field("unsubscribe_url", where="link"),), {"unsubscribe_url": "#"}) is None
