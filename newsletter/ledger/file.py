"""The ledger's SQLite file: opening it (read-write, or read-only for `status`), its schema and the
migrations of older files, one transaction at a time, and the file's identity.

Every SQLite error comes out as a LedgerError of one line that names the setting (NEWSLETTER_DB=…)
and says what to do: a damaged file, a read-only one, a full disk, another process holding it
locked. One rule does it, `_translated`, and every statement passes through it: while the file is
opened, and after that through the only two doors to the connection, `tx` and `query` (and
`has_column`, `close`). The file's identity — device and
inode, remembered when it is opened — is checked in every write transaction: a ledger deleted,
replaced or emptied while a send runs stops the send at its next commit, instead of the send going
on recording into a file that nobody will ever read again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from newsletter.errors import LedgerError
from newsletter.model import address_key
from newsletter.reading.recipients import check_address

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    issue TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    audience_source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    reported_at TEXT,
    source_path TEXT
);
CREATE TABLE IF NOT EXISTS recipients (
    issue TEXT NOT NULL REFERENCES deliveries(issue),
    position INTEGER NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unknown', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    ambiguous INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    last_reply TEXT,
    updated_at TEXT,
    sent_at TEXT,
    PRIMARY KEY (issue, email_key)
);
-- Only columns that never change are indexed: an index on status or sent_at doubled the cost of
-- the commit every message makes. Paging by position finds the due rows; the daily limit's count
-- of sent_at scans once per run.
CREATE INDEX IF NOT EXISTS recipients_by_position ON recipients (issue, position);
CREATE TABLE IF NOT EXISTS suppressions (
    email_key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Who approved which version of an issue (`newsletter approve`), one row per approval; the last one
-- counts. The fingerprint is of what readers get (`approval.fingerprint`), not of the file's text.
-- An older ledger gets the table when it is next opened for writing, as this script runs then.
CREATE TABLE IF NOT EXISTS approvals (
    issue TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at TEXT NOT NULL,
    subject TEXT NOT NULL,
    audience_source TEXT NOT NULL DEFAULT '',
    source_path TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS approvals_by_issue ON approvals (issue);
-- What readers and mail servers said back (`ledger.feedback`): unsubscribes, bounces, complaints,
-- and refusals that blame the sender. `evidence` names what it came from (the bounce's Message-ID,
-- a token's reader): the same evidence read twice is one row.
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL
        CHECK (kind IN ('unsubscribed', 'complained', 'bounced_hard', 'bounced_soft', 'sender_blamed')),
    email_key TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    issue TEXT,
    source TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    evidence TEXT UNIQUE,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_address ON feedback (email_key, kind);
"""

# Columns added since the first ledgers were written: (table, column, type). An older file gets them
# when it is opened for writing; its existing rows hold NULL there, which means "not known".
ADDED_COLUMNS = (
    ("deliveries", "source_path", "TEXT"),
    # The List-Id of the delivery, by which an old-form unsubscribe token is matched.
    ("deliveries", "list_id", "TEXT"),
    # Where a suppression came from ("one-click", "mailbox", "by hand"), for which issue, in whose words.
    ("suppressions", "source", "TEXT"),
    ("suppressions", "issue", "TEXT"),
    ("suppressions", "detail", "TEXT"),
)

