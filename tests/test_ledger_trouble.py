"""The ledger in trouble, as a person or cron meets it: the same file under two paths, a file deleted
or replaced while a send runs, a file that is not a ledger, a read-only one, a full disk, and another
issue under a slug the ledger already holds.

`newsletter` runs in a subprocess against a real SMTP server on 127.0.0.1 and a real ledger file. The
read-only and full-disk tests mount a small tmpfs (they need root, as in the project's CI container)
and are skipped with the reason where mounting is not permitted.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from command import Cli
from conftest import edit

from newsletter.ledger import Ledger

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "ledger-trouble-secret"


def audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[IO[str]]:
    with (tmp_path / "run.log").open("w+", encoding="utf-8") as f:
        yield f


def read(log: IO[str]) -> str:
    log.seek(0)
    return log.read()


def wait(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def send(cli: Cli, *extra: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", *extra, **settings)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error: ")]


# -- one file, two paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["send", "dispatch"])
def test_send_through_symlinked_ledger_sends_nobody_twice(cli: Cli, tmp_path: Path, command: str) -> None:
    emails = audience(300)
    cli.recipients(emails)
    edit(
        cli.folder / ISSUE,
        "status: draft\n",
        "status: ready\nsend_at: 2026-01-20T09:00\naudience: ../leden.csv\n",
    )
    Ledger(cli.db).close()
    link = tmp_path / "elsewhere" / "ledger-link.sqlite3"
    link.parent.mkdir()
    link.symlink_to(cli.db)
    args = (
        ("send", ISSUE, "--recipients", "leden.csv", "--yes")
        if command == "send"
        else ("dispatch", "--now", "2026-01-20T09:01")
    )
    recorder = cli.server.recorder
    # The server answers nothing until one of the two has given up (or a while has passed): with a
    # lock per spelling of the path both would be sending by then, and go on side by side.
    recorder.hold()
    with (tmp_path / "a.log").open("w+") as log_a, (tmp_path / "b.log").open("w+") as log_b:
        with (
            cli.start(*args, output=log_a) as a,
            cli.start(*args, output=log_b, NEWSLETTER_DB=str(link)) as b,
        ):
            try:
                deadline = time.monotonic() + 15
                while a.poll() is None and b.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                recorder.release()
            codes = sorted((wait(a), wait(b)))
        logs = [read(log_a), read(log_b)]
    busy = "being sent by another process right now" if command == "send" else "another dispatch is running"
    assert [busy in text for text in logs].count(True) == 1, logs
    assert codes == ([0, 2] if command == "send" else [0, 0]), logs
    assert recorder.copies() == Counter(emails)
