"""What an inbox shows before the email is opened, and what Gmail does with a long one: the subject's
and preheader's lengths, the HTML part's size against Gmail's clipping, and the ways to unsubscribe.

The figures are what inboxes were measured to show, not laws: a phone shows 30 to 40 characters of
the subject in portrait and up to about 60 on a wide one; desktop clients show 60 to 80. Preheaders
show from about 40 (a phone) to 130 characters (a wide desktop list).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

from newsletter.delivering.preflight.findings import Finding
from newsletter.delivering.preflight.page import Page
from newsletter.rendering.size import GMAIL_CLIP_BYTES, html_size

SUBJECT_PHONE = 40
SUBJECT_LONG = 60
PREHEADER_SHORT = 40
PREHEADER_LONG = 130
# Gmail clips at 102 KB; a warning from 90 KB leaves room for the longest names and a late edit.
SIZE_WARNING = 90 * 1024


def size(html: str) -> Iterator[Finding]:
    weight = html_size(html)
    said = f"the HTML is {weight / 1024:.1f} KB of Gmail's {GMAIL_CLIP_BYTES // 1024} KB"
    if weight > GMAIL_CLIP_BYTES:
        yield Finding.error(
            "size",
            said,
            fix="Gmail hides the end, the unsubscribe link with it, behind 'View entire message': shorten it",
        )
    elif weight >= SIZE_WARNING:
        yield Finding.warning("size", said, fix="close to clipping: a longer text or name tips it over")
    else:
        yield Finding.ok("size", said)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def subject(text: str, where: str = "subject") -> Iterator[Finding]:
    n = len(text)
    if n > SUBJECT_LONG:
        yield Finding.warning(
            "inbox",
            f"the subject is {n} characters; a phone shows about {SUBJECT_PHONE}: "
            f"{_cut(text, SUBJECT_PHONE)!r}",
            where,
            f"put what matters in the first {SUBJECT_PHONE} characters, or shorten it to {SUBJECT_LONG}",
        )
    else:
        yield Finding.ok("inbox", f"the subject is {n} characters (phones show about {SUBJECT_PHONE})")


def preheader(text: str, where: str = "preheader") -> Iterator[Finding]:
    n = len(text.strip())
    if n == 0:
        yield Finding.warning(
            "inbox", "there is no preheader", where, "inboxes then show the email's first words"
        )
    elif n < PREHEADER_SHORT:
        yield Finding.warning(
            "inbox",
            f"the preheader is {n} characters",
            where,
            f"inboxes show {PREHEADER_SHORT} to {PREHEADER_LONG}: the email's first words fill the rest",
        )
    elif n > PREHEADER_LONG:
        yield Finding.warning(
            "inbox",
            f"the preheader is {n} characters; inboxes show at most about {PREHEADER_LONG}",
            where,
            f"readers see {_cut(text, PREHEADER_LONG)!r}",
        )
    else:
        yield Finding.ok(
            "inbox", f"the preheader is {n} characters ({PREHEADER_SHORT} to {PREHEADER_LONG} show)"
        )


_ANGLED = re.compile(r"<([^>]+)>")


def unsubscribe_urls(message: EmailMessage) -> tuple[str | None, str | None]:
    """The https and mailto addresses of the message's List-Unsubscribe header."""
    header = " ".join(str(v) for v in message.get_all("List-Unsubscribe") or [])
    found = _ANGLED.findall(header)
    https = next((u for u in found if u.lower().startswith("https:")), None)
    mailto = next((u for u in found if u.lower().startswith("mailto:")), None)
    return https, mailto


def unsubscribe(message: EmailMessage, page: Page, text: str) -> Iterator[Finding]:
    """The reader's own unsubscribe address in the header, as a link in the HTML and in the text."""
    https, mailto = unsubscribe_urls(message)
    area = "unsubscribe"
    if https is None:
        yield Finding.error(
            area, "no https address in List-Unsubscribe", "headers", "set NEWSLETTER_UNSUBSCRIBE_URL"
        )
        return
    one_click = "One-Click" in str(message.get("List-Unsubscribe-Post", ""))
    ways = "https" + (" and mailto" if mailto else "") + (", one-click (RFC 8058)" if one_click else "")
    yield Finding.ok(area, f"List-Unsubscribe: {ways}")
    if not one_click:
        yield Finding.warning(
            area,
            "no List-Unsubscribe-Post header",
            "headers",
            "Gmail and Yahoo ask bulk senders for one-click",
        )
    if any((a.href or "").strip() == https for a in page.anchors):
        yield Finding.ok(area, "the HTML links to the reader's unsubscribe address")
    else:
        yield Finding.error(
            area,
            "the HTML has no link to the reader's unsubscribe address",
            "the layout's footer",
            'keep <a href="{{ merge.unsubscribe_url }}"> in the footer_links block',
        )
    if https in text:
        yield Finding.ok(area, "the plain text writes out the unsubscribe address")
    else:
        yield Finding.error(
            area, "the plain text has no unsubscribe address", "the layout's text part", "put it back"
        )
