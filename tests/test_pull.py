"""The pull's client (`feedback.pull`) against the endpoint's side on 127.0.0.1: what a misbehaving
endpoint is told as, and NEWSLETTER_SUPPRESSIONS_URL checked (`config.pull`)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import T0

from newsletter.config import Settings
from newsletter.config.pull import suppressions_endpoint, suppressions_url
from newsletter.errors import ConfigError, PullError
from newsletter.feedback.pull import Endpoint, fetch, pull
from newsletter.ledger import Ledger

if TYPE_CHECKING:
    from suppressions_endpoint import Endpoint as StandIn

pytest_plugins = ["suppressions_endpoint"]

SECRET = "endpoint-and-sender-share-this"


def _endpoint(stand_in: StandIn, timeout: float = 15.0) -> Endpoint:
    return Endpoint(stand_in.url, SECRET, timeout)


def test_a_pull_merges_with_the_reason_source_issue_words_and_time_of_the_other_machine(
    suppressions_endpoint: StandIn, ledger: Ledger
) -> None:
    with Ledger(suppressions_endpoint.db) as theirs:
        theirs.suppress(
            ["gone@example.com"],
            "bounced",
            T0,
            source="mailbox",
            issue="2026-01",
            detail="550 5.1.1 no such user",
        )
    pulled = pull(_endpoint(suppressions_endpoint), ledger, T0 + dt.timedelta(days=1))
    assert (pulled.fetched, pulled.new, pulled.until) == (1, 1, "2026-01-20T09:00:00.000+00:00")
    (merged,) = ledger.suppressions()
    assert merged.email == "gone@example.com"
    assert (merged.reason, merged.source, merged.issue, merged.detail, merged.added_at) == (
        "bounced",
        "mailbox (pulled from 127.0.0.1)",
        "2026-01",
        "550 5.1.1 no such user",
        "2026-01-20T09:00:00.000+00:00",
    )


def test_an_endpoint_that_does_not_answer_in_time_is_a_pull_error(suppressions_endpoint: StandIn) -> None:
    suppressions_endpoint.mode = "hang"
    with pytest.raises(PullError) as caught:
        fetch(_endpoint(suppressions_endpoint, timeout=0.5), "")
    assert caught.value.reason == "the endpoint did not answer within 0.5 seconds; try again later"


def test_a_redirect_is_not_followed_with_the_credential(suppressions_endpoint: StandIn) -> None:
    suppressions_endpoint.mode = "redirect"
    with pytest.raises(PullError) as caught:
        fetch(_endpoint(suppressions_endpoint), "")
    assert caught.value.reason == (
        "the endpoint redirects (302) to https://elders.example.org/suppressions: set it to that address"
    )


def test_a_wrong_path_says_what_the_address_is_made_of(suppressions_endpoint: StandIn) -> None:
    with pytest.raises(PullError) as caught:
        fetch(Endpoint(suppressions_endpoint.url.removesuffix("/suppressions"), SECRET), "")
    assert caught.value.reason.startswith("the endpoint answered 404 Not Found: the address is the path of")


@pytest.fixture
def answering() -> Iterator[Callable[[int, str, bytes], str]]:
    """A server on 127.0.0.1 that gives every GET the status, content type and body it is set up with."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, kind: str, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: http.server would log each request to the test's stderr."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/uitschrijven/suppressions"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            200,
            b"{}",
            "the answer is JSON but not the endpoint's list of suppressions (suppressions: Field required)",
        ),
        (
            200,
            json.dumps(
                {"suppressions": [{"email": "geen adres", "reason": "x", "added_at": "2026-01-20"}]}
            ).encode(),
            "the answer is JSON but not the endpoint's list of suppressions (suppressions.0.email: "
            "'geen adres' is not an address)",
        ),
        (
            200,
            json.dumps(
                {"suppressions": [{"email": "a@example.org", "reason": "x", "added_at": "gisteren"}]}
            ).encode(),
            "the answer is JSON but not the endpoint's list of suppressions (suppressions.0.added_at: "
            "'gisteren' is not an ISO time)",
        ),
        (
            500,
            b"{}",
            "the endpoint answered 500 Internal Server Error: try again later, or look at the endpoint's log",
        ),
    ],
)
def test_an_answer_that_is_not_the_protocols_changes_nothing(
    answering: Callable[[int, str, bytes], str], ledger: Ledger, status: int, body: bytes, reason: str
) -> None:
    url = answering(status, "application/json", body)
    with pytest.raises(PullError) as caught:
        pull(Endpoint(url, SECRET), ledger, T0)
    assert caught.value.reason == reason
    assert str(caught.value) == f"NEWSLETTER_SUPPRESSIONS_URL={url}: {reason}"
    assert ledger.suppressions() == []
    assert ledger.note(Endpoint(url, SECRET).note) is None


