"""`newsletter serve` in a subprocess on a free port of 127.0.0.1, driven by a real HTTP client (urllib),
and a project whose sample issue was really sent to 200 readers, whose messages' links the tests use.

    pytest_plugins = ["smtp_server", "endpoint_server"]

    def test_something(sent, served):             # serving the project of `sent` (module scope)
        answer = served.get(sent.tokens["lid007@example.org"])
        answer.status, answer.text, answer.header("Content-Security-Policy")

    with serving(folder, env) as endpoint: ...    # one of its own, with other settings

Plain helpers without asserts: the tests check what comes back.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from command import SENDING, environment, run, start
from conftest import audience_csv, copy_project

HOST = "127.0.0.1"
SECRET = "endpoint-test-secret"
LIST_ID = "nieuwsbrief-pom-limburg.example.org"  # the sample issue's layout, sent from example.org
READERS = [f"lid{i:03d}@example.org" for i in range(1, 201)]
PATH = "/uitschrijven"  # the path of SENDING's NEWSLETTER_UNSUBSCRIBE_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to look at, not one to follow."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def fetch(
    url: str, method: str = "GET", body: bytes | None = None, headers: Mapping[str, str] = {}
) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=30) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as e:
        with e:
            return Answer(e.code, e.headers, e.read())


@dataclass
class Endpoint:
    """A running `newsletter serve` and how to talk to it."""

    proc: subprocess.Popen[str]
    port: int
    folder: Path
    log: IO[str]
    path: str = PATH
    secret: str = SECRET

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, token: str | None, **params: str) -> str:
        query = {} if token is None else {"token": token}
        query.update(params)
        return f"{self.base}{self.path}?" + "&".join(f"{k}={quote(v, safe='@')}" for k, v in query.items())

    def get(
        self, token: str | None, method: str = "GET", headers: Mapping[str, str] = {}, **params: str
    ) -> Answer:
        return fetch(self.url(token, **params), method, headers=headers)

    def one_click(
        self, token: str, body: bytes | None = b"List-Unsubscribe=One-Click", content_type: str | None = None
    ) -> Answer:
        """The POST a mail provider sends for its unsubscribe button (RFC 8058)."""
        headers = {"Content-Type": content_type or "application/x-www-form-urlencoded"} if body else {}
        return fetch(self.url(token), "POST", body, headers)

    def press(self, token: str, headers: Mapping[str, str] = {}, **params: str) -> Answer:
        """The POST of the page's button, as a browser sends the form."""
        form = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return fetch(self.url(token, **params), "POST", b"confirm=yes", form)

    def output(self) -> str:
        """What it printed so far (or in all, once stopped)."""
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8")


def wait_for_port(proc: subprocess.Popen[str], port: int, timeout: float = 30) -> bool:
    """True once something accepts connections on the port; False if `proc` ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return True
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


@contextlib.contextmanager
def serving(folder: Path, env: Mapping[str, str], *args: str) -> Iterator[Endpoint]:
    """`newsletter serve` in `folder` on a free port, stopped as systemd stops it (SIGTERM) at the end."""
    port = free_port()
    log_path = folder / f"serve-{port}.log"
    with log_path.open("w+", encoding="utf-8") as log:
        proc = start(
            "serve", "--port", str(port), *args, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if not wait_for_port(proc, port):
                raise RuntimeError(f"newsletter serve ended at once:\n{log_path.read_text(encoding='utf-8')}")
            yield Endpoint(proc, port, folder, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve_env(**settings: str) -> dict[str, str]:
    """What `newsletter serve` is given: the sender's settings and SECRET (no mail server)."""
    return environment(SENDING, {"NEWSLETTER_SECRET": SECRET}, settings)


def unsubscribe_link(data: bytes) -> str:
    """The https link of a message's List-Unsubscribe header."""
    message = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    header = str(message["List-Unsubscribe"])
    return next(part.strip(" <>") for part in header.split(",") if "https://" in part)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


@dataclass
class Sent:
    """A scratch project whose sample issue was sent to READERS, with each reader's token."""

    folder: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return self.folder / "newsletter.sqlite3"


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    """The sample issue really sent to 200 readers through the test SMTP server, once per module."""
    # Imported here, after pytest has loaded it as a plugin (with its asserts rewritten).
    from smtp_server import Recorder, SMTPServer, running

    project = Sent(copy_project(tmp_path_factory.mktemp("sent")))
    audience_csv(project.folder / "leden.csv", READERS)
    with running(SMTPServer(Recorder())) as server:
        env = environment(SENDING, {"NEWSLETTER_SECRET": SECRET}, server.settings())
        done = run(
            "send", "issues/2026-01.yaml", "--recipients", "leden.csv", "--yes", cwd=project.folder, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"the send failed:\n{done.stdout}{done.stderr}")
        for arrival in server.recorder.messages:
            project.tokens[arrival.rcpts[0]] = token_of(unsubscribe_link(arrival.data))
    return project


@pytest.fixture(scope="module")
def served(sent: Sent) -> Iterator[Endpoint]:
    """`newsletter serve` for the project of `sent`, for the whole module."""
    with serving(sent.folder, serve_env()) as endpoint:
        yield endpoint
