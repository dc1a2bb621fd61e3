"""One recipient's email from a rendered issue, without rendering anything again.

`Composer` prepares the whole MIME message once per issue (headers, boundaries, encoded images) and
fills in one recipient's parts per call: their merged HTML and text, To, Message-ID and
List-Unsubscribe. The result is the bytes an SMTP server receives. `build` parses those bytes into an
`EmailMessage` for callers that want to look inside; senders use the bytes.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import email.policy
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parseaddr
from typing import TYPE_CHECKING
from urllib.parse import quote

from newsletter.composing import headers
from newsletter.composing.tokens import (
    bounce_address,
    unsubscribe_token,
    verify_unsubscribe_token,  # noqa: F401 (re-exported)
)
from newsletter.errors import MergeError
from newsletter.model import Recipient, Rendered, address_key
from newsletter.model.merge import BadLink, Plan, html_escape, keep, resolve

if TYPE_CHECKING:
    # Only a run that signs imports dkimpy and cryptography (`config.dkim` makes the signer).
    from newsletter.composing.dkim import Signer

CRLF = b"\r\n"


@dataclass(frozen=True)
class Envelope:
    """Who sends the issue and how readers leave the list; the same for every recipient."""

    sender: str  # "POM Limburg <nieuwsbrief@example.org>"
    unsubscribe_url: str  # with {token} and/or {email}
    secret: str  # signs the unsubscribe tokens
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    list_id: str | None = None  # default: <slug of the list name>.<sender's domain>
    # The envelope sender (MAIL FROM), where bounces go: e.g. bounces+{token}@…, the tag of each
    # message's Message-ID in place of {token} (VERP). None: the From address.
    bounce_address: str | None = None
    # Signs every finished message (DKIM) where the relay does not; None: sent unsigned.
    dkim: Signer | None = None

    @property
    def domain(self) -> str:
        """The sender's domain in ASCII (an IDN in punycode): it ends every Message-ID and List-Id."""
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        return domain if domain.isascii() else domain.encode("idna").decode("ascii")

    def list_id_for(self, list_name: str) -> str:
        if self.list_id:
            return self.list_id
        # ASCII only (RFC 2919): accents dropped ("Région" → "region"), anything else a hyphen.
        ascii_name = unicodedata.normalize("NFKD", list_name.lower()).encode("ascii", "ignore").decode()
        label = "".join(c if c.isalnum() else "-" for c in ascii_name).strip("-")
        return f"{label or 'newsletter'}.{self.domain}"


@dataclass(frozen=True)
class Outgoing:
    """One message ready for the wire, with the envelope sender it goes out with (MAIL FROM)."""

    recipient: Recipient
    message_id: str
    data: bytes
    envelope_from: str


_ATOM = re.compile(r"[A-Za-z0-9._-]+")
_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9._ ()+-]+")


def _filename(name: str) -> str:
    """The filename parameter of an image part: quoted ASCII as it is, anything else (an accent, a
    quote) in RFC 2231's form, which mail programs decode; raw UTF-8 in a header breaks parsers."""
    if _PLAIN_FILENAME.fullmatch(name):
        return f'filename="{name}"'
    return f"filename*=utf-8''{quote(name, safe='')}"


def message_id(slug: str, list_id: str, email: str, domain: str) -> str:
    """The same for a resend of the issue to the same person, so mail clients see one message."""
    digest = hashlib.sha256(f"{list_id}\n{slug}\n{address_key(email)}".encode()).hexdigest()[:32]
    if not _ATOM.fullmatch(slug):
        # A file named "nieuws januari.yaml" must not put a space in the header.
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", slug).strip("-") or "issue"
    return f"<{slug}.{digest}@{domain}>"


def _address_lines(name: str, value: str) -> bytes:
    """From or Reply-To: each address of `value` ("Name <a@example.org>"), folded and encoded."""
    lines = [headers.address(name, *pair) for pair in getaddresses([value])]
    return "".join(lines).encode("ascii")


def _wire_address(email: str) -> bool:
    """Whether `email` can stand in a header as it is: printable, without spaces (what
    recipients.check_address gives; anything else was not checked). It may be international
    (`zoë@example.org`): such a message goes out only over SMTPUTF8, with the address in UTF-8."""
    return email.isprintable() and " " not in email and "<" not in email and ">" not in email


