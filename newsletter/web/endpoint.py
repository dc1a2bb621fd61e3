"""The unsubscribe endpoint as a WSGI application: the page a reader's link opens, the one-click
POST of RFC 8058 that Gmail's and Apple Mail's button sends, and the suppressions a sender on
another machine pulls.

    GET/HEAD <path>?token=…   a page that asks, with one button; changes nothing (link scanners)
    POST     <path>?token=…   unsubscribes: the page's button gets the confirmation page, anything
                              else (List-Unsubscribe=One-Click, empty, multipart…) a short 200
    GET      <path>/suppressions?since=…   with Authorization: Bearer <pull credential>: JSON

A link that does not verify changes nothing and is answered as a valid one is: the same status, a
page of the same shape, the same one-click answer. No cookie, no redirect, no login. Tokens and
whole addresses are never logged. The ledger is opened once per process and opened again after an
error, which is answered 503 while the process goes on serving.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from newsletter.composing.tokens import Reader, check_pull_credential
from newsletter.errors import LedgerError
from newsletter.ledger import Ledger
from newsletter.web import unsubscribe_pages
from newsletter.web.links import Link, LinkShape
from newsletter.web.looks import Look, Looks, accepted_language
from newsletter.web.readers import ONE_CLICK, PAGE, Readers, defer_old_link, masked, unsubscribe
from newsletter.web.unsubscribe_words import ONE_CLICK_ANSWER, WORDS

MAX_BODY = 64 * 1024
log = logging.getLogger("newsletter.web.endpoint")
StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]

# Every answer: nothing framed, cached, sniffed, indexed, or sent on as a referrer (the link holds a token).
_ALWAYS: Headers = [
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("X-Robots-Tag", "noindex, nofollow"),
]
_BAD_CREDENTIAL = "missing or bad credential: sign it with NEWSLETTER_SECRET, on a clock that is right"
_NOTHING = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class EndpointConfig:
    """What the endpoint needs, from the settings."""

    url: str  # NEWSLETTER_UNSUBSCRIBE_URL, as the messages carry it
    secrets: tuple[str, ...]  # NEWSLETTER_SECRET, then NEWSLETTER_PREVIOUS_SECRETS
    db: Path
    layouts_dir: Path
    issues_dir: Path | None = None  # NEWSLETTER_ISSUES: the pages' language when no delivery says it
    sender: str | None = None  # NEWSLETTER_FROM: the layouts' List-Ids end in its domain
    mailto: str | None = None  # NEWSLETTER_UNSUBSCRIBE_MAILTO, offered when a link cannot be used


@dataclass
class Response:
    status: str
    body: bytes
    content_type: str
    headers: Headers


def _plain(status: str, text: str, *extra: tuple[str, str]) -> Response:
    return Response(
        status, text.encode(), "text/plain; charset=utf-8", [("Content-Security-Policy", _NOTHING), *extra]
    )


def _json(status: str, value: object, *extra: tuple[str, str]) -> Response:
    body = json.dumps(value, ensure_ascii=False).encode()
    return Response(status, body, "application/json", [("Content-Security-Policy", _NOTHING), *extra])


class Endpoint:
    """The WSGI application. Safe to call from the threads of one process."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.shape = LinkShape.of(config.url)
        self.looks = Looks(config.layouts_dir, config.issues_dir)
        layout_lists = self.looks.learn_lists(config.sender) if config.sender else {}
        self.readers = Readers(config.secrets, layout_lists)
        self._lock = threading.Lock()
        self._ledger: Ledger | None = self._open()

    @property
    def path(self) -> str:
        return self.shape.path

    def lists(self) -> frozenset[str]:
        """The List-Ids the endpoint answers for now."""
        return self.readers.lists(self._use())

    def _open(self) -> Ledger:
        return Ledger(self.config.db)

    def _use(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                self._ledger = self._open()
            return self._ledger

    def _drop(self) -> None:
        """After a ledger error: closed, and opened anew by the next request (a file put right).

        Closed at once, not left to the garbage collector: a connection left open to a file that is
        then put back in place would share SQLite's locks with the new one and break it. A request
        in another thread that is between two statements on it then fails too (a 500, logged).
        """
        with self._lock:
            ledger, self._ledger = self._ledger, None
        if ledger is not None:
            with contextlib.suppress(LedgerError):
                ledger.close()

    def close(self) -> None:
        self._drop()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            response = self._answer(method, environ)
        except LedgerError as e:
            log.error("the ledger cannot be used, answered 503: %s", e)
            self._drop()
            language = accepted_language(str(environ.get("HTTP_ACCEPT_LANGUAGE", ""))) or "en"
            response = _plain(
                "503 Service Unavailable", WORDS[language]["busy"] + "\n", ("Retry-After", "120")
            )
        except Exception as e:  # noqa: BLE001 - one line without the message, which may hold a token
            where = traceback.extract_tb(e.__traceback__)[-1]
            log.error("answered 500: %s at %s:%s", type(e).__name__, Path(where.filename).name, where.lineno)
            response = _plain("500 Internal Server Error", "Something went wrong on our side.\n")
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *_ALWAYS,
            *response.headers,
        ]
        start_response(response.status, headers)
        return [b""] if method == "HEAD" else [response.body]

    def _answer(self, method: str, environ: dict[str, Any]) -> Response:
        path = _text(str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")))
        query = parse_qs(_text(str(environ.get("QUERY_STRING", ""))), keep_blank_values=True)
        if path == self.shape.pull_path:
            if method not in ("GET", "HEAD"):
                return _plain("405 Method Not Allowed", "Method not allowed.\n", ("Allow", "GET, HEAD"))
            return self._pull(query, str(environ.get("HTTP_AUTHORIZATION", "")))
        link = self.shape.read(path, query)
        if link is None:
            return _plain("404 Not Found", "Not found.\n")
        accept = str(environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        if method in ("GET", "HEAD"):
            return self._page(link, accept, _text(str(environ.get("QUERY_STRING", ""))))
        if method != "POST":
            return _plain("405 Method Not Allowed", "Method not allowed.\n", ("Allow", "GET, HEAD, POST"))
        body = _body(environ)
        if body is None:
            return _plain("413 Content Too Large", "The request is too large.\n")
        if _from_page(body, str(environ.get("CONTENT_TYPE", ""))):
            return self._confirm(link, accept)
        reader = self._reader(link)
        if reader is not None:
            self._unsubscribe(reader, ONE_CLICK)
        elif defer_old_link(self._use(), link.token, ONE_CLICK, dt.datetime.now(dt.UTC)):
            log.info("a one-click request with an old link, kept for the sender to match")
        else:
            log.info("a one-click request with a link that does not verify changed nothing")
        return _plain("200 OK", ONE_CLICK_ANSWER)

    def _reader(self, link: Link) -> Reader | None:
        return self.readers.identify(self._use(), link.token, link.email)

    def _unsubscribe(self, reader: Reader, source: str) -> None:
        changed = unsubscribe(self._use(), reader, source, dt.datetime.now(dt.UTC))
        what = "unsubscribed" if changed else "was unsubscribed already:"
        log.info("%s %s from %s (%s)", what, masked(reader.email), reader.list_id, source)

    def _page(self, link: Link, accept: str, query: str) -> Response:
        ledger = self._use()
        reader = self._reader(link)
        if reader is None:
            return self._html("cannot", self.looks.house(ledger, accept))
        look = self.looks.for_reader(ledger, reader, accept)
        state: unsubscribe_pages.State = "already" if ledger.is_suppressed(reader.email) else "ask"
        # The form posts to this very link: a relative "?query" keeps any path a proxy puts before it.
        action = f"?{query}" if state == "ask" else None
        return self._html(state, look, address=masked(reader.email), action=action)

    def _confirm(self, link: Link, accept: str) -> Response:
        ledger = self._use()
        reader = self._reader(link)
        if reader is None:
            log.info("a press of the page's button with a link that does not verify changed nothing")
            return self._html("cannot", self.looks.house(ledger, accept))
        self._unsubscribe(reader, PAGE)
        look = self.looks.for_reader(ledger, reader, accept)
        return self._html("done", look, address=masked(reader.email))

    def _html(self, state: unsubscribe_pages.State, look: Look, **kwargs: str | None) -> Response:
        nonce = secrets.token_urlsafe(18)
        page = unsubscribe_pages.render(state, look, mailto=self.config.mailto, nonce=nonce, **kwargs)
        policy = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return Response(
            "200 OK", page.encode(), "text/html; charset=utf-8", [("Content-Security-Policy", policy)]
        )

    def _pull(self, query: dict[str, list[str]], authorization: str) -> Response:
        since = (query.get("since") or [""])[0]
        scheme, _, credential = authorization.strip().partition(" ")
        now = int(time.time())
        if scheme.lower() != "bearer" or not check_pull_credential(
            credential, self.config.secrets, since, now
        ):
            return _json(
                "401 Unauthorized",
                {"error": _BAD_CREDENTIAL},
                ("WWW-Authenticate", 'Bearer realm="suppressions"'),
            )
        found = self._use().suppressions(since=since)
        rows = [
            {
                "email": s.email,
                "reason": s.reason,
                "source": s.source,
                "issue": s.issue,
                "detail": s.detail,
                "added_at": s.added_at,
            }
            for s in found
        ]
        old = [{"token": t, "source": source, "at": at} for t, source, at in self._use().old_links(since)]
        until = max([s.added_at for s in found] + [o["at"] for o in old], default=since)
        log.info("handed %d suppressions and %d old links to a sender", len(rows), len(old))
        return _json("200 OK", {"suppressions": rows, "old_links": old, "until": until})


def _text(wsgi: str) -> str:
    """A WSGI string (the request's bytes as Latin-1) as the UTF-8 text it is."""
    return wsgi.encode("latin-1", "replace").decode("utf-8", "replace")


def _body(environ: dict[str, Any]) -> bytes | None:
    """The request's body, at most MAX_BODY bytes; None if it is larger."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return None
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


def _from_page(body: bytes, content_type: str) -> bool:
    """Whether a POST is the page's own button (`confirm=yes`), not a mail client's one-click."""
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return False
    fields = parse_qs(body.decode("ascii", "replace"), keep_blank_values=True)
    return fields.get("confirm") == ["yes"] and "List-Unsubscribe" not in fields