# What went wrong and what to do, by SQLite's primary result code (SQLITE_IOERR_WRITE is an IOERR).
_PROBLEMS = {
    "SQLITE_NOTADB": (
        "this is not a ledger",
        "point {setting} at your ledger file, or restore it from its latest backup",
    ),
    "SQLITE_CORRUPT": (
        "the ledger is damaged",
        "restore it from its latest backup, then run the same command again",
    ),
    "SQLITE_READONLY": (
        "the ledger cannot be written",
        "make the file and its folder writable for this user",
    ),
    "SQLITE_PERM": ("no permission", "make the file and its folder readable and writable for this user"),
    "SQLITE_AUTH": ("no permission", "make the file and its folder readable and writable for this user"),
    "SQLITE_FULL": (
        "the disk is full",
        "free disk space, then run the same command again; what was sent until now is recorded",
    ),
    "SQLITE_IOERR": ("the disk failed", "check the disk and its free space, then run the same command again"),
    "SQLITE_CANTOPEN": (
        "cannot open the ledger file",
        "check that its folder exists and that this user may create files in it",
    ),
    "SQLITE_BUSY": ("another process kept the ledger locked", "wait for it to finish, then try again"),
    "SQLITE_LOCKED": ("another process kept the ledger locked", "wait for it to finish, then try again"),
}
_OTHER = (
    "cannot use the ledger database",
    "point {setting} at your ledger file, or restore it from its latest backup",
)


def why_unwritable(path: Path) -> str | None:
    """Why this process cannot write the ledger `path` and the files SQLite keeps beside it, if so."""
    with contextlib.suppress(OSError):
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "read-only file system"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(path.parent, os.W_OK):
        return "its folder is read-only"
    return None


def _primary(error: sqlite3.Error) -> str:
    name = str(getattr(error, "sqlite_errorname", "") or "")
    return "_".join(name.split("_")[:2])


