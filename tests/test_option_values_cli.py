"""A wrong value on the command line or in a setting, as the CLI meets it: one line in plain words
that names the option or setting, exit 2, and nothing done. Numbers are whole numbers in a range,
the preview's address is one of this computer's, and a dry run is not a test send."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from command import WIDE, environment, run

ISSUE = "issues/2026-01.yaml"


def newsletter(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=cwd, env=environment(WIDE, **settings))


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single line of a run that exited 2 without a traceback or a usage block."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


WRONG_NUMBERS = [
    (("send", ISSUE, "--limit", "abc"), "error: --limit: 'abc' is not a whole number"),
    (("send", ISSUE, "--limit", "1.5"), "error: --limit: '1.5' is not a whole number"),
    (("send", ISSUE, "--limit", "0"), "error: --limit: must be at least 1"),
    (("dispatch", "--max", "many"), "error: --max: 'many' is not a whole number"),
    (("dispatch", "--max", "0"), "error: --max: must be at least 1"),
    (("preview", ISSUE, "--no-open", "--port", "http"), "error: --port: 'http' is not a whole number"),
    (("preview", ISSUE, "--no-open", "--port", "99999"), "error: --port: must be at most 65535"),
    (("preview", ISSUE, "--no-open", "--port", "0"), "error: --port: must be at least 1"),
]


@pytest.mark.parametrize(("args", "line"), WRONG_NUMBERS, ids=[" ".join(args) for args, _ in WRONG_NUMBERS])
def test_a_wrong_number_is_one_plain_line_naming_the_option(
    project_dir: Path, args: tuple[str, ...], line: str
) -> None:
    result = newsletter(*args, cwd=project_dir)
    assert one_error(result) == line
    assert "Input should" not in result.stderr
    assert not (project_dir / "newsletter.sqlite3").exists()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abc", "NEWSLETTER_SMTP_PORT: 'abc' is not a whole number"),
        ("0", "NEWSLETTER_SMTP_PORT: must be at least 1"),
        ("65536", "NEWSLETTER_SMTP_PORT: must be at most 65535"),
    ],
)
def test_a_wrong_number_in_a_setting_is_said_in_plain_words_with_how_to_write_it(
    project_dir: Path, value: str, words: str
) -> None:
    line = one_error(newsletter("validate", ISSUE, cwd=project_dir, NEWSLETTER_SMTP_PORT=value))
    assert line == (f"error: {words}; write a port number from 1 to 65535, e.g. 587 (see .env.example)")


def test_a_wrong_number_of_connections_says_the_setting_and_its_limit(project_dir: Path) -> None:
    line = one_error(newsletter("validate", ISSUE, cwd=project_dir, NEWSLETTER_CONNECTIONS="33"))
    assert line == "error: NEWSLETTER_CONNECTIONS: must be at most 32 (see .env.example)"


def test_a_preview_address_that_is_not_this_computers_asks_for_another_host(project_dir: Path) -> None:
    # 192.0.2.0/24 is kept for documentation (RFC 5737): no computer has such an address.
    line = one_error(newsletter("preview", ISSUE, "--no-open", "--host", "192.0.2.1", cwd=project_dir))
    assert line.startswith("error: cannot listen on 192.0.2.1:8000 ("), line
    assert line.endswith("); pass another --host or --port"), line


def test_a_preview_port_in_use_asks_for_another_port(project_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = one_error(newsletter("preview", ISSUE, "--no-open", "--port", port, cwd=project_dir))
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port} ("), line
    assert line.endswith("); pass another --port"), line


@pytest.mark.parametrize(
    ("test", "flag"), [(("--test", "me@example.org"), "--test"), (("--test-team",), "--test-team")]
)
def test_a_dry_run_with_a_test_send_is_refused_and_does_neither(
    project_dir: Path, test: tuple[str, ...], flag: str
) -> None:
    result = newsletter(
        "send", ISSUE, "--dry-run", *test, cwd=project_dir, NEWSLETTER_TEST_RECIPIENTS="me@example.org"
    )
    assert one_error(result) == (
        f"error: --dry-run and {flag} do different things: a dry run writes every message to the "
        "outbox, a test sends one to you; pass one of them"
    )
    assert not (project_dir / "outbox").exists()
    assert not (project_dir / "newsletter.sqlite3").exists()