def _qp(text: str) -> bytes:
    """UTF-8, quoted-printable with CRLF lines: safe through any relay, readable in a raw view."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", CRLF)


SOFT_BREAK = b"=" + CRLF


class _EncodedPlan:
    """A plan whose literals are quoted-printable already; only the values are encoded per recipient.

    Each piece is encoded on its own and joined with soft line breaks ("=" CRLF), which a decoder
    removes: the decoded text is exactly the filled plan, at a fraction of encoding it whole. Each
    slot's value is escaped as its field's place needs (`escapes`, one per field; none: as it is).
    """

    def __init__(self, plan: Plan, escapes: tuple[Callable[[str], str], ...] | None = None) -> None:
        self.literals = [_qp(literal) for literal in plan.literals]
        self.slots = plan.slots
        self.escapes = tuple(escapes[slot] if escapes else keep for slot in plan.slots)

    def fill(self, values: tuple[str, ...]) -> bytes:
        if not self.slots:
            return self.literals[0]
        out = [self.literals[0]]
        pieces = zip(self.slots, self.escapes, self.literals[1:], strict=True)
        for slot, escape, literal in pieces:
            out += (SOFT_BREAK, _qp(escape(values[slot])), SOFT_BREAK, literal)
        return b"".join(out)


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


class Composer:
    """Prepares one issue's message once; `compose(recipient)` fills in one person's copy."""

    def __init__(self, rendered: Rendered, envelope: Envelope, *, date: dt.datetime) -> None:
        self.rendered = rendered
        self.envelope = envelope
        self.list_id = envelope.list_id_for(rendered.list_name)
        self.domain = envelope.domain
        self.from_address = parseaddr(envelope.sender)[1]
        self.subject_prefix = ""
        seed = hashlib.sha256(
            "".join(rendered.html.literals).encode() + "".join(rendered.text.literals).encode()
        ).hexdigest()[:24]
        # "=_" cannot occur in quoted-printable or base64 text, so no part can contain a boundary.
        self.alt_boundary = f"=_alt_{seed}"
        self.rel_boundary = f"=_rel_{seed}"
        self._fixed_head = self._prepare_fixed_head(date)
        self._mailto = self._prepare_mailto()
        self._subject: bytes | None = None
        if not rendered.subject.slots:
            # The same for everyone: folded and encoded once.
            self._subject = self._subject_line(())
        self._images = self._prepare_images()
        self._html = _EncodedPlan(rendered.html, tuple(html_escape(f) for f in rendered.fields))
        self._text = _EncodedPlan(rendered.text)

    def _prepare_fixed_head(self, date: dt.datetime) -> bytes:
        env = self.envelope
        lines = [_address_lines("From", env.sender)]
        if env.reply_to:
            lines.append(_address_lines("Reply-To", env.reply_to))
        lines.append(f"Date: {format_datetime(date)}".encode("ascii") + CRLF)
        # Only the name may be encoded: the <list-id> must stay readable for filters (RFC 2919).
        list_id = headers.clean(self.list_id).replace(" ", "")
        lines.append(headers.phrase_with_id("List-Id", self.rendered.list_name, list_id).encode("ascii"))
        lines.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" + CRLF)
        lines.append(b"MIME-Version: 1.0" + CRLF)
        lines.append(f'Content-Type: multipart/alternative; boundary="{self.alt_boundary}"'.encode() + CRLF)
        return b"".join(lines)

    def _prepare_mailto(self) -> bytes:
        """The mailto part of List-Unsubscribe, on a line of its own after the https one."""
        address = self.envelope.unsubscribe_mailto
        if not address:
            return b""
        uri = f"mailto:{quote(headers.clean(address).strip(), safe='@+')}?subject=unsubscribe"
        return f",{CRLF.decode()} <{uri}>".encode("ascii")

    def _subject_line(self, values: tuple[str, ...]) -> bytes:
        subject = self.subject_prefix + self.rendered.subject.fill(values)
        return headers.unstructured("Subject", subject).encode("ascii")

    def _prepare_images(self) -> bytes:
        parts = []
        for image in self.rendered.images:
            parts.append(
                f"--{self.rel_boundary}\r\n"
                f"Content-Type: {image.content_type}\r\n"
                f"Content-Transfer-Encoding: base64\r\n"
                f"Content-ID: <{image.cid}>\r\n"
                f"Content-Disposition: inline; {_filename(image.filename)}\r\n\r\n".encode()
                + _b64(image.data)
            )
        return b"".join(parts)

    def with_subject_prefix(self, prefix: str) -> Composer:
        """The same composer for test sends, whose subject starts with e.g. "[TEST] "."""
        twin = copy.copy(self)
        twin.subject_prefix = prefix
        if twin._subject is not None:
            twin._subject = twin._subject_line(())
        return twin

    def unsubscribe_url(self, email: str) -> str:
        token = unsubscribe_token(self.envelope.secret, self.list_id, email)
        url = self.envelope.unsubscribe_url.replace("{token}", token)
        return url.replace("{email}", quote(email, safe="@")) if "{email}" in url else url

    def compose(self, recipient: Recipient) -> Outgoing:
        """The message for one recipient, as bytes; raises MergeError for a missing merge field, a
        merge value that would make a bad link, or an address that was never checked."""
        rendered = self.rendered
        email = recipient.email
        if not _wire_address(email):
            raise MergeError(f"{email!r} is not a checked address; read the audience with recipients.load")
        unsubscribe = self.unsubscribe_url(email)
        data = recipient.merge_data()
        data["unsubscribe_url"] = unsubscribe
        data["view_url"] = rendered.view_url or ""
        try:
            values = resolve(rendered.fields, data)
        except KeyError as e:
            # Caught for the audience file before a send (campaign.check_audience); here only when
            # the delivery's recorded audience lacks the column, e.g. one added after it started.
            raise MergeError(
                f"{email}: the issue uses {{{{ {e.args[0]} }}}} without a default, and this recipient "
                f"has no {e.args[0]!r} (a delivery keeps the columns its audience had when it "
                f"started); write {{{{ {e.args[0]} | default('…') }}}} in the issue"
            ) from None
        except BadLink as e:
            raise MergeError(
                f"{email}: {e}; change the issue, or leave this address out with `newsletter suppress add`"
            ) from None
        mid = message_id(rendered.slug, self.list_id, email, self.domain)
        head = b"".join(
            (
                self._fixed_head,
                # UTF-8 only for an international address (RFC 6532), which goes out over SMTPUTF8.
                headers.address("To", recipient.name or recipient.first_name, email).encode(),
                f"Message-ID: {mid}\r\n".encode("ascii"),
                self._subject or self._subject_line(values),
                f"List-Unsubscribe: <{unsubscribe}>".encode("ascii"),
                self._mailto,
                CRLF,
            )
        )
        text = self._text.fill(values)
        html = self._html.fill(values)
        alt = self.alt_boundary
        body = [
            head,
            CRLF,
            f'--{alt}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode(),
            text,
            CRLF,
            f"--{alt}\r\n".encode(),
        ]
        html_head = (
            b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        )
        if self._images:
            rel = self.rel_boundary
            body += [
                f'Content-Type: multipart/related; boundary="{rel}"; type="text/html"\r\n\r\n'
                f"--{rel}\r\n".encode(),
                html_head,
                html,
                CRLF,
                self._images,
                f"--{rel}--\r\n".encode(),
            ]
        else:
            body += [html_head, html, CRLF]
        body.append(f"--{alt}--\r\n".encode())
        bounces = self.envelope.bounce_address
        wire = b"".join(body)
        if self.envelope.dkim is not None:
            # Last, over the message as it goes out: every per-recipient header and the subject prefix.
            wire = self.envelope.dkim.sign(wire)
        return Outgoing(
            recipient=recipient,
            message_id=mid,
            data=wire,
            envelope_from=bounce_address(bounces, mid) if bounces else self.from_address,
        )


def build(
    rendered: Rendered,
    recipient: Recipient,
    envelope: Envelope,
    *,
    date: dt.datetime,
) -> EmailMessage:
    """One recipient's complete message as an EmailMessage (parsed from what would be sent)."""
    outgoing = Composer(rendered, envelope, date=date).compose(recipient)
    return parse(outgoing.data)


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message
