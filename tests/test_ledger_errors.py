"""SQLite's errors after the ledger was opened, in a real file: another connection holding it locked, a
file damaged or cut short under an open ledger, a send whose ledger is locked halfway. Each is one
LedgerError line naming the file and what to do, never a raw sqlite3 traceback. And the ledger opened
with `with` is closed however the block ends."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ENVELOPE, T0, people

from newsletter.composing.message import Composer
from newsletter.delivering.loop import deliver
from newsletter.errors import LedgerError
from newsletter.ledger import Counts, Ledger
from newsletter.model import Recipient, Rendered
from newsletter.sending.base import Reply
from newsletter.sending.memory import MemoryConnection, MemorySender

ISSUE = "2026-01"
LOCKED = "another process kept the ledger locked (database is locked): wait for it to finish, then try again"
DAMAGED = (
    "the ledger is damaged (database disk image is malformed): restore it from its latest backup, "
    "then run the same command again"
)


def _start(ledger: Ledger, audience: list[Recipient]) -> None:
    ledger.start(
        ISSUE, subject="Januari", content_hash="abc", audience_source="leden.csv", recipients=audience, now=T0
    )


def _impatient(ledger: Ledger) -> Ledger:
    """The ledger waiting 50 ms, instead of 30 s, for another connection's lock before giving up."""
    ledger.file.query("PRAGMA busy_timeout = 50")
    return ledger


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Another connection holding an EXCLUSIVE lock on the ledger file, as a stuck process would."""
    # Any thread may let go of it: a send's worker thread takes it in one test.
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """A ledger file holding a delivery to 400 people (some twenty pages of rows), closed."""
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        _start(ledger, [Recipient(f"p{i:03d}@example.org", "Voornaam " * 10) for i in range(400)])
    return path


# -- locked by another connection ----------------------------------------------------------------------


def test_a_write_while_another_connection_holds_the_ledger_locked_is_one_line_naming_the_file(
    written: Path,
) -> None:
    with Ledger(written) as ledger, _locked(written):
        _impatient(ledger)
        with pytest.raises(LedgerError) as raised:
            ledger.suppress(["p001@example.org"], "unsubscribed", T0)
        assert str(raised.value) == f"NEWSLETTER_DB={written}: {LOCKED}"
        with pytest.raises(LedgerError, match="wait for it to finish"):
            ledger.mark_sending(ISSUE, "p001@example.org", "<m1@example.org>", T0)
        # Reading goes on meanwhile: a WAL ledger is read beside a writer.
        assert ledger.counts(ISSUE) == Counts(audience=400, pending=400)
    # Nothing half-written: once the other lets go, the same writes go through.
    with Ledger(written) as ledger:
        assert ledger.suppress(["p001@example.org"], "unsubscribed", T0) == 1
        assert ledger.suppressions()[0].email == "p001@example.org"


class _LockingConnection(MemoryConnection):
    """Accepts every message; while handing over the third, another connection locks the ledger."""

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        reply = super().send(sender, recipient, data)
        if len(self.sender.outbox) == 3:
            assert isinstance(self.sender, _LockingSender)
            self.sender.lock()
        return reply


class _LockingSender(MemorySender):
    def __init__(self, lock: Callable[[], None]) -> None:
        super().__init__()
        self.lock = lock

    def connect(self) -> MemoryConnection:
        return _LockingConnection(self)


def test_a_send_whose_ledger_is_locked_halfway_stops_with_one_line_and_the_rerun_sends_only_the_rest(
    tmp_path: Path, rendered: Rendered
) -> None:
    path = tmp_path / "ledger.sqlite3"
    audience = people(6)
    with contextlib.ExitStack() as stack:
        ledger = stack.enter_context(Ledger(path))
        _start(_impatient(ledger), audience)
        sender = _LockingSender(lambda: stack.enter_context(_locked(path)))
        with pytest.raises(LedgerError) as raised:
            deliver(Composer(rendered, ENVELOPE, date=T0), sender, ledger, sleep=lambda _: None)
        assert str(raised.value) == f"NEWSLETTER_DB={path}: {LOCKED}"
    assert [sent.recipient for sent in sender.outbox] == [
        "p1@example.org",
        "p2@example.org",
        "p3@example.org",
    ]
    with Ledger(path) as ledger:
        # The third was accepted but could not be recorded: in doubt, resent once with its Message-ID.
        assert [row.status for row in ledger.rows(ISSUE)] == [
            "sent",
            "sent",
            "sending",
            "pending",
            "pending",
            "pending",
        ]
        again = MemorySender()
        report = deliver(Composer(rendered, ENVELOPE, date=T0), again, ledger, sleep=lambda _: None)
        assert report.recovered == 1
        assert [sent.recipient for sent in again.outbox] == [p.email for p in audience[2:]]
        assert ledger.counts(ISSUE) == Counts(audience=6, sent=6)


# -- damaged under an open ledger ----------------------------------------------------------------------


def _overwrite_pages_after_the_first_few(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(3 * 4096)
        f.write(b"\xa5" * (size - 3 * 4096))


def _cut_in_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


@pytest.mark.parametrize("damage", [_overwrite_pages_after_the_first_few, _cut_in_half])
def test_a_ledger_damaged_after_it_was_opened_is_one_line_saying_to_restore_the_backup(
    written: Path, damage: Callable[[Path], None]
) -> None:
    with Ledger(written) as ledger:
        # Everything in the main file, as after any quiet moment; then the damage.
        ledger.file.query("PRAGMA wal_checkpoint(TRUNCATE)")
        damage(written)
        with pytest.raises(LedgerError) as read:
            ledger.rows(ISSUE)
        assert str(read.value) == f"NEWSLETTER_DB={written}: {DAMAGED}"
        with pytest.raises(LedgerError) as write:
            ledger.mark(ISSUE, "p399@example.org", "sent", "250 OK", T0)
        assert str(write.value) == f"NEWSLETTER_DB={written}: {DAMAGED}"


# -- closed on leaving the block ----------------------------------------------------------------------


def _files_beside(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


def _suppress_then_fail(path: Path, opened: list[Ledger]) -> None:
    with Ledger(path) as ledger:
        opened.append(ledger)
        ledger.suppress(["p001@example.org"], "bounced", T0)
        raise LookupError("a mistake in the block")


def test_with_a_ledger_the_file_is_closed_however_the_block_ends(written: Path) -> None:
    # SQLite removes the -wal and -shm files when the last connection to the file closes.
    with Ledger(written) as ledger:
        _start(ledger, [Recipient("extra@example.org")])
        assert _files_beside(written) == ["ledger.sqlite3", "ledger.sqlite3-shm", "ledger.sqlite3-wal"]
    assert _files_beside(written) == ["ledger.sqlite3"]
    opened: list[Ledger] = []
    with pytest.raises(LookupError):
        _suppress_then_fail(written, opened)
    assert _files_beside(written) == ["ledger.sqlite3"]
    # A closed ledger used again is a bug in the caller, not the user's to fix: it keeps its traceback.
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        opened[0].counts(ISSUE)


def test_with_a_ledger_for_reading_the_file_is_closed_on_leaving(written: Path) -> None:
    with Ledger.for_reading(written) as ledger:
        assert ledger.counts(ISSUE).audience == 400
        assert "ledger.sqlite3-wal" in _files_beside(written)
    assert _files_beside(written) == ["ledger.sqlite3"]
