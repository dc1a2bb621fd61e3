"""One process at a time: an OS file lock beside the ledger's real file, naming who holds it.

Why an OS lock (`flock`) and not a lease row in the database: the kernel releases a flock the moment
its holder dies, even by SIGKILL or a reboot, so a crashed send never blocks the next one and nobody
has to guess from a lease's age whether its holder still lives. A lease inside the database would
also pretend to protect two machines that share the ledger over a network file system, where
SQLite's own locking cannot be trusted either; a ledger belongs to one machine.

Why beside the *resolved* path: the lock file is named after the database file as the file system
finds it, symlinks and `..` resolved, so every spelling of NEWSLETTER_DB that reaches the same file
takes the same lock. (A hard link or a bind mount is still another name for the file; keep the
ledger in one place.)

The holder writes its pid, the time it took the lock and its host name into the lock file, and
empties it when it lets go, so another process can say who is busy and since when.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.errors import LedgerError

if TYPE_CHECKING:
    from newsletter.ledger.file import LedgerFile


def lock_path(database: Path, name: str) -> Path:
    real = database.resolve()
    return real.with_name(f"{real.name}.{name}.lock")


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its lock file says; any part may be missing from an older file."""

    pid: int | None
    since: dt.datetime | None
    host: str | None

    @property
    def here(self) -> bool:
        """Whether the holder runs on this machine, so that its pid means something here."""
        return self.host is None or self.host == os.uname().nodename

    def alive(self) -> bool | None:
        """Whether the holder's process exists; None when that cannot be known from here."""
        if self.pid is None or not self.here:
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it exists, under another user
        return True

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.since is None else now - self.since


@contextlib.contextmanager
def hold(path: Path) -> Iterator[bool]:
    """Yield True while this process holds the lock file `path`, False if another process does.

    Raises OSError when the lock file cannot be created or written (read-only folder, full disk).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _take(fd):
            yield False
            return
        try:
            _write_holder(fd)
            yield True
        finally:
            # Emptied before it is let go: what a later reader finds is a live holder's, or a dead one's.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# A probe by `held` shares the lock for a moment: a few tries over 0.1 s wait it out, so a send that
# starts while `status` looks is not refused as if another send held the issue.
_TRIES, _PAUSE = 5, 0.025


def _take(fd: int) -> bool:
    """Take the lock without waiting for a holder; False when another process holds it."""
    for attempt in range(_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < _TRIES:
                time.sleep(_PAUSE)
    return False


def held(path: Path) -> bool:
    """Whether a process holds the lock file `path` right now (a send or a dispatch is running).

    Asked of the kernel, by sharing the lock for a moment, not read from the file: a holder killed by
    SIGKILL leaves its words in the file, but never the lock.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # no lock file: nobody ever took it, or it is not ours to read
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def issue_lock(slug: str) -> str:
    """The name of the lock a send of the issue `slug` holds (see `Ledger.lock`)."""
    return f"issue-{slug}"


def _write_holder(fd: int) -> None:
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n{since}\n{os.uname().nodename}\n".encode(), 0)


def holder(path: Path) -> Holder | None:
    """Who holds the lock file `path` by its contents; None when it is empty or cannot be read.

    A holder that has just taken the lock may not have written it yet, and the previous holder's
    words may still be there only when that one died holding it: read twice, a moment apart, and
    believe the second reading.
    """
    first = _read(path)
    time.sleep(0.05)
    second = _read(path)
    text = second if second else first
    return _parse(text) if text else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _parse(text: str) -> Holder | None:
    lines = [line.strip() for line in text.splitlines()]
    if not lines or not lines[0]:
        return None
    pid = int(lines[0]) if lines[0].isdigit() else None
    since: dt.datetime | None = None
    if len(lines) > 1:
        with contextlib.suppress(ValueError):
            since = dt.datetime.fromisoformat(lines[1])
            if since.tzinfo is None:
                since = since.replace(tzinfo=dt.UTC)
    host = lines[2] if len(lines) > 2 and lines[2] else None
    return Holder(pid, since, host)


class IssueLocks:
    """The locks' part of `Ledger`: each named lock belongs to the ledger's database file."""

    path: Path
    _file: LedgerFile

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[bool]:
        """Yield True while this process holds the lock `name`, or False if another process does.

        The lock belongs to the database file, however NEWSLETTER_DB spells its path.
        """
        path = lock_path(self.path, name)
        with contextlib.ExitStack() as stack:
            try:
                mine = stack.enter_context(hold(path))
            except OSError as e:
                raise LedgerError(
                    f"{self._file.where}: cannot write the lock file {path} ({e.strerror}); make the "
                    "ledger's folder writable for this user, or free disk space"
                ) from None
            yield mine

    def lock_holder(self, name: str) -> Holder | None:
        """Who holds the lock `name`, as far as its lock file says."""
        return holder(lock_path(self.path, name))

    def locked(self, name: str) -> bool:
        """Whether a process holds the lock `name` right now (a run is sending, for `status`)."""
        return held(lock_path(self.path, name))
