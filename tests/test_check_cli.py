"""`newsletter check` as a person runs it before a send: its link checker against a real HTTPS server
on 127.0.0.1 (tests/link_server.py) answering 200, 301, 404, a HEAD-refusing 405, a redirect loop and
a slow answer; `--offline`; and a mistake in the issue file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from command import environment, output, run
from conftest import audience_csv, line_of
from link_server import LinkServer, link_issue, link_server

TIMEOUT = "1"  # seconds the checker waits; the slow page answers only when its server stops


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def links(ca: trustme.CA, tmp_path: Path) -> Iterator[LinkServer]:
    with link_server(ca, tmp_path) as server:
        yield server


def _check(folder: Path, links: LinkServer, *args: str) -> tuple[int, str]:
    env = environment(
        SSL_CERT_FILE=str(links.ca_file),
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
        NEWSLETTER_UNSUBSCRIBE_URL=links.url("/ok?token={token}"),
    )
    result = run("check", "issues/links.yaml", "--timeout", TIMEOUT, *args, cwd=folder, env=env)
    return result.returncode, output(result)


def _line(text: str, needle: str) -> str:
    found = [line for line in text.splitlines() if needle in line]
    assert len(found) == 1, f"{needle!r} on {len(found)} lines of:\n{text}"
    return found[0]


def test_check_finds_the_broken_link_with_its_place_and_exits_1(project_dir: Path, links: LinkServer) -> None:
    issue = link_issue(project_dir, links.base)
    code, text = _check(project_dir, links)
    assert code == 1, text
    gone = _line(text, "/gone")
    assert gone.strip().startswith("error:")
    # The link's text as a screen reader hears it: the button's words and the article it belongs to.
    assert "'Read the gone page: A page that is gone'" in gone
    assert ": 404" in gone
    assert f"issues/links.yaml:{line_of(issue, '/gone')} sections[1].link.url" in gone
    # The 404 and the redirect loop; the slow page is only a warning.
    assert text.rstrip().splitlines()[-1].startswith("2 errors")


def test_check_follows_redirects_falls_back_to_get_and_reports_loops_and_slow_pages(
    project_dir: Path, links: LinkServer
) -> None:
    issue = link_issue(project_dir, links.base)
    _, text = _check(project_dir, links)
    moved = _line(text, "/moved")
    assert moved.strip().startswith("ok:")
    assert f"200, ends at {links.url('/ok')}" in moved
    no_head = _line(text, "/no-head")
    assert no_head.strip().startswith("ok:")
    assert ("HEAD", "/no-head") in links.requests
    assert ("GET", "/no-head") in links.requests
    loop = _line(text, "/loop-a")
    assert loop.strip().startswith("error:")
    assert "redirect loop" in loop
    assert f"issues/links.yaml:{line_of(issue, '/loop-a')} sections[4].url" in loop
    slow = _line(text, "/slow")
    # A timeout is a warning: the server may be slow just now, which is no reason to stop a send.
    assert slow.strip().startswith("warning:")
    assert "no answer in time" in slow
    photo = _line(text, "photo.png:")
    assert "40x30 px" in photo
    assert _line(text, f"{links.url('/ok')}:").strip().startswith("ok:")
    # The reader's own unsubscribe address is asked too: the endpoint's GET only shows a page.
    unsubscribe = _line(text, "/ok?token=")
    assert unsubscribe.strip().startswith("ok:")
    assert "the layout (unsubscribe)" in unsubscribe
    paths = [path for _, path in links.requests]
    assert paths.count("/gone") == 2  # HEAD, then GET to be sure before it is reported


def test_offline_asks_no_server_and_lists_the_links(project_dir: Path, links: LinkServer) -> None:
    link_issue(project_dir, links.base)
    code, text = _check(project_dir, links, "--offline")
    assert links.requests == []
    assert "not asked (offline)" in _line(text, "/gone")
    assert "photo.png" in _line(text, "not weighed (offline)")
    assert code == 0, text


def test_a_certificate_no_one_trusts_is_an_error(project_dir: Path, tmp_path: Path) -> None:
    with link_server(trustme.CA(), tmp_path) as other:
        link_issue(project_dir, other.base)
        trusted = tmp_path / "trusted.pem"
        trustme.CA().cert_pem.write_to_path(str(trusted))
        env = environment(
            SSL_CERT_FILE=str(trusted),
            NO_PROXY="127.0.0.1",
            NEWSLETTER_UNSUBSCRIBE_URL=other.url("/ok?t={token}"),
        )
        result = run("check", "issues/links.yaml", "--timeout", TIMEOUT, cwd=project_dir, env=env)
    line = _line(output(result), "/gone")
    assert line.strip().startswith("error:")
    assert "certificate" in line
    assert result.returncode == 1


def test_a_mistake_in_the_issue_file_is_one_line_and_exit_2(project_dir: Path) -> None:
    path = project_dir / "issues" / "2026-01.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("language: nl", "language: xx"), encoding="utf-8"
    )
    result = run("check", "issues/2026-01.yaml", "--offline", cwd=project_dir, env=environment())
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith(f"error: issues/2026-01.yaml:{line_of(path, 'language:')}")
    assert "Traceback" not in result.stderr


def test_recipients_fill_the_merge_fields_with_the_first_reader(project_dir: Path) -> None:
    audience_csv(project_dir / "leden.csv", [f"lid{i:03d}@example.org" for i in range(1, 301)])
    result = run(
        "check",
        "issues/2026-01.yaml",
        "--offline",
        "--recipients",
        "leden.csv",
        cwd=project_dir,
        env=environment(),
    )
    assert result.returncode == 0, output(result)
    assert result.stdout.startswith(
        "checking issues/2026-01.yaml as lid001@example.org receives it (offline)"
    )
    assert "0 errors" in result.stdout


def test_a_missing_recipients_file_is_one_line_and_exit_2(project_dir: Path) -> None:
    result = run(
        "check", "issues/2026-01.yaml", "--recipients", "nope.csv", cwd=project_dir, env=environment()
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: nope.csv: no such recipients file"
