"""The endpoint's side of the pull protocol on 127.0.0.1, made of the real pieces: the credential
checked with `tokens.check_pull_credential` against the endpoint's secret, the rows read with
`Ledger(...).suppressions(since=…)` from a ledger file of its own (the other machine's), the answer
in JSON. A stand-in for `newsletter serve` until the tests can start that.

    pytest_plugins = ["suppressions_endpoint"]

    def test_something(suppressions_endpoint):
        with Ledger(suppressions_endpoint.db) as theirs: theirs.record(Feedback("unsubscribed", …))
        cli.run("suppress", "pull", NEWSLETTER_SUPPRESSIONS_URL=suppressions_endpoint.url)
        suppressions_endpoint.asked     # the `since` of every request, in order
        suppressions_endpoint.answers   # the status it gave each

`mode` makes it misbehave: "html" answers a web page, "hang" never answers (until the test ends),
"redirect" sends a 302 elsewhere. `start_endpoint(tls=True)` serves https with a certificate of a
CA that nobody trusts.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from newsletter.composing import tokens
from newsletter.ledger import Ledger

HOST = "127.0.0.1"
PATH = "/uitschrijven/suppressions"
SECRET = "endpoint-and-sender-share-this"


@dataclass
class Endpoint:
    """The stand-in's address, its ledger and secret, and what it was asked."""

    db: Path
    secret: str = SECRET
    mode: str = "protocol"
    url: str = ""
    asked: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET of `path`, as the protocol says."""
        parts = urlsplit(path)
        if parts.path != PATH:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        if self.mode == "hang":
            self.released.wait(60)
            return 503, {"Content-Type": "text/plain"}, b"too late"
        if self.mode == "html":
            return 200, {"Content-Type": "text/html"}, b"<html><body>Welkom</body></html>"
        if self.mode == "redirect":
            return 302, {"Location": "https://elders.example.org/suppressions"}, b""
        since = parse_qs(parts.query, keep_blank_values=True).get("since", [""])[0]
        self.asked.append(since)
        credential = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        if not tokens.check_pull_credential(credential, [self.secret], since, int(time.time())):
            return 401, {"Content-Type": "application/json"}, b'{"error": "not allowed"}'
        with Ledger(self.db) as ledger:
            rows = ledger.suppressions(since=since or None)
        body = {
            "suppressions": [
                {
                    "email": s.email,
                    "reason": s.reason,
                    "source": s.source,
                    "issue": s.issue,
                    "detail": s.detail,
                    "added_at": s.added_at,
                }
                for s in rows
            ],
            "until": max((s.added_at for s in rows), default=since),
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        endpoint = self.server.endpoint
        status, headers, body = endpoint.answer(self.path, self.headers.get("Authorization", ""))
        endpoint.answers.append(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: http.server would log each request to the test's stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__((HOST, 0), _Handler)
        self.endpoint = endpoint


@contextlib.contextmanager
def serving(endpoint: Endpoint, context: ssl.SSLContext | None = None) -> Iterator[Endpoint]:
    server = _Server(endpoint)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    scheme = "https" if context is not None else "http"
    endpoint.url = f"{scheme}://{HOST}:{server.server_address[1]}{PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.released.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def start_endpoint(tmp_path: Path) -> Iterator[Callable[..., Endpoint]]:
    """Start stand-ins: `start_endpoint(tls=False, secret=SECRET)`; each with a ledger of its own."""
    numbers = itertools.count(1)
    with contextlib.ExitStack() as stack:

        def start(*, tls: bool = False, secret: str = SECRET) -> Endpoint:
            folder = tmp_path / f"endpoint-{next(numbers)}"
            folder.mkdir()
            context = None
            if tls:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                trustme.CA().issue_cert(HOST, "localhost").configure_cert(context)
            return stack.enter_context(serving(Endpoint(folder / "ledger.sqlite3", secret), context))

        yield start


@pytest.fixture
def suppressions_endpoint(start_endpoint: Callable[..., Endpoint]) -> Endpoint:
    """One stand-in over plain http on 127.0.0.1, sharing SECRET with the sender."""
    return start_endpoint()