def test_until_missing_from_the_answer_is_the_latest_row(
    answering: Callable[[int, str, bytes], str], ledger: Ledger
) -> None:
    rows = [
        {"email": "a@example.org", "reason": "unsubscribed", "added_at": "2026-01-20T09:00:00.000+00:00"},
        {
            "email": "b@example.org",
            "reason": "unsubscribed",
            "added_at": "2026-01-21T09:00:00.000+00:00",
            "new": 1,
        },
    ]
    url = answering(200, "application/json", json.dumps({"suppressions": rows}).encode())
    pulled = pull(Endpoint(url, SECRET), ledger, T0)
    assert (pulled.new, pulled.until) == (2, "2026-01-21T09:00:00.000+00:00")
    assert ledger.note(Endpoint(url, SECRET).note) == "2026-01-21T09:00:00.000+00:00"
    assert {s.source for s in ledger.suppressions()} == {"endpoint (pulled from 127.0.0.1)"}


def test_nothing_listens_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PullError) as caught:
        fetch(Endpoint(f"http://127.0.0.1:{port}/uitschrijven/suppressions", SECRET), "")
    assert (
        caught.value.reason
        == f"nothing answers at 127.0.0.1:{port} (connection refused): is the endpoint running?"
    )


# -- the setting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "url"),
    [
        (
            "https://nieuws.example.org/uitschrijven/suppressions",
            "https://nieuws.example.org/uitschrijven/suppressions",
        ),
        (
            " https://nieuws.example.org:8443/u/suppressions ",
            "https://nieuws.example.org:8443/u/suppressions",
        ),
        (
            "https://nieuwsbrief.bücher.example/afmelden/suppressions",
            "https://nieuwsbrief.xn--bcher-kva.example/afmelden/suppressions",
        ),
        (
            "https://nieuws.example.org/afmélden/suppressions",
            "https://nieuws.example.org/afm%C3%A9lden/suppressions",
        ),
        (
            "http://127.0.0.1:8080/uitschrijven/suppressions",
            "http://127.0.0.1:8080/uitschrijven/suppressions",
        ),
        ("http://localhost/uitschrijven/suppressions", "http://localhost/uitschrijven/suppressions"),
    ],
)
def test_the_suppressions_url_is_requested_in_ascii(value: str, url: str) -> None:
    assert suppressions_url(value) == url


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://nieuws.example.org/suppressions", "must be an https:// address"),
        ("ftp://nieuws.example.org/suppressions", "is not a web address with a host"),
        ("https:///suppressions", "is not a web address with a host"),
        ("https://nieuws.example.org/a b", "holds a space, a quote or <>"),
        ("https://nieuws.example.org:99999/suppressions", "the port is not a number from 1 to 65535"),
    ],
)
def test_a_suppressions_url_that_cannot_be_used_is_a_config_error(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        suppressions_url(value)
    assert str(caught.value).startswith("NEWSLETTER_SUPPRESSIONS_URL")
    assert message in str(caught.value)


def test_the_endpoint_needs_the_secret_and_is_none_without_the_setting(project_dir: Path) -> None:
    assert suppressions_endpoint(Settings()) is None
    url = "https://nieuws.example.org/uitschrijven/suppressions"
    with pytest.raises(ConfigError, match="set NEWSLETTER_SECRET too, the same as the endpoint's"):
        suppressions_endpoint(Settings(suppressions_url=url))
    endpoint = suppressions_endpoint(Settings(suppressions_url=url, secret=SECRET))  # type: ignore[arg-type]
    assert endpoint is not None
    assert (endpoint.url, endpoint.secret, endpoint.host) == (url, SECRET, "nieuws.example.org")
