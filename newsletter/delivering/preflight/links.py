"""Every link of the email, asked once: the addresses of the HTML and the plain text, deduplicated,
checked in parallel, and each answer turned into a finding with the link's text and place.

Levels: a 4xx or 5xx, a dead host, a redirect loop or a certificate problem is an error (the reader
lands nowhere); a timeout is a warning (the server may be slow just now: check it by hand); 401, 403
and 429 are warnings too, as they are how members' pages and bot walls answer a program. The
view-in-browser page is published with the archive, often after the send: its 404 is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from newsletter.delivering.preflight.findings import Finding
from newsletter.delivering.preflight.page import Page
from newsletter.delivering.preflight.places import Places
from newsletter.delivering.preflight.web import Answer, Outcome

AREA = "links"
WORKERS = 8
_IN_TEXT = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_SOFT = {401, 403, 429}


@dataclass
class Link:
    """One address and what is known of where it stands: its text in the email and its place."""

    url: str
    label: str = ""
    where: str = ""
    role: str = ""  # "unsubscribe", "view in browser" or ""


def collect(
    page: Page, text: str, places: Places | None, *, unsubscribe: str | None, view: str | None
) -> list[Link]:
    """The email's http(s) and mailto addresses, each once, in the order they first appear."""
    found: dict[str, Link] = {}

    def add(url: str, label: str, fallback: str) -> None:
        if url in found:
            if label and not found[url].label:
                found[url].label = label
            return
        role = "unsubscribe" if url == unsubscribe else "view in browser" if url == view else ""
        where = (places.of_link(url) if places else None) or (f"the layout ({role})" if role else fallback)
        found[url] = Link(url, label, where, role)

    for anchor in page.anchors:
        url = (anchor.href or "").strip()
        if url.lower().startswith(("http://", "https://", "mailto:")):
            add(url, anchor.label, f"the layout, HTML line {anchor.line}")
    for match in _IN_TEXT.finditer(text):
        add(match.group(0).rstrip(".,;:!?)"), "", "the plain text")
    return list(found.values())


def _shown(link: Link) -> str:
    return f"{link.label!r} → {link.url}" if link.label and link.label != link.url else link.url


def _mailto(link: Link) -> Finding:
    address = link.url[len("mailto:") :].split("?", 1)[0]
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as e:
        return Finding.error(AREA, f"{_shown(link)}: not an address ({e})", link.where, "correct it")
    return Finding.ok(AREA, f"{_shown(link)}: a valid address", link.where)


def finding(link: Link, answer: Answer) -> Finding:
    """What one link's answer means for the reader who clicks it."""
    shown, where = _shown(link), link.where
    moved = f", ends at {answer.final}" if answer.final and answer.final != link.url else ""
    if answer.outcome is Outcome.TIMEOUT:
        return Finding.warning(
            AREA, f"{shown}: {answer.reason}", where, "open it by hand: the server is slow"
        )
    if answer.outcome is Outcome.TLS:
        return Finding.error(AREA, f"{shown}: {answer.reason}", where, "browsers will warn the reader")
    if answer.outcome is Outcome.UNREACHABLE:
        return Finding.error(AREA, f"{shown}: {answer.reason}", where, "check the address")
    if answer.outcome in (Outcome.LOOP, Outcome.TOO_MANY):
        what = f"{shown}: redirect {answer.outcome.value if answer.outcome is Outcome.TOO_MANY else 'loop'}"
        return Finding.error(AREA, f"{what} ({answer.reason})", where, "link to the page's final address")
    status = answer.status or 0
    said = f"{shown}: {status}{moved}"
    if status < 400:
        return Finding.ok(AREA, said, where)
    if link.role == "view in browser" and status == 404:
        return Finding.warning(
            AREA, said, where, "publish the archive (newsletter archive) before readers click"
        )
    if status in _SOFT:
        return Finding.warning(AREA, said, where, "the server turned the checker away: open it by hand")
    return Finding.error(AREA, said, where, "correct the address or remove the link")


def findings(
    links: list[Link], ask: Callable[[str], Answer] | None, *, skip: frozenset[str] = frozenset()
) -> Iterator[Finding]:
    """A finding per link; `ask` answers an http(s) address over the network (None: offline)."""
    web = [link for link in links if not link.url.lower().startswith("mailto:") and link.url not in skip]
    for link in links:
        if link.url.lower().startswith("mailto:"):
            yield _mailto(link)
        elif link.url in skip:
            yield Finding.warning(
                AREA,
                f"{_shown(link)}: not checked, an example address",
                link.where,
                "set NEWSLETTER_UNSUBSCRIBE_URL to the real one",
            )
    if ask is None:
        for link in web:
            yield Finding.ok(AREA, f"{_shown(link)}: not asked (offline)", link.where)
        return
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="preflight-link") as pool:
        answers = list(pool.map(ask, [link.url for link in web]))
    for link, answer in zip(web, answers, strict=True):
        yield finding(link, answer)
