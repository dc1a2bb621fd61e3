"""One recipient's message: merge fields, MIME structure, headers, unsubscribe, images and encoding."""

from __future__ import annotations

import datetime as dt
import email.header
import email.parser
import email.policy
import shutil
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, SAMPLE
from issue_files import PNG, render, write_issue

from newsletter.composing import message
from newsletter.errors import MergeError
from newsletter.model import Recipient, Rendered
from newsletter.model.merge import escape_html, resolve
from newsletter.rendering.project import Project

DATE = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
ENVELOPE = message.Envelope(
    sender="POM Limburg <nieuwsbrief@example.org>",
    unsubscribe_url="https://example.org/unsubscribe?token={token}",
    secret="test-secret",
)
JO = Recipient(email="jo@example.org", first_name="Jo", name="Jo Peeters")


@pytest.fixture(scope="module")
def sample() -> Rendered:
    return Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)[1]


@pytest.fixture(scope="module")
def with_image(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Every section type, with a local PNG embedded."""
    return render(write_issue(tmp_path_factory.mktemp("image")))[1]


def build(
    rendered: Rendered, recipient: Recipient = JO, envelope: message.Envelope = ENVELOPE
) -> EmailMessage:
    return message.build(rendered, recipient, envelope, date=DATE)


def html_part(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def text_part(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def unix(text: str) -> str:
    return text.replace("\r\n", "\n")


def expected(
    rendered: Rendered, recipient: Recipient, envelope: message.Envelope = ENVELOPE
) -> tuple[str, str]:
    """The HTML and text for `recipient`, filled straight from the plans (no MIME in between)."""
    data = recipient.merge_data()
    data["unsubscribe_url"] = message.Composer(rendered, envelope, date=DATE).unsubscribe_url(recipient.email)
    values = resolve(rendered.fields, data)
    return rendered.html.fill(values, escape_html), rendered.text.fill(values)


# -- merge fields --------------------------------------------------------------------------------


def test_first_name_is_html_escaped_in_html_and_raw_in_text(sample: Rendered) -> None:
    msg = build(sample, Recipient(email="jo@example.org", first_name="<b>&Jo"))
    assert "Beste &lt;b&gt;&amp;Jo," in html_part(msg)
    assert "<b>&Jo" not in html_part(msg)
    assert "Beste <b>&Jo," in text_part(msg)
    soup = BeautifulSoup(html_part(msg), "lxml")
    assert soup.find("b") is None
    assert "Beste <b>&Jo," in soup.get_text()


def test_default_is_used_for_an_empty_first_name(sample: Rendered) -> None:
    for first_name in ("", "   "):
        msg = build(sample, Recipient(email="jo@example.org", first_name=first_name))
        assert "Beste lezer," in html_part(msg)
        assert "Beste lezer," in text_part(msg)


def test_merge_fields_in_the_subject_are_filled(with_image: Rendered) -> None:
    assert build(with_image)["Subject"] == "Alles over CO₂ \u2013 voor Jo"
    assert (
        build(with_image, Recipient(email="x@example.org"))["Subject"] == "Alles over CO₂ \u2013 voor lezer"
    )


def test_missing_field_without_default_raises_merge_error_naming_it(tmp_path: Path) -> None:
    text = (
        "subject: Hallo\npreheader: P\nlanguage: nl\nlayout: default\nsections:\n"
        "  - type: intro\n    body: Beste klant van {{ company }}\n"
    )
    _, rendered = render(write_issue(tmp_path, text=text))
    with pytest.raises(MergeError) as caught:
        build(rendered, JO)
    assert "jo@example.org" in str(caught.value)
    assert "{{ company }}" in str(caught.value)
    assert "'company'" in str(caught.value)
    acme = Recipient(email="jo@example.org", fields=(("company", "Acme & Co"),))
    assert "Beste klant van Acme &amp; Co" in html_part(build(rendered, acme))


def test_builtin_field_without_default_is_empty_rather_than_missing(tmp_path: Path) -> None:
    text = (
        "subject: Hallo {{ first_name }}\npreheader: P\nlanguage: nl\nlayout: default\nsections:\n"
        "  - type: intro\n    body: Dag {{ first_name }}{{ name }}!\n"
    )
    _, rendered = render(write_issue(tmp_path, text=text))
    msg = build(rendered, Recipient(email="anoniem@example.org"))
    assert "Dag !" in text_part(msg)
    assert str(msg["Subject"]).strip() == "Hallo"


def test_merge_field_in_a_link_is_filled_per_recipient_percent_encoded(with_image: Rendered) -> None:
    # Inside an address a value is percent-encoded: a "+" in a query would read as a space.
    for recipient, shown in (
        (JO, "jo@example.org"),
        (Recipient(email="an+test@example.net"), "an%2Btest@example.net"),
    ):
        soup = BeautifulSoup(html_part(build(with_image, recipient)), "lxml")
        assert soup.find("a", href=f"https://example.org/p?e={shown}") is not None
        assert f"Lees het artikel: Artikeltitel met CO₂ https://example.org/p?e={shown}" in text_part(
            build(with_image, recipient)
        )


def test_a_field_fills_from_its_column_whatever_case_or_alias_it_is_written_in(tmp_path: Path) -> None:
    text = (
        "subject: Hallo {{ VOORNAAM }}\npreheader: P\nlanguage: nl\nlayout: default\nsections:\n"
        "  - type: intro\n    body: Dag {{ voornaam }} / {{ First_Name }} / {{ naam }} uit {{ Gemeente }}\n"
    )
    _, rendered = render(write_issue(tmp_path, text=text))
    an = Recipient("an@example.org", "An", "An Peeters", (("gemeente", "Genk"),))
    msg = build(rendered, an)
    assert "Dag An / An / An Peeters uit Genk" in text_part(msg)
    assert msg["Subject"] == "Hallo An"


MULTILINE = """\
subject: "Post voor {{ adres | default('u') }}"
preheader: P
language: nl
layout: default
sections:
  - type: intro
    body: "Uw adres: {{ adres | default('onbekend') }}"
  - type: image
    image: {src: images/dot.png, alt: "Kaart van {{ adres | default('Limburg') }}"}
"""


def test_a_line_break_in_a_value_is_a_br_in_html_text_and_a_line_break_in_plain_text(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path, text=MULTILINE))
    jo = Recipient("jo@example.org", fields=(("adres", "Kerkstraat 2\n3500 <Hasselt>"),))
    msg = build(rendered, jo)
    html = unix(html_part(msg))
    assert "Uw adres: Kerkstraat 2<br>\n3500 &lt;Hasselt&gt;" in html
    assert "Uw adres: Kerkstraat 2\n3500 <Hasselt>" in unix(text_part(msg))
    # In an attribute or the head, <br> would show as written: there the break stays whitespace.
    soup = BeautifulSoup(html, "lxml")
    (image,) = soup.find_all("img")
    assert image["alt"] == "Kaart van Kerkstraat 2\n3500 <Hasselt>"
    assert "<br>" not in str(soup.title)
    assert msg["Subject"] == "Post voor Kerkstraat 2 3500 <Hasselt>"


def test_an_international_address_stands_in_to_in_utf8(sample: Rendered) -> None:
    data = message.Composer(sample, ENVELOPE, date=DATE).compose(Recipient("zoë@example.org", "Zoë")).data
    head = data.split(b"\r\n\r\n", 1)[0]
    (line,) = [line for line in head.split(b"\r\n") if line.startswith(b"To: ")]
    assert line.endswith(" <zoë@example.org>".encode())  # raw UTF-8 (RFC 6532); the name encoded
    # As a mail program that speaks SMTPUTF8 reads it.
    parsed = email.parser.Parser(policy=email.policy.SMTPUTF8).parsestr(data.decode("utf-8"))
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë", "zoë@example.org")


# -- MIME structure and headers ------------------------------------------------------------------


def test_message_is_multipart_alternative_with_utf8_text_and_html(sample: Rendered) -> None:
    msg = build(sample)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    # The sample's logos and photo travel with the HTML, in a multipart/related beside the text.
    assert [p.get_content_type() for p in parts] == ["text/plain", "multipart/related"]
    related = list(parts[1].iter_parts())
    assert related[0].get_content_type() == "text/html"
    assert sorted(p.get_content_type() for p in related[1:]) == ["image/jpeg", "image/png", "image/png"]
    assert [p.get_content_charset() for p in (parts[0], related[0])] == ["utf-8", "utf-8"]
    assert msg.defects == []
    assert all(p.defects == [] for p in msg.walk())


def test_message_has_from_to_date_and_subject(sample: Rendered) -> None:
    msg = build(sample)
    assert parseaddr(str(msg["From"])) == ("POM Limburg", "nieuwsbrief@example.org")
    assert parseaddr(str(msg["To"])) == ("Jo Peeters", "jo@example.org")
    assert parsedate_to_datetime(str(msg["Date"])) == DATE
    assert msg["Subject"] == "Limburg op de internationale kaart: San Francisco, het spoor en Brainport"
    assert msg["MIME-Version"] == "1.0"


def test_non_ascii_subject_and_names_are_encoded_and_decode_back(with_image: Rendered) -> None:
    recipient = Recipient(email="zoe@example.org", first_name="Zoë", name="Zoë Ünal")
    envelope = message.Envelope(
        sender="Région Limbourg <info@example.org>",
        unsubscribe_url=ENVELOPE.unsubscribe_url,
        secret=ENVELOPE.secret,
    )
    outgoing = message.Composer(with_image, envelope, date=DATE).compose(recipient)
    head = outgoing.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "headers must be ASCII on the wire (RFC 2047)"
    subject = next(line for line in head.split(b"\r\n") if line.startswith(b"Subject: "))
    assert b"=?utf-8?" in subject
    decoded = str(email.header.make_header(email.header.decode_header(subject[9:].decode())))
    assert decoded == "Alles over CO₂ \u2013 voor Zoë"
    msg = message.parse(outgoing.data)
    assert msg["Subject"] == "Alles over CO₂ \u2013 voor Zoë"
    assert parseaddr(str(msg["To"])) == ("Zoë Ünal", "zoe@example.org")
    assert parseaddr(str(msg["From"])) == ("Région Limbourg", "info@example.org")


def test_message_id_is_stable_per_issue_and_recipient(sample: Rendered) -> None:
    first = build(sample)["Message-ID"]
    again = message.build(sample, JO, ENVELOPE, date=DATE + dt.timedelta(days=1))["Message-ID"]
    other = build(sample, Recipient(email="an@example.org"))["Message-ID"]
    upper = build(sample, Recipient(email="JO@example.org"))["Message-ID"]
    assert first == again == upper
    assert first != other
    assert first.startswith("<2026-01.")
    assert first.endswith("@example.org>")


def test_list_id_names_the_list_and_the_sender_domain(sample: Rendered) -> None:
    assert build(sample)["List-Id"] == "Nieuwsbrief POM Limburg <nieuwsbrief-pom-limburg.example.org>"
    own = message.Envelope(**{**ENVELOPE.__dict__, "list_id": "brief.example.net"})
    assert build(sample, envelope=own)["List-Id"] == "Nieuwsbrief POM Limburg <brief.example.net>"


def test_non_ascii_list_name_keeps_the_list_id_readable(tmp_path: Path) -> None:
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    shutil.copytree(ROOT / "layouts" / "default", layouts / "région")
    config = layouts / "région" / "layout.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("list_name: Newsletter", "list_name: Lettre de la Région"),
        encoding="utf-8",
    )
    path = write_issue(tmp_path, "région")
    _, rendered = Project(path.parent, layouts).render(path)
    outgoing = message.Composer(rendered, ENVELOPE, date=DATE).compose(JO)
    head = outgoing.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")  # unfolded
    list_id = next(line for line in head.split(b"\r\n") if line.startswith(b"List-Id: "))
    assert list_id.endswith(b" <lettre-de-la-region.example.org>")
    assert message.parse(outgoing.data)["List-Id"] == "Lettre de la Région <lettre-de-la-region.example.org>"


def test_list_unsubscribe_is_a_one_click_https_url(sample: Rendered) -> None:
    msg = build(sample)
    url = message.Composer(sample, ENVELOPE, date=DATE).unsubscribe_url(JO.email)
    assert url.startswith("https://example.org/unsubscribe?token=")
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The same address is the footer link of both parts.
    assert BeautifulSoup(html_part(msg), "lxml").find("a", href=url) is not None
    assert text_part(msg).rstrip().endswith(f"Uitschrijven: {url}")


def test_list_unsubscribe_adds_mailto_when_set(sample: Rendered) -> None:
    envelope = message.Envelope(**{**ENVELOPE.__dict__, "unsubscribe_mailto": "uitschrijven@example.org"})
    header = str(build(sample, envelope=envelope)["List-Unsubscribe"])
    https, mailto = (part.strip() for part in header.split(","))
    assert https.startswith("<https://example.org/unsubscribe?token=")
    assert mailto == "<mailto:uitschrijven@example.org?subject=unsubscribe>"


def test_unsubscribe_url_may_carry_the_address(sample: Rendered) -> None:
    envelope = message.Envelope(**{**ENVELOPE.__dict__, "unsubscribe_url": "https://example.org/u?e={email}"})
    msg = build(sample, Recipient(email="an+nieuws@example.org"), envelope)
    assert msg["List-Unsubscribe"] == "<https://example.org/u?e=an%2Bnieuws@example.org>"


def test_unsubscribe_token_verifies_only_for_its_address(sample: Rendered) -> None:
    composer = message.Composer(sample, ENVELOPE, date=DATE)
    token = composer.unsubscribe_url(JO.email).rsplit("=", 1)[1]
    assert message.verify_unsubscribe_token(ENVELOPE.secret, composer.list_id, JO.email, token)
    assert message.verify_unsubscribe_token(ENVELOPE.secret, composer.list_id, "JO@EXAMPLE.ORG", token)
    assert not message.verify_unsubscribe_token(ENVELOPE.secret, composer.list_id, "an@example.org", token)
    assert not message.verify_unsubscribe_token("other-secret", composer.list_id, JO.email, token)
    assert not message.verify_unsubscribe_token(ENVELOPE.secret, "other.example.org", JO.email, token)


def test_reply_to_is_set_when_configured(sample: Rendered) -> None:
    assert build(sample)["Reply-To"] is None
    envelope = message.Envelope(**{**ENVELOPE.__dict__, "reply_to": "redactie@example.org"})
    assert build(sample, envelope=envelope)["Reply-To"] == "redactie@example.org"


def test_test_sends_prefix_the_subject(sample: Rendered) -> None:
    composer = message.Composer(sample, ENVELOPE, date=DATE).with_subject_prefix("[TEST] ")
    assert str(message.parse(composer.compose(JO).data)["Subject"]).startswith("[TEST] Limburg op")


def test_wire_bytes_use_crlf_and_short_lines(with_image: Rendered) -> None:
    data = message.Composer(with_image, ENVELOPE, date=DATE).compose(JO).data
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert data.endswith(b"--\r\n")


# -- images --------------------------------------------------------------------------------------


def test_local_image_is_a_related_part_with_its_content_id(with_image: Rendered) -> None:
    msg = build(with_image)
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, picture = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert picture.get_content_type() == "image/png"
    assert picture.get_content() == PNG
    assert picture["Content-ID"] == f"<{with_image.images[0].cid}>"
    assert picture.get_content_disposition() == "inline"
    assert picture.get_filename() == "dot.png"
    srcs = {img["src"] for img in BeautifulSoup(html_part(msg), "lxml").find_all("img")}
    assert f"cid:{with_image.images[0].cid}" in srcs


def test_asset_base_url_leaves_no_image_part(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path), asset_base_url="https://cdn.example.org/nl")
    msg = build(rendered)
    assert [p.get_content_type() for p in msg.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    assert f"https://cdn.example.org/nl/{rendered.linked[0].path}" in html_part(msg)
    assert "cid:" not in html_part(msg)


# -- encoding ------------------------------------------------------------------------------------


def test_utf8_characters_survive_the_eml(sample: Rendered) -> None:
    msg = build(sample)
    for characters in ("CO₂", "regio\u2019s", "patiënt", "én"):
        assert characters in html_part(msg)
        assert characters in text_part(msg)


def test_eml_parts_equal_the_rendered_issue_filled_directly(sample: Rendered) -> None:
    msg = build(sample)
    html, text = expected(sample, JO)
    assert unix(html_part(msg)) == unix(html)
    assert unix(text_part(msg)) == unix(text)


@pytest.mark.parametrize(
    "first_name",
    [
        "a=b==c=3D=",
        "x" * 250,
        "Zoë " * 60,
        "Ünïcødé \u2019 CO₂ 😀",
        "spaties aan het eind   ",
        "tab aan het eind\t",
        " =\t= ",
        "<b>&amp;</b> \"'",
        ".",
    ],
    ids=[
        "equals",
        "long",
        "long-non-ascii",
        "non-ascii",
        "trailing-spaces",
        "trailing-tab",
        "mixed",
        "markup",
        "dot",
    ],
)
def test_quoted_printable_encoding_is_lossless(with_image: Rendered, first_name: str) -> None:
    recipient = Recipient(email="jo@example.org", first_name=first_name)
    msg = build(with_image, recipient)
    html, text = expected(with_image, recipient)
    assert unix(html_part(msg)) == unix(html)
    assert unix(text_part(msg)) == unix(text)
    assert f"Beste {first_name}, dit is de intro." in unix(text_part(msg))
