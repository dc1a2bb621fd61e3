"""The preview's preflight panel: /check.json (quick, kept per version; ?links=1 asks every link) and
the panel in headless Chromium, against the HTTPS link server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from conftest import FIRST_TITLE, ISSUE, edit, line_of, needs_chromium
from link_server import LinkServer, link_issue, link_server
from playwright.sync_api import Browser, expect
from preview_server import Running, serving

LINKS = Path("issues/links.yaml")


@pytest.fixture
def links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LinkServer]:
    """The link server, trusted by this process's certificate checks."""
    with link_server(trustme.CA(), tmp_path) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        yield server


def _check(running: Running, query: str = "") -> dict[str, object]:
    return json.loads(running.text("/check.json" + query))


def _lines(report: dict[str, object]) -> list[str]:
    areas = report["areas"]
    assert isinstance(areas, list)
    return [f"{f['level']}: {f['what']} at {f['where']}" for a in areas for f in a["findings"]]


def test_the_quick_check_asks_no_link_and_is_kept_per_version(project_dir: Path, links: LinkServer) -> None:
    issue = link_issue(project_dir, links.base)
    with serving(project_dir, LINKS) as running:
        report = _check(running)
        assert report["online"] is False
        assert report["mistakes"] == []
        assert report["version"] == running.state()["version"]
        assert _check(running) == report
        lines = _lines(report)
        gone = next(line for line in lines if "/gone" in line)
        assert gone.startswith("ok:")
        assert "not asked (offline)" in gone
        assert f"links.yaml:{line_of(issue, '/gone')} sections[1].link.url" in gone
        # No spam score in the quick check: it takes seconds.
        assert not any(a["area"] == "spam" for a in report["areas"])  # type: ignore[union-attr]
    assert links.requests == []


def test_the_full_check_reports_the_broken_link(project_dir: Path, links: LinkServer) -> None:
    link_issue(project_dir, links.base)
    with serving(project_dir, LINKS) as running:
        report = _check(running, "?links=1")
    assert report["online"] is True
    gone = next(line for line in _lines(report) if "/gone" in line)
    assert gone.startswith("error:")
    assert ": 404" in gone
    assert ("GET", "/gone") in links.requests
    assert isinstance(report["errors"], int)
    assert report["errors"] >= 2  # the 404 and the redirect loop


def test_a_mistake_shows_instead_of_findings(project_dir: Path) -> None:
    with serving(project_dir) as running:
        edit(project_dir / ISSUE, f"title: {FIRST_TITLE}", "titel: oops")
        running.wait_for(lambda state: state["ok"] is False)
        report = _check(running)
    mistakes = report["mistakes"]
    assert isinstance(mistakes, list)
    assert any("titel" in m for m in mistakes)
    assert report["areas"] == []


@needs_chromium
def test_the_panel_lists_warnings_and_the_button_asks_the_links(
    browser: Browser, project_dir: Path, links: LinkServer
) -> None:
    link_issue(project_dir, links.base)
    with serving(project_dir, LINKS) as running:
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.goto(running.url + "/")
        expect(page.locator("#check-summary")).to_contain_text("links not asked yet")
        # The quick check lists what needs a look (a remote image without height), no ok lines.
        photo = page.locator("#check-list li.warning", has_text="photo.png")
        expect(photo).to_contain_text("no width or height")
        expect(page.locator("#check-list li.ok")).to_have_count(0)
        page.click("#check-links")
        expect(page.locator("#check-summary")).to_contain_text("(links asked)", timeout=30_000)
        gone = page.locator("#check-list li.error", has_text="/gone")
        expect(gone).to_contain_text("404")
        expect(page.locator("#check-list li.ok", has_text="/moved")).to_contain_text("ends at")
        page.context.close()
