"""A browser that goes away while the preview is still answering (the page reloaded during a link
check, a tab closed) is normal: the preview says nothing about it, and certainly no traceback."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from link_server import LinkServer, link_issue, link_server
from preview_server import WAIT, serving

LINKS = Path("issues/links.yaml")


@pytest.fixture
def links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LinkServer]:
    with link_server(trustme.CA(), tmp_path) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        yield server


def _handlers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


def test_a_browser_that_hangs_up_during_the_link_check_leaves_no_traceback(
    project_dir: Path, links: LinkServer, capfd: pytest.CaptureFixture[str]
) -> None:
    link_issue(project_dir, links.base)
    with serving(project_dir, LINKS, link_timeout=1.0) as running:
        browser = socket.create_connection(("127.0.0.1", running.port), timeout=WAIT)
        browser.sendall(b"GET /check.json?links=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # Gone while the preview waits for the slow page: closed with a reset, as a browser
        # that drops a tab does.
        deadline = time.monotonic() + WAIT
        while not any(path == "/slow" for _, path in links.requests) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(path == "/slow" for _, path in links.requests)
        browser.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        browser.close()
        links.release.set()  # the slow page answers now: the preview writes to a browser that is gone
        for handler in _handlers():
            handler.join(WAIT * 3)
        assert not _handlers()
        # The preview goes on answering.
        assert running.get("/state.json")[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "ConnectionResetError" not in err
