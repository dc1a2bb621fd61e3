"""Header lines that cannot break or be broken: any name or subject folds into lines a server accepts,
control characters never reach the wire, and what a reader's mail program decodes is what was meant."""

from __future__ import annotations

import datetime as dt
import email.header
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ENVELOPE, T0
from issue_files import render, write_issue

from newsletter.composing import headers, message
from newsletter.delivering.loop import deliver
from newsletter.errors import MergeError
from newsletter.ledger import Counts, Ledger
from newsletter.model import Recipient, Rendered
from newsletter.sending.smtp import Security, SMTPSender

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

DATE = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
CONTROLS = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]))

STRANGE_NAMES = {
    "5000-ascii": "x" * 5000,
    "5000-words": "Jan " * 1250,
    "5000-accents": "Zoë Ünal " * 556,
    "emoji": "Zoë 😀👩‍👩‍👧 " * 40,
    "rtl-marks": "\u202eevil\u202c \u200fنور\u200e Peeters",
    "nul-esc-del": "An\x00 \x1b[31mRood\x7f\x85\u2028",
    "quote-backslash": 'Jo "de \\ Baas" Peeters',
    "specials": "Jo <boss@example.net>, Bcc: all@example.net; x",
    "line-break": "Eve\r\nBcc: everyone@example.net",
}


