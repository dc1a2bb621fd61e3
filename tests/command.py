"""`python -m newsletter` in a subprocess, as a person or cron runs it: the environment it gets, and
running or starting it. Plain helpers without asserts: the tests check what comes back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from conftest import audience_csv, ledger_rows

if TYPE_CHECKING:
    from smtp_server import SMTPServer

    from newsletter.ledger import Row

NEWSLETTER = [sys.executable, "-m", "newsletter"]
# A wide terminal without colour: help pages and messages print unwrapped and without escapes.
WIDE = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
# What a send needs besides an SMTP server and a secret.
SENDING = {
    "NEWSLETTER_FROM": "POM Limburg <nieuwsbrief@example.org>",
    "NEWSLETTER_UNSUBSCRIBE_URL": "https://example.org/uitschrijven?token={token}",
    "NEWSLETTER_SMTP_TIMEOUT": "20",
}


def environment(*layers: Mapping[str, str], **settings: str) -> dict[str, str]:
    """This process's environment without its NEWSLETTER_ settings and with output in UTF-8, then each
    of `layers` and `settings` on top, a later one winning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["PYTHONIOENCODING"] = "utf-8"
    for layer in (*layers, settings):
        env.update(layer)
    return env


def run(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`newsletter ARGS` in `cwd` to its end, with no input and its output captured."""
    return subprocess.run(
        [*NEWSLETTER, *args],
        cwd=cwd,
        env=environment() if env is None else env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def start(
    *args: str,
    cwd: Path,
    env: Mapping[str, str],
    stdout: int | IO[str] = subprocess.PIPE,
    stderr: int | IO[str] = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """`newsletter ARGS` started in `cwd` with no input; the caller waits for it."""
    return subprocess.Popen(
        [*NEWSLETTER, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        text=True,
        encoding="utf-8",
    )


def read(log: IO[str]) -> str:
    """Everything written to `log` so far (a file a started command writes its output to)."""
    log.seek(0)
    return log.read()


def wait(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """The exit code of `proc`; killed and an error if it has not ended after `timeout` (a hang)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def logged(result: subprocess.CompletedProcess[str], event: str) -> list[str]:
    """The lines of a dispatch log for `event` (a line is `<time> <event> <issue> …`)."""
    return [line for line in result.stdout.splitlines() if line.split(" ")[1:2] == [event]]


def table_rows(text: str) -> dict[str, list[str]]:
    """The rows of a printed table by their first cell (continuation lines of wrapped cells left out)."""
    found: dict[str, list[str]] = {}
    for line in text.replace("┃", "│").splitlines():
        if "│" not in line:
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0]:
            found[cells[0]] = cells
    return found


@dataclass
class Cli:
    """`newsletter` in the scratch project `folder`, with settings pointing at `server`."""

    folder: Path
    server: SMTPServer
    secret: str
    extra: dict[str, str] = field(default_factory=dict)  # settings for every run

    @property
    def db(self) -> Path:
        return self.folder / "newsletter.sqlite3"

    def env(self, **settings: str) -> dict[str, str]:
        secret = {"NEWSLETTER_SECRET": self.secret}
        return environment(SENDING, secret, self.server.settings(), self.extra, settings)

    def run(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        return run(*args, cwd=self.folder, env=self.env(**settings))

    def start(self, *args: str, output: IO[str], **settings: str) -> subprocess.Popen[str]:
        """Started with its output and errors both going to `output`."""
        return start(
            *args, cwd=self.folder, env=self.env(**settings), stdout=output, stderr=subprocess.STDOUT
        )

    def dispatch(self, now: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        return self.run("dispatch", "--now", now, *args, **settings)

    def recipients(self, emails: list[str], name: str = "leden.csv") -> Path:
        """An audience file `name` in the project folder."""
        return audience_csv(self.folder / name, emails)

    def rows(self, slug: str = "2026-01") -> list[Row]:
        return ledger_rows(self.folder, slug)


def status_rows(cli: Cli) -> dict[str, list[str]]:
    """The rows of `newsletter status` by issue, a cell wrapped over lines joined again with spaces."""
    result = cli.run("status")
    assert result.returncode == 0, output(result)
    rows: dict[str, list[str]] = {}
    last: list[str] = []
    for line in result.stdout.replace("┃", "│").splitlines():
        if "│" not in line:
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0]:
            last = rows[cells[0]] = cells
        else:
            last[:] = [f"{a} {b}".strip() for a, b in zip(last, cells, strict=True)]
    return rows
