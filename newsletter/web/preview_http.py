"""The preview's web server: the page, the email in its frames, its text, its state as JSON, its
preflight (/check.json, ?links=1 to ask the links), an event stream that says when a new version is
there, and the issue's image files.

The page shows subscribers' names and addresses, so the server answers only requests addressed to
the host it listens on: a web page elsewhere that points its own domain name at 127.0.0.1 (DNS
rebinding) sends its own name as Host and is refused. The email frames are sandboxed, and the email
is served with a policy that runs no script even when it is opened on its own.
"""

from __future__ import annotations

import ipaddress
import json
import mimetypes
import socket
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from newsletter.web.pages import PREVIEW_MISTAKE, PREVIEW_PAGE, render_page
from newsletter.web.preview import ASSETS, Preview
from newsletter.web.preview_check import Checks

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names of listening on every address, compared only


@dataclass(frozen=True)
class HostCheck:
    """Which Host headers the preview answers: the names of the address it listens on.

    Listening on every address (0.0.0.0), any IP address and this computer's own name are its names
    too; a domain name other than that is how a rebinding page gets in, an IP address never is.
    """

    names: frozenset[str]
    any_ip: bool = False

    @classmethod
    def listening_on(cls, host: str) -> HostCheck:
        host = host.strip("[]").lower()
        if host in WILDCARDS:
            own = {socket.gethostname().lower(), socket.getfqdn().lower()}
            return cls(LOOPBACK_NAMES | own, any_ip=True)
        return cls(LOOPBACK_NAMES | {host})

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        try:
            name = urlsplit(f"//{header}").hostname
        except ValueError:
            return False
        if name is None:
            return False
        if name in self.names:
            return True
        if not self.any_ip:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


def make_handler(
    preview: Preview, hosts: HostCheck | None = None, checks: Checks | None = None
) -> type[BaseHTTPRequestHandler]:
    check = hosts or HostCheck.listening_on("127.0.0.1")
    preflight = checks or Checks(preview)

    class Handler(BaseHTTPRequestHandler):
        server_version = "newsletter-preview"

        def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002 - stdlib hook
            return None  # quiet: the terminal is for the person writing

        def _send(
            self,
            body: bytes,
            content_type: str,
            status: HTTPStatus = HTTPStatus.OK,
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if not check.allows(self.headers.get("Host")):
                port = self.server.server_address[1]  # type: ignore[index]
                self._send(
                    f"This preview answers only at http://127.0.0.1:{port}/ (or the --host it was "
                    "started with).\n".encode(),
                    "text/plain; charset=utf-8",
                    HTTPStatus.FORBIDDEN,
                )
                return
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                index = int(query.get("r", ["0"])[0])
            except ValueError:
                index = 0
            if url.path == "/":
                page = render_page(PREVIEW_PAGE, file=str(preview.path))
                self._send(page.encode(), "text/html; charset=utf-8")
            elif url.path == "/email.html":
                body = preview.email_html(index, query.get("scheme", [""])[0] or None)
                # Opened on its own, outside the sandboxed frame, the email still runs nothing.
                self._send(
                    (body or render_page(PREVIEW_MISTAKE)).encode(),
                    "text/html; charset=utf-8",
                    extra={"Content-Security-Policy": "script-src 'none'; object-src 'none'"},
                )
            elif url.path == "/email.txt":
                text = preview.email_text(index)
                self._send((text or "\n".join(preview.snapshot.errors)).encode(), "text/plain; charset=utf-8")
            elif url.path == "/state.json":
                self._send(json.dumps(preview.state(index)).encode(), "application/json")
            elif url.path == "/check.json":
                online = query.get("links", ["0"])[0] == "1"
                self._send(json.dumps(preflight.state(index, online=online)).encode(), "application/json")
            elif url.path == "/events":
                self._events()
            elif url.path.startswith(ASSETS + "/"):
                made = preview.image(url.path)
                if made is not None:
                    self._send(made.data, made.content_type)
                    return
                found = preview.asset(url.path)
                if found is None:
                    self._send(b"not found", "text/plain", HTTPStatus.NOT_FOUND)
                    return
                kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
                self._send(found.read_bytes(), kind)
            else:
                self._send(b"not found", "text/plain", HTTPStatus.NOT_FOUND)

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            # The current version first: a change between the page's first fetch and this connection
            # (or while EventSource reconnected) would otherwise go unseen until the next save.
            version = preview.snapshot.version
            try:
                self.wfile.write(f"data: {version}\n\n".encode())
                self.wfile.flush()
                while not preview.stopped:
                    now = preview.wait_for_change(version, timeout=10)
                    if now != version:
                        version = now
                        self.wfile.write(f"data: {version}\n\n".encode())
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        """A browser that went away before its answer (a reload during a link check, a closed tab)
        is normal: nothing to say. Anything else is the standard library's traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def serve(
    preview: Preview, host: str = "127.0.0.1", port: int = 8000, checks: Checks | None = None
) -> PreviewServer:
    """Start the watcher and a server (not yet serving: call serve_forever, or run it in a thread)."""
    server = PreviewServer((host, port), make_handler(preview, HostCheck.listening_on(host), checks))
    threading.Thread(target=preview.watch, daemon=True, name="preview-watch").start()
    return server