class LedgerFile:
    """One SQLite connection to the ledger, shared by the threads of one process."""

    def __init__(self, path: Path, *, readonly: bool = False, setting: str | None = "NEWSLETTER_DB") -> None:
        self.path = path
        self.readonly = readonly
        self.setting = setting or "the ledger"
        self.where = f"{setting}={path}" if setting else str(path)
        self._mutex = threading.Lock()
        self._identity: tuple[int, int] | None = None
        with self._translated():
            self._db = self._open_readonly() if readonly else self._open()
        if not readonly:
            try:
                with self._translated():
                    self._prepare()
                stat = path.stat()
            except (LedgerError, OSError) as e:
                self._db.close()
                if isinstance(e, OSError):
                    raise LedgerError(f"{self.where}: cannot read the ledger file ({e.strerror})") from None
                raise
            self._identity = (stat.st_dev, stat.st_ino)

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LedgerError(
                f"{self.where}: cannot create the folder of the ledger ({e.strerror}); create it, or point "
                f"{self.setting} elsewhere"
            ) from None
        unwritable = why_unwritable(self.path)
        if unwritable is not None:
            # Found out here rather than from SQLite, which says "unable to open database file".
            raise LedgerError(
                f"{self.where}: the ledger cannot be written ({unwritable}): make the file and its folder "
                "writable for this user"
            )
        return sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)

    def _open_readonly(self) -> sqlite3.Connection:
        """Open without ever writing: no journal switch, no tables created, no migration.

        A ledger in WAL mode is read through its `-shm` index, which SQLite must be able to create;
        on a read-only file system it cannot. Without a `-wal` file beside it no writer is at work, and
        the file can be read as immutable.
        """
        uri = self.path.absolute().as_uri() + "?mode=ro"
        try:
            return self._connect_probed(uri)
        except sqlite3.OperationalError as e:
            wal = self.path.with_name(self.path.name + "-wal")
            if _primary(e) != "SQLITE_CANTOPEN" or not self.path.is_file() or wal.exists():
                raise
            return self._connect_probed(uri + "&immutable=1")

    @staticmethod
    def _connect_probed(uri: str) -> sqlite3.Connection:
        db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _prepare(self) -> None:
        # Two processes opening a new ledger at once (two cron runs) race to switch it to WAL, and
        # SQLite answers that switch with "locked" at once instead of waiting: try again a while.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                # WAL with NORMAL sync survives a process crash; only a power loss may lose the last commits.
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(SCHEMA)
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._migrate()

    def _migrate(self) -> None:
        # In one write transaction: of two processes opening an old file at once, the second sees the
        # columns the first added.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table, column, kind in ADDED_COLUMNS:
                if column not in self._columns(table):
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self._normalise_suppressions()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _normalise_suppressions(self) -> None:
        """Key the suppressions of an older ledger as the audience is keyed now, once.

        Older versions stored an address as typed (` Spaced@Example.org `, a domain in unicode) while
        the audience was normalised, so such a reader was mailed although suppressed.
        """
        done = self._db.execute("SELECT 1 FROM meta WHERE key = 'suppressions_normalised'").fetchone()
        if done:
            return
        for key, email in list(self._db.execute("SELECT email_key, email FROM suppressions")):
            try:
                address = check_address(str(email))
            except ValueError:
                address = str(email).strip()
            if address_key(address) == key:
                continue
            self._db.execute(
                "INSERT OR IGNORE INTO suppressions (email_key, email, reason, added_at) "
                "SELECT ?, ?, reason, added_at FROM suppressions WHERE email_key = ?",
                (address_key(address), address, key),
            )
            self._db.execute("DELETE FROM suppressions WHERE email_key = ?", (key,))
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('suppressions_normalised', '1')")

    def _columns(self, table: str) -> set[str]:
        return {str(row[1]) for row in self._db.execute(f"PRAGMA table_info({table})")}

    def has_column(self, table: str, column: str) -> bool:
        """Whether the file has this column; a read-only ledger of an older version may lack it."""
        with self._using():
            return column in self._columns(table)

    def close(self) -> None:
        with self._using():
            self._db.close()

    # -- using it ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, after checking that the file is still the one that was opened."""
        with self._using():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._check_same_file()
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # After some errors (a full disk) SQLite has rolled back already.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement, read to the end inside the rule: no cursor is left to fail later."""
        with self._using():
            return list(self._db.execute(sql, args))

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """The connection, for one thread at a time, with its errors translated."""
        with self._mutex, self._translated():
            yield

    def _check_same_file(self) -> None:
        """Raise if the ledger file was deleted, replaced or emptied since it was opened.

        One stat per commit. A deleted or replaced file goes on working for this connection, which
        holds the old one open: every record after that would be lost to the next run, which would
        send the issue again to everyone recorded since. (A copy written over the file in place keeps
        its inode and is not seen here; SQLite then soon reports the file as damaged.)
        """
        if self._identity is None:
            raise LedgerError(f"{self.where}: opened read-only; nothing can be recorded")
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            what = "deleted"
        except OSError as e:
            raise LedgerError(
                f"{self.where}: cannot check the ledger file ({e.strerror}); nothing more was sent. "
                "Check the disk, then run the same command again"
            ) from None
        else:
            if (stat.st_dev, stat.st_ino) != self._identity:
                what = "replaced"
            elif stat.st_size == 0:
                what = "emptied"
            else:
                return
        raise LedgerError(
            f"{self.where}: the ledger file was {what} while sending; nothing more was sent. Restore it "
            "(put the file back, or its latest backup) before sending again: without it, those who "
            "already got the issue get it again"
        )

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """SQLite's errors as one LedgerError line that names the file and says what to do."""
        try:
            yield
        except sqlite3.Error as e:
            # What SQLite reports about the database carries its result code: locked, damaged, full,
            # read-only. Two kinds are bugs in our code, not the user's to fix, and keep their
            # traceback: a broken rule of the schema (IntegrityError: a status it does not know, an
            # address twice in a delivery) and a misuse of the connection that Python's sqlite3
            # reports without a code (a ledger used after it was closed, a wrong parameter).
            if isinstance(e, sqlite3.IntegrityError) or getattr(e, "sqlite_errorcode", None) is None:
                raise
            raise self._problem(e) from None

    def _problem(self, error: sqlite3.Error) -> LedgerError:
        what, fix = _PROBLEMS.get(_primary(error), _OTHER)
        return LedgerError(f"{self.where}: {what} ({error}): {fix.format(setting=self.setting)}")
