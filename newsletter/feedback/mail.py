"""Reading one received mail with the stdlib `email` package, for mail that may be broken or hostile:
a header that cannot be read is an empty one, an address that is not one is none, a body in an
unknown charset is read as well as it can be."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr
from typing import Any

# A bare addr-spec: a local part without spaces or brackets, a dotted domain. Written so that no
# two ways match the same text: hostile headers are read in time linear in their length.
_LOCAL = re.compile(r"[^\s<>@\"(),;:\[\]]{1,64}")
_DOMAIN = re.compile(r"[\w-]{1,63}(?:\.[\w-]{1,63})+")
_MESSAGE_ID = re.compile(r"<([^<>\s@]+@[^<>\s]+)>")
# The longest address SMTP carries; a longer "address" is none.
_LONGEST = 254


# No header we read is longer (a DKIM signature is about 1,000 characters); the stdlib parses a header
# in time that grows faster than its length, and a hostile mail may carry one of a megabyte.
HEADER_LIMIT = 8192


class _Policy(EmailPolicy):
    """The stdlib's default policy, reading at most HEADER_LIMIT characters of a header."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        return super().header_fetch_parse(name, value[:HEADER_LIMIT])


POLICY = _Policy()


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=POLICY).parsebytes(data)
    assert isinstance(message, EmailMessage)  # what an EmailPolicy makes
    return message


def header(message: Message, name: str) -> str:
    """The header's value on one line, "" if it is absent or cannot be read."""
    try:
        value = message.get(name)
    # The stdlib's header parser has raised on hostile headers (IndexError, ValueError and others
    # over the years); a header it cannot read is one we do without.
    except Exception:  # noqa: BLE001
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def headers(message: Message, name: str) -> list[str]:
    """Every value of a header that may occur more than once (Delivered-To, Received)."""
    try:
        values = message.get_all(name) or []
    except Exception:  # noqa: BLE001 (see `header`)
        return []
    return [" ".join(str(v).split()) for v in values]


def address(text: str) -> str | None:
    """The address in "Name <a@example.org>", "rfc822; a@example.org" or "<a@example.org>", if any."""
    text = text.strip()[: 4 * _LONGEST]
    if ";" in text and "@" in text.partition(";")[2]:
        text = text.partition(";")[2]  # a DSN's address-type; before it
    spec = (parseaddr(text)[1] or text).strip().strip("<>")
    local, at, domain = spec.rpartition("@")
    if not at or len(spec) > _LONGEST or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        return None
    return spec


def addresses(message: Message, *names: str) -> list[str]:
    """The addresses in these headers, in order, each once."""
    found: list[str] = []
    for name in names:
        for value in headers(message, name):
            for _, spec in getaddresses([value]):
                bare = address(spec)
                if bare and bare.lower() not in (f.lower() for f in found):
                    found.append(bare)
    return found


def message_id(text: str) -> str | None:
    """The first <id@host> in a header's value, with its angle brackets."""
    found = _MESSAGE_ID.search(text)
    return f"<{found.group(1)}>" if found else None


def parts(message: Message) -> Iterator[Message]:
    """Every part, nested ones included; a part the parser could not walk is skipped."""
    try:
        yield from message.walk()
    except Exception:  # noqa: BLE001 (see `header`)
        return


def text_of(part: Message) -> str:
    """A text part's content as text; "" for anything else or what cannot be decoded."""
    try:
        payload = part.get_payload(decode=True)
        charset = part.get_content_charset() or "utf-8"
    except Exception:  # noqa: BLE001 (see `header`)
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(charset, errors="replace")
    except (LookupError, ValueError):  # a charset Python does not know, or not a name at all
        return payload.decode("utf-8", errors="replace")


_TAG = re.compile(r"<[^<>]*>")


def body_text(message: Message, limit: int = 20_000) -> str:
    """The mail's own words: its first text/plain part, or its first HTML part without the tags.

    Returned messages (message/rfc822) are not part of it.
    """
    html = ""
    for part in _own_parts(message):
        kind = part.get_content_type()
        if kind == "text/plain":
            return text_of(part)[:limit]
        if kind == "text/html" and not html:
            html = _TAG.sub(" ", text_of(part))
    return html[:limit]


def _own_parts(message: Message) -> Iterator[Message]:
    if message.get_content_maintype() == "multipart":
        payload = message.get_payload()
        for part in payload if isinstance(payload, list) else []:
            if isinstance(part, Message) and part.get_content_maintype() != "message":
                yield from _own_parts(part)
    else:
        yield message


def returned_headers(message: Message) -> Message | None:
    """The headers of the message a report returns (message/rfc822 or text/rfc822-headers), if any."""
    for part in parts(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return inner
        if kind in ("text/rfc822-headers", "text/global-headers"):
            return HeaderParser(policy=POLICY).parsestr(text_of(part), headersonly=True)
    return None
