"""The ledger in trouble, as a person or cron meets it: the same file under two paths, a file deleted
or replaced while a send runs, a file that is not a ledger, a read-only one, a full disk, and another
issue under a slug the ledger already holds.

`newsletter` runs in a subprocess against a real SMTP server on 127.0.0.1 and a real ledger file. The
read-only and full-disk tests mount a small tmpfs, which needs root with the right to mount (a
privileged container); where mounting is not permitted they are skipped, saying so.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from command import Cli, read, run, wait
from conftest import SUBJECT, audience_csv, copy_project, edit
from old_ledger import write_old_ledger

from newsletter.ledger import Ledger, Row

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "ledger-trouble-secret"


def audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


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


# -- the file gone while a send runs ------------------------------------------------------------------


def _delete(db: Path, tmp_path: Path) -> None:
    # As `rm newsletter.sqlite3*` would: the database, its WAL and its index.
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def _replace(db: Path, tmp_path: Path) -> None:
    # As a restore that moves another ledger file into place would.
    other = tmp_path / "other.sqlite3"
    Ledger(other).close()
    other.replace(db)


def _empty(db: Path, tmp_path: Path) -> None:
    db.write_bytes(b"")


@pytest.mark.parametrize(
    ("what", "action"), [("deleted", _delete), ("replaced", _replace), ("emptied", _empty)]
)
def test_ledger_lost_mid_send_stops_the_send_with_one_line_and_exit_2(
    cli: Cli, tmp_path: Path, log: IO[str], what: str, action: Callable[[Path, Path], None]
) -> None:
    emails = audience(300)
    cli.recipients(emails)
    recorder = cli.server.recorder

    def lose_the_ledger_at_50(arrival: Arrival) -> None:
        # Before the server answers the 50th message: the send's next commit is the first to see it.
        if arrival.number == 50:
            action(cli.db, tmp_path)

    recorder.on_arrival = lose_the_ledger_at_50
    with cli.start("send", ISSUE, "--recipients", "leden.csv", "--yes", output=log) as proc:
        code = wait(proc, timeout=15)
    text = read(log)
    assert code == 2, text
    assert error_lines(text) == [
        f"error: NEWSLETTER_DB=newsletter.sqlite3: the ledger file was {what} while sending; nothing more "
        "was sent. Restore it (put the file back, or its latest backup) before sending again: without it, "
        "those who already got the issue get it again"
    ], text
    assert "Traceback" not in text
    assert "this run:" not in text
    assert len(recorder.messages) == 50


# -- a file that is not a ledger, a damaged one ------------------------------------------------------

COMMANDS = {
    "send": ("send", ISSUE, "--recipients", "leden.csv", "--yes"),
    "dispatch": ("dispatch", "--now", "2026-01-20T09:00"),
    "status": ("status",),
    "status FILE": ("status", ISSUE),
    "status --failed": ("status", "--failed"),
    "suppress add": ("suppress", "add", "weg@example.org"),
    "suppress list": ("suppress", "list"),
}


def _ready(cli: Cli, emails: list[str]) -> None:
    cli.recipients(emails)
    edit(
        cli.folder / ISSUE,
        "status: draft\n",
        "status: ready\nsend_at: 2026-01-20T09:00\naudience: ../leden.csv\n",
    )


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_that_is_not_a_ledger_is_one_line_naming_the_setting_for_every_command(
    cli: Cli, command: str
) -> None:
    _ready(cli, audience(3))
    cli.db.write_bytes(b"Dit is geen database, maar een tekst die lang genoeg is. " * 100)
    result = cli.run(*COMMANDS[command])
    assert result.returncode == 2, result.stdout + result.stderr
    assert error_lines(result.stderr) == [
        "error: NEWSLETTER_DB=newsletter.sqlite3: this is not a ledger (file is not a database): point "
        "NEWSLETTER_DB at your ledger file, or restore it from its latest backup"
    ], result.stderr
    assert "Traceback" not in result.stderr
    assert cli.server.recorder.connections == 0


def _damage(db: Path) -> None:
    """Overwrite the first page of the recipients table, as a failing disk might."""
    with sqlite3.connect(db) as raw:
        ((root,),) = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'recipients'")
        ((size,),) = raw.execute("PRAGMA page_size")
    raw.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * 64)


@pytest.mark.parametrize("command", ["send", "dispatch", "status", "status FILE", "status --failed"])
def test_a_damaged_ledger_is_one_line_saying_to_restore_the_backup(cli: Cli, command: str) -> None:
    emails = audience(300)
    _ready(cli, emails)
    first = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", "--limit", "5")
    assert first.returncode == 1, first.stdout + first.stderr
    _damage(cli.db)
    result = cli.run(*COMMANDS[command])
    assert result.returncode == 2, result.stdout + result.stderr
    assert error_lines(result.stderr) == [
        "error: NEWSLETTER_DB=newsletter.sqlite3: the ledger is damaged (database disk image is "
        "malformed): restore it from its latest backup, then run the same command again"
    ], result.stderr
    assert "Traceback" not in result.stderr
    assert len(cli.server.recorder.messages) == 5


# -- a read-only file system, a full disk --------------------------------------------------------------


@dataclass
class Mount:
    """A tmpfs of its own at `path`, unmounted at the end of the test."""

    path: Path

    def _mount(self, *options: str) -> None:
        subprocess.run(["mount", *options, str(self.path)], check=True, capture_output=True, text=True)

    def read_only(self) -> None:
        self._mount("-o", "remount,ro")

    def resize(self, size: str) -> None:
        self._mount("-o", f"remount,size={size}")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Mount]]:
    """Mount a tmpfs of the given size; the test is skipped when this machine does not allow it."""
    mounted: list[Path] = []

    def mount(size: str) -> Mount:
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            pytest.skip("needs the mount command to mount a small tmpfs")
        if done.returncode != 0:
            pytest.skip(
                f"mounting a tmpfs is not permitted here (root with CAP_SYS_ADMIN): {done.stderr.strip()}"
            )
        mounted.append(path)
        return Mount(path)

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def test_a_ledger_on_a_read_only_file_system_can_be_read_but_not_written(
    cli: Cli, tmpfs: Callable[[str], Mount]
) -> None:
    disk = tmpfs("4m")
    db = str(disk.path / "newsletter.sqlite3")
    emails = audience(4)
    _ready(cli, emails)
    cli.server.recorder.fail_rcpt(emails[1], 550, times=None)
    first = cli.run(*COMMANDS["send"], NEWSLETTER_DB=db)
    assert first.returncode == 1, first.stdout + first.stderr
    disk.read_only()

    overview = cli.run("status", NEWSLETTER_DB=db)
    assert overview.returncode == 0, overview.stderr
    assert "3/4" in overview.stdout
    one = cli.run("status", ISSUE, NEWSLETTER_DB=db)
    assert one.returncode == 0, one.stderr
    assert f"2026-01: failed: {emails[1]}: 550" in one.stdout
    failed = cli.run("status", "--failed", NEWSLETTER_DB=db)
    assert (failed.returncode, len(failed.stdout.splitlines())) == (0, 2), failed.stderr
    listed = cli.run("suppress", "list", NEWSLETTER_DB=db)
    assert listed.returncode == 0, listed.stderr

    for command in ("send", "dispatch", "suppress add"):
        result = cli.run(*COMMANDS[command], NEWSLETTER_DB=db)
        assert result.returncode == 2, command
        assert error_lines(result.stderr) == [
            f"error: NEWSLETTER_DB={db}: the ledger cannot be written (read-only file system): make the "
            "file and its folder writable for this user"
        ], result.stderr
        assert "Traceback" not in result.stderr
    assert len(cli.server.recorder.messages) == 3


def test_a_full_disk_mid_send_is_one_line_and_what_was_sent_stays_recorded(
    cli: Cli, tmpfs: Callable[[str], Mount], log: IO[str]
) -> None:
    # Room for the ledger and the audience's snapshot, not for a commit per message to 300 people.
    disk = tmpfs("448k")
    db = disk.path / "newsletter.sqlite3"
    emails = audience(300)
    cli.recipients(emails)
    recorder = cli.server.recorder
    with cli.start(*COMMANDS["send"], output=log, NEWSLETTER_DB=str(db)) as proc:
        code = wait(proc, timeout=15)
    text = read(log)
    assert code == 2, text
    assert error_lines(text) == [
        f"error: NEWSLETTER_DB={db}: the disk is full (database or disk is full): free disk space, then "
        "run the same command again; what was sent until now is recorded"
    ], text
    assert "Traceback" not in text
    assert "this run:" not in text
    delivered = recorder.copies()
    assert 0 < len(delivered) < len(emails)

    # With room again, the same command sends the rest; what the server had taken is not sent again,
    # except the one message in doubt when the disk filled, resent once with the same Message-ID.
    disk.resize("8m")
    rows = {r.recipient.email: r for r in _rows(db)}
    assert {e for e, r in rows.items() if r.status == "sent"} <= set(delivered)
    in_doubt = [e for e, r in rows.items() if r.status == "sending"]
    assert len(in_doubt) <= 1
    assert {e for e, r in rows.items() if r.status == "sent"} | set(in_doubt) == set(delivered)
    again = cli.run(*COMMANDS["send"], NEWSLETTER_DB=str(db))
    assert again.returncode == 0, again.stdout + again.stderr
    copies = recorder.copies()
    assert set(copies) == set(emails)
    assert {e: n for e, n in copies.items() if n > 1} == dict.fromkeys(in_doubt, 2)


def _rows(db: Path) -> list[Row]:
    ledger = Ledger(db)
    try:
        return ledger.rows("2026-01")
    finally:
        ledger.close()


# -- another issue under a slug the ledger holds ---------------------------------------------------------


def test_another_issue_with_the_same_slug_on_a_shared_ledger_is_refused_saying_how_to_rename_it(
    cli: Cli, tmp_path: Path
) -> None:
    ours = audience(3)
    cli.recipients(ours)
    assert send(cli).returncode == 0
    # Another organisation's project on the same ledger, with an issue file of the same name.
    other = copy_project(tmp_path / "andere-organisatie")
    theirs = [f"lezer{i}@example.com" for i in range(1, 4)]
    audience_csv(other / "leden.csv", theirs)
    edit(other / ISSUE, f'subject: "{SUBJECT}"', 'subject: "Nieuws uit Genk"')
    shared = {"NEWSLETTER_DB": str(cli.db)}
    refused = run(*COMMANDS["send"], cwd=other, env=cli.env(**shared))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert error_lines(refused.stderr) == [
        f"error: the ledger already holds a delivery of 2026-01 from {(cli.folder / ISSUE).resolve()} "
        f"(subject '{SUBJECT}'); {(other / ISSUE).resolve()} is a different issue: rename the file, e.g. "
        "2026-01-b.yaml, to send it. If it is the same issue moved and retitled, put back the subject it "
        "was sent with"
    ], refused.stderr
    assert cli.server.recorder.copies() == Counter(ours)

    (other / ISSUE).rename(other / "issues" / "2026-01-b.yaml")
    renamed = run(
        "send",
        "issues/2026-01-b.yaml",
        "--recipients",
        "leden.csv",
        "--yes",
        cwd=other,
        env=cli.env(**shared),
    )
    assert renamed.returncode == 0, renamed.stdout + renamed.stderr
    assert cli.server.recorder.copies() == Counter(ours + theirs)


def test_a_corrected_subject_and_then_a_moved_file_go_on_without_resending(cli: Cli) -> None:
    emails = audience(6)
    cli.recipients(emails)
    assert send(cli, "--limit", "2").returncode == 1
    edit(cli.folder / ISSUE, f'subject: "{SUBJECT}"', f'subject: "{SUBJECT} (verbeterd)"')
    corrected = send(cli, "--limit", "2")
    assert corrected.returncode == 1, corrected.stdout + corrected.stderr
    assert "warning: 2026-01 changed since its delivery started" in corrected.stdout
    # The whole issues folder moved (a new name for it) with its subject as corrected.
    (cli.folder / "issues").rename(cli.folder / "nummers")
    moved = cli.run("send", "nummers/2026-01.yaml", "--recipients", "leden.csv", "--yes")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert cli.server.recorder.copies() == Counter(emails)
    assert [a.subject for a in cli.server.recorder.messages].count(f"{SUBJECT} (verbeterd)") == 4


def test_a_ledger_of_the_previous_version_is_resumed_and_records_the_issue_file(cli: Cli) -> None:
    emails = audience(4)
    cli.recipients(emails)
    write_old_ledger(
        cli.db, "2026-01", SUBJECT, {e: "sent" if i < 2 else "pending" for i, e in enumerate(emails)}
    )
    result = send(cli)
    assert result.returncode == 0, result.stdout + result.stderr
    assert cli.server.recorder.copies() == Counter(emails[2:])
    ledger = Ledger(cli.db)
    try:
        delivery = ledger.delivery("2026-01")
    finally:
        ledger.close()
    assert delivery is not None
    assert delivery.source_path == str((cli.folder / ISSUE).resolve())
