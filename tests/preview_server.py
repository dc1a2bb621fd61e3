"""A preview server of a project's sample issue, serving in a thread, for test_preview.py and
test_preview_browser.py."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import ISSUE

from newsletter.rendering.project import Project
from newsletter.web.preview import Preview
from newsletter.web.preview_check import Checks
from newsletter.web.preview_http import PreviewServer, serve

SENDER = "Nieuwsbrief POM Limburg <nieuwsbrief@example.org>"
WAIT = 5.0  # seconds a change may take to show; the watcher polls every 0.1 s


@dataclass
class Running:
    """A preview server serving in a thread, and how to talk to it."""

    preview: Preview
    server: PreviewServer
    path: Path

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, host: str | None = None) -> tuple[int, str, bytes]:
        """Status, content type and body of a GET sent exactly as written (no normalising of '..'),
        with the Host header `host` instead of the address it was sent to, if given."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request("GET", path, headers={} if host is None else {"Host": host})
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            conn.close()

    def body(self, path: str, kind: str) -> str:
        """The body of GET `path`, which must answer 200 with a content type starting with `kind`."""
        status, content_type, body = self.get(path)
        assert status == 200
        assert content_type.startswith(kind)
        return body.decode()

    def text(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=WAIT) as response:
            assert response.status == 200
            return response.read().decode("utf-8")

    def state(self, recipient: int = 0) -> dict[str, object]:
        return json.loads(self.text(f"/state.json?r={recipient}"))

    def wait_for(self, check: Callable[[dict[str, object]], bool]) -> dict[str, object]:
        """Poll /state.json until `check` holds; the last state if it never did within WAIT."""
        deadline = time.monotonic() + WAIT
        state = self.state()
        while not check(state) and time.monotonic() < deadline:
            time.sleep(0.05)
            state = self.state()
        return state


@contextmanager
def serving(
    root: Path, issue: Path = ISSUE, *, link_timeout: float = 1.0, **kwargs: object
) -> Iterator[Running]:
    """A preview of `root`/`issue` (the sample issue unless told) served in a thread, its preflight
    waiting `link_timeout` seconds for each web server; stopped and closed on leaving."""
    path = root / issue
    project = Project(issues_dir=root / "issues", layouts_dir=root / "layouts")
    preview = Preview(project, path, sender=SENDER, interval=0.1, **kwargs)  # type: ignore[arg-type]
    server = serve(preview, "127.0.0.1", 0, Checks(preview, timeout=link_timeout))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="preview-test-server"
    )
    thread.start()
    try:
        yield Running(preview, server, path)
    finally:
        preview.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)
