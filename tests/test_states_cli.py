"""`newsletter status` names each issue's state by what is true now: `sending` only while a run holds
the issue's lock, `incomplete` with how it goes on, `failed` when every recipient was refused. The
lock files live beside the ledger and the project's .gitignore covers them.

The commands run in a subprocess against aiosmtpd on 127.0.0.1, with a real ledger file.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from command import Cli, output, read, status_rows, wait
from conftest import ROOT, audience_csv
from issue_files import copy_sample

from newsletter.ledger.lock import held, hold, issue_lock, lock_path

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

SECRET = "states-test-secret"
DB = "data/ledger.sqlite3"  # not the default: the locks must follow the ledger, not the working folder


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET, {"NEWSLETTER_DB": DB})


def _issue(
    cli: Cli, slug: str, emails: list[str], *, status: str = "draft", send_at: str | None = None
) -> str:
    """issues/<slug>.yaml, a copy of the sample with its own audience issues/<slug>.csv; its path."""
    audience_csv(cli.folder / "issues" / f"{slug}.csv", emails)
    copy_sample(cli.folder, slug, status=status, send_at=send_at, audience=f"{slug}.csv")
    return f"issues/{slug}.yaml"


def _addresses(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}@example.org" for i in range(1, n + 1)]


def test_status_names_each_state_by_what_is_true(cli: Cli, log: IO[str]) -> None:
    recorder = cli.server.recorder
    # 2026-01 is the sample as it is: a draft.
    _issue(cli, "2099-01", _addresses("later", 2), status="ready", send_at="2099-01-06T09:30")
    _issue(cli, "2020-01", _addresses("old", 2), status="ready", send_at="2020-01-20T09:00")
    an_hour_ago = dt.datetime.now(ZoneInfo("Europe/Brussels")) - dt.timedelta(hours=1)
    _issue(cli, "2026-05", _addresses("may", 2), status="ready", send_at=f"{an_hour_ago:%Y-%m-%dT%H:%M}")
    stopped = _issue(cli, "2026-02", _addresses("feb", 4))
    done = _issue(cli, "2026-03", _addresses("mar", 2))
    refused = _issue(cli, "2026-04", _addresses("apr", 2))
    for email in _addresses("apr", 2):
        recorder.fail_rcpt(email, 550, "5.1.1 User unknown", times=None)

    assert cli.run("send", stopped, "--limit", "2", "--yes").returncode == 1
    assert cli.run("send", done, "--yes").returncode == 0
    assert cli.run("send", refused, "--yes").returncode == 1

    states = status_rows(cli)
    assert {slug: row[1] for slug, row in states.items() if slug != "issue"} == {
        "2026-01": "draft",
        "2020-01": "missed",
        "2026-02": "incomplete",
        "2026-03": "sent",
        "2026-04": "failed",
        "2026-05": "due",
        "2099-01": "scheduled",
    }
    assert states["2026-02"][3:5] == ["2/4", "2"]
    assert states["2026-02"][-1] == "to continue: newsletter send issues/2026-02.yaml"
    assert states["2026-03"][3] == "2/2"
    assert states["2026-04"][3:7] == ["0/2", "0", "0", "2"]
    assert states["2026-04"][-1].startswith("every recipient was refused: newsletter status")

    # A send that is running: `sending` while it holds the lock, and the lock is beside the ledger.
    recorder.hold()
    before = len(recorder.arrivals)
    running = cli.start("send", stopped, "--yes", output=log)
    try:
        _wait_for(lambda: len(recorder.arrivals) > before, "the send to hand over its first message")
        assert status_rows(cli)["2026-02"][1] == "sending"
        assert (cli.folder / "data" / f"ledger.sqlite3.{issue_lock('2026-02')}.lock").exists()
        assert list(cli.folder.glob("*.lock")) == []
    finally:
        recorder.release()
        code = wait(running)
    assert code == 0, read(log)
    row = status_rows(cli)["2026-02"]
    assert (row[1], row[3]) == ("sent", "4/4")


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.01)


def test_a_ready_issue_stopped_by_hand_is_left_to_dispatch(cli: Cli) -> None:
    path = _issue(cli, "2026-01", _addresses("lid", 3), status="ready", send_at="2026-01-20T09:00")
    assert cli.run("send", path, "--limit", "1", "--yes").returncode == 1
    row = status_rows(cli)["2026-01"]
    assert (row[1], row[-1]) == ("incomplete", "dispatch continues it at its next run")


def _ignored(patterns: list[str], path: Path) -> bool:
    """Whether one of .gitignore's simple patterns (`*.x`, `name/`) covers `path`, relative to the
    project: a `dir/` pattern covers what lies in such a folder, the others match a file's name."""
    folders, name = path.parts[:-1], path.name
    for pattern in patterns:
        if pattern.endswith("/"):
            if any(fnmatch.fnmatch(part, pattern[:-1]) for part in folders):
                return True
        elif fnmatch.fnmatch(name, pattern):
            return True
    return False


def test_gitignore_covers_what_the_commands_write_the_ledger_and_its_locks(cli: Cli) -> None:
    issue = _issue(cli, "2026-01", _addresses("lid", 2), status="ready", send_at="2026-01-20T09:00")
    for args in (
        ("render", issue),
        ("send", issue, "--dry-run"),
        ("send", issue, "--yes"),
        ("archive",),
        ("dispatch", "--now", "2026-01-20T09:30"),
    ):
        result = cli.run(*args)
        assert result.returncode == 0, output(result)
    text = (ROOT / ".gitignore").read_text(encoding="utf-8")
    patterns = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    written = [
        p.relative_to(cli.folder)
        for p in cli.folder.rglob("*")
        if p.is_file() and p.parts[len(cli.folder.parts)] not in ("issues", "layouts")
    ]
    locks = {p.name for p in written if p.name.endswith(".lock")}
    assert locks == {"ledger.sqlite3.dispatch.lock", f"ledger.sqlite3.{issue_lock('2026-01')}.lock"}
    assert {p.parts[0] for p in written} == {"build", "outbox", "site", "data", ".newsletter-cache"}
    assert [p for p in written if not _ignored(patterns, p)] == []
    # The default ledger's locks too, however NEWSLETTER_DB names the file.
    for name in ("dispatch", issue_lock("2026-01")):
        assert _ignored(patterns, Path(lock_path(Path("newsletter.sqlite3"), name).name))


def test_a_lock_is_held_only_while_a_process_holds_it_whatever_its_file_says(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "ledger.sqlite3", issue_lock("2026-01"))
    assert not held(path)  # never taken: no file
    with hold(path) as mine:
        assert mine
        assert held(path)
        with hold(path) as again:
            assert not again  # a second holder is refused, the probe in between did not count
    assert not held(path)
    # What a holder killed by SIGKILL leaves: its words in the file, but no lock.
    path.write_text("999999\n2026-01-20T09:00:00+00:00\nelsewhere\n", encoding="utf-8")
    assert not held(path)