@pytest.fixture(scope="module")
def with_merged_subject(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Every section type; the subject holds {{ first_name }}."""
    return render(write_issue(tmp_path_factory.mktemp("subject")))[1]


def compose(rendered: Rendered, recipient: Recipient, envelope: message.Envelope = ENVELOPE) -> bytes:
    return message.Composer(rendered, envelope, date=DATE).compose(recipient).data


def head_of(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def unfolded(data: bytes, name: bytes) -> str:
    """The header `name` as a reader sees it: unfolded and, where encoded, decoded (RFC 2047)."""
    for line in head_of(data).replace(b"\r\n ", b" ").split(b"\r\n"):
        if line.startswith(name + b": "):
            raw = line[len(name) + 2 :].decode("ascii")
            return str(email.header.make_header(email.header.decode_header(raw)))
    raise AssertionError(f"no {name!r} header")


def display_name_on_the_wire(data: bytes) -> str:
    """The To display name as RFC 2047 decodes it: adjacent encoded words joined without a space."""
    for line in head_of(data).replace(b"\r\n ", b" ").split(b"\r\n"):
        if line.startswith(b"To: "):
            phrase = line[4:].decode("ascii").rpartition(" <")[0]
            decoded = str(email.header.make_header(email.header.decode_header(phrase)))
            if decoded.startswith('"') and decoded.endswith('"'):
                decoded = decoded[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            return decoded
    raise AssertionError("no To header")


def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


@pytest.mark.parametrize("name", STRANGE_NAMES.values(), ids=STRANGE_NAMES.keys())
def test_a_strange_name_composes_into_a_message_that_reads_back_with_the_right_to_address(
    with_merged_subject: Rendered, name: str
) -> None:
    recipient = Recipient(email="jo@example.org", first_name=name, name=name)
    data = compose(with_merged_subject, recipient)
    assert max(len(line) for line in lines_of(data)) <= 998
    head = head_of(data)
    assert head.isascii()
    assert not any(c in CONTROLS for c in head.decode("ascii").replace("\r\n", "")), "a raw control"
    parsed = message.parse(data)
    (to,) = parsed["To"].addresses
    assert to.addr_spec == "jo@example.org"
    assert parsed.defects == []
    expected = " ".join(headers.clean(name).split())
    assert display_name_on_the_wire(data) == expected
    assert unfolded(data, b"Subject") == f"Alles over CO₂ \u2013 voor {headers.clean(name).strip()}"
    assert "Bcc" not in parsed


def test_every_header_line_of_an_ordinary_message_fits_in_78_characters(
    with_merged_subject: Rendered,
) -> None:
    envelope = message.Envelope(**{**ENVELOPE.__dict__, "unsubscribe_mailto": "uitschrijven@example.org"})
    data = compose(with_merged_subject, Recipient("zoe@example.org", "Zoë", "Zoë Ünal"), envelope)
    too_long = [line for line in lines_of(head_of(data)) if len(line) > 78]
    # The https unsubscribe address cannot be folded: a URL has no spaces.
    assert [line for line in too_long if not line.startswith(b"List-Unsubscribe: <https://")] == []


@pytest.mark.parametrize(
    "subject_value",
    ["woord " * 300, "x" * 3000, "Zoë " * 700, "tab\tnul\x00esc\x1bdel\x7f"],
    ids=["long-words", "one-long-word", "long-accents", "controls"],
)
def test_a_long_or_dirty_merged_subject_folds_and_reads_back_cleaned(
    with_merged_subject: Rendered, subject_value: str
) -> None:
    data = compose(with_merged_subject, Recipient("jo@example.org", first_name=subject_value))
    subject = [line for line in lines_of(head_of(data)) if line.startswith(b"Subject:")]
    assert subject
    assert max(len(line) for line in lines_of(head_of(data)) if not line.startswith(b"List-Unsub")) <= 78
    expected = f"Alles over CO₂ \u2013 voor {headers.clean(subject_value).strip()}"
    assert message.parse(data)["Subject"] == expected
    assert unfolded(data, b"Subject") == expected


def test_long_ascii_subject_folds_at_spaces_and_stays_readable() -> None:
    text = headers.unstructured("Subject", "Nieuws " * 40)
    assert "=?" not in text
    assert max(len(line) for line in text.split("\r\n")) <= 78
    assert text.replace("\r\n ", " ").rstrip("\r\n") == "Subject: " + ("Nieuws " * 40).strip()


def test_list_unsubscribe_with_a_long_url_folds_at_the_comma(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path))
    url = "https://example.org/" + "a" * 800 + "?token={token}"
    envelope = message.Envelope(
        **{**ENVELOPE.__dict__, "unsubscribe_url": url, "unsubscribe_mailto": "uit@example.org"}
    )
    data = compose(rendered, Recipient("jo@example.org"), envelope)
    assert max(len(line) for line in lines_of(data)) <= 998
    https, mailto = (part.strip() for part in str(message.parse(data)["List-Unsubscribe"]).split(","))
    assert https.startswith("<https://example.org/aaaa")
    assert https.endswith(">")
    assert mailto == "<mailto:uit@example.org?subject=unsubscribe>"


def test_a_long_sender_name_folds_into_short_lines(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path))
    envelope = message.Envelope(
        **{**ENVELOPE.__dict__, "sender": f"{'Région Limbourg ' * 30}<info@example.org>"}
    )
    data = compose(rendered, Recipient("jo@example.org"), envelope)
    head = [line for line in lines_of(head_of(data)) if not line.startswith(b"List-Unsubscribe: <https")]
    assert max(len(line) for line in head) <= 78
    (sender,) = message.parse(data)["From"].addresses
    assert sender.addr_spec == "info@example.org"
    assert " ".join(sender.display_name.split()) == ("Région Limbourg " * 30).strip()


def test_an_address_that_was_never_checked_is_refused_not_written(with_merged_subject: Rendered) -> None:
    for address in ("jo@example.org\r\nBcc: all@example.net", "jo @example.org", "zoë\x00@example.org"):
        with pytest.raises(MergeError, match="not a checked address"):
            compose(with_merged_subject, Recipient(address))


def test_a_slug_with_spaces_makes_a_message_id_without_them() -> None:
    mid = message.message_id("nieuws januari", "l.example.org", "jo@example.org", "example.org")
    assert " " not in mid
    assert mid.startswith("<nieuws-januari.")
    assert message.message_id("2026-01", "l", "jo@example.org", "example.org").startswith("<2026-01.")


def test_clean_removes_controls_and_keeps_everything_else() -> None:
    assert headers.clean("Zoë 😀 \u202en\u200f") == "Zoë 😀 \u202en\u200f"
    assert headers.clean("a\tb\nc\x00d\x1be\x7ff\x9bg\u2028h") == "a b cdefg h"
    assert headers.clean(CONTROLS).strip() == ""


def test_encoded_words_hold_whole_characters_and_decode_back() -> None:
    text = "😀é" * 200
    words = headers.encoded_words(text)
    assert all(len(word) <= 75 for word in words)
    for word in words:  # each word decodes on its own: no character is cut in two
        ((data, charset),) = email.header.decode_header(word)
        assert isinstance(data, bytes)
        data.decode(charset or "ascii")
    assert str(email.header.make_header(email.header.decode_header(" ".join(words)))) == text


def test_strange_names_are_accepted_by_a_real_server_and_nobody_fails(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    people = [
        Recipient(f"r{i}@example.org", first_name=name, name=name)
        for i, name in enumerate(STRANGE_NAMES.values())
    ]
    ledger.start(rendered.slug, subject="s", content_hash="h", audience_source="t", recipients=people, now=T0)
    sender = SMTPSender("127.0.0.1", smtp_server.port, security=Security.NONE)
    report = deliver(message.Composer(rendered, ENVELOPE, date=T0), sender, ledger, sleep=lambda _: None)
    assert report.counts == Counts(audience=len(people), sent=len(people))
    assert smtp_server.recorder.copies() == Counter(p.email for p in people)
    assert {a.outcome for a in smtp_server.recorder.arrivals} == {"250 OK"}
    for arrival in smtp_server.recorder.messages:
        (to,) = message.parse(arrival.data)["To"].addresses
        assert to.addr_spec == arrival.rcpts[0]
