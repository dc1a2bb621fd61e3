"""A web server on 127.0.0.1 for the preflight's link checker: HTTPS with a certificate from a test CA
(trustme), answering what links meet in the wild, and recording every request it gets.

Paths (the query is ignored): /ok 200; /moved 301 → /ok; /gone 404; /no-head 405 to HEAD and 200 to
GET; /loop-a and /loop-b redirect to each other; /slow answers only when the server stops (beyond any
client's timeout); /photo.png a 40x30 PNG. A server started with another CA is one no client trusts.
`link_issue` writes an issue whose sections link to each of them.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import trustme
from conftest import edit, png

PHOTO = png(40, 30)
_REDIRECTS = {"/moved": "/ok", "/loop-a": "/loop-b", "/loop-b": "/loop-a"}


@dataclass
class LinkServer:
    server: ThreadingHTTPServer
    ca_file: Path
    requests: list[tuple[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path


def _handler(state: list[LinkServer]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the requests are recorded instead."""

        def _answer(self, body: bool) -> None:
            me = state[0]
            me.requests.append((self.command, self.path))
            path = urlsplit(self.path).path
            if path == "/slow":
                me.release.wait(60)
            if path in _REDIRECTS:
                self.send_response(301 if path == "/moved" else 302)
                self.send_header("Location", _REDIRECTS[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path == "/no-head" and self.command == "HEAD":
                status, data, kind = 405, b"", "text/plain"
            elif path in ("/ok", "/no-head", "/slow"):
                status, data, kind = 200, b"<p>fine</p>", "text/html"
            elif path == "/photo.png":
                status, data, kind = 200, PHOTO, "image/png"
            else:
                status, data, kind = 404, b"not here", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    return

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

    return Handler


@contextmanager
def link_server(ca: trustme.CA, folder: Path) -> Iterator[LinkServer]:
    """A link server on a random free port with a certificate for 127.0.0.1 signed by `ca`, whose
    certificate is written to folder/ca.pem (point SSL_CERT_FILE there to trust it)."""
    state: list[LinkServer] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    running = LinkServer(server, ca_file)
    state.append(running)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="link-server")
    thread.start()
    try:
        yield running
    finally:
        running.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def link_issue(folder: Path, base: str) -> Path:
    """An English issue whose sections link to every kind of page of the link server; the layout's
    website link goes there too, so that no test asks a name of the system's resolver."""
    edit(
        folder / "layouts" / "default" / "layout.yaml", "website: https://example.org", f"website: {base}/ok"
    )
    path = folder / "issues" / "links.yaml"
    path.write_text(
        f"""subject: Links to check before the send
preheader: Every kind of answer a link meets, from a fine page to one that never answers.
language: en
layout: default
sections:
  - type: intro
    body: |
      Dear {{{{ first_name | default('reader') }}}}, see [our page]({base}/ok)
      and [the old one]({base}/moved).
  - type: article
    title: A page that is gone
    body: Nobody wrote it down.
    link:
      url: {base}/gone
      label: Read the gone page
  - type: article
    title: A server that knows no HEAD
    body: It answers GET.
    link:
      url: {base}/no-head
  - type: article
    title: A page that never answers
    body: It takes its time.
    link:
      url: {base}/slow
  - type: button
    label: Round and round
    url: {base}/loop-a
  - type: image
    image:
      src: {base}/photo.png
      alt: A red rectangle
      width: 400
""",
        encoding="utf-8",
    )
    return path
