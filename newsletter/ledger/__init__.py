"""The delivery ledger: a SQLite file that decides who still gets an issue.

Per issue, the audience is snapshotted when its first send starts. Per recipient the ledger keeps a
status, the attempts, the Message-ID and the server's last reply:

    pending ──▶ sending ──▶ sent          the server answered 250
                   │   └──▶ failed        a 5xx reply: final, with the server's words
                   │   └──▶ pending       a 4xx reply or a connection lost before the message went out
                   └──────▶ unknown       lost after the message was handed over, or the process died
    skipped                               suppressed when the snapshot was taken

A row is marked `sending` (committed) before its message goes out and `sent` (committed) right after
the 250: whatever kills the process, at most the one message in flight per connection is in doubt, and
the next run finds it as `sending`, turns it into `unknown` and resends it once with the same
Message-ID.

Only one process may deliver an issue at a time: `Ledger.lock` takes an OS file lock beside the
database's real file, which the kernel releases when the process dies (even by SIGKILL); see
`lock`. The file itself — opening it, its schema and migrations, its errors, its identity — is
`file`; what the ledger hands back (rows, counts, the words for a status) is `records`; the
suppression list is `suppressions`, and what readers and servers said back is `feedback`.

Open it as a context manager, which closes it however the block ends:

    with Ledger(path) as ledger: ...        (or Ledger.for_reading(path), as `status` opens it)
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from newsletter.errors import LedgerError
from newsletter.ledger.feedback import FeedbackLog
from newsletter.ledger.file import LedgerFile, why_unwritable
from newsletter.ledger.lock import IssueLocks
from newsletter.ledger.records import (
    ROW_COLUMNS,
    STATUSES,
    Counts,
    Delivery,
    Outcome,
    Outlook,
    Row,
    Status,
    iso,
    outlook,
    pages,
    row,
)
from newsletter.ledger.suppressions import SuppressionList
from newsletter.model import Recipient, address_key

__all__ = ["STATUSES", "Counts", "Delivery", "Ledger", "Outcome", "Outlook", "Row", "Status"]


class Ledger(IssueLocks, SuppressionList, FeedbackLog):
    """The SQLite ledger. Safe to share between the threads of one process.

    `readonly` opens it without ever writing (for `status` on a file this user may not change);
    `setting` is the name the errors give the file (NEWSLETTER_DB), None for a throwaway ledger.
    What SQLite reports about the file, from opening it to closing it, comes out as one LedgerError
    line that names it and says what to do (`file`).
    """

    def __init__(self, path: Path, *, readonly: bool = False, setting: str | None = "NEWSLETTER_DB") -> None:
        self.path = path
        self._file = LedgerFile(path, readonly=readonly, setting=setting)
        # A ledger of an older version opened read-only has no such column, and may not get one.
        self._source = "source_path" if self._file.has_column("deliveries", "source_path") else "NULL"

    @classmethod
    def for_reading(cls, path: Path) -> Ledger:
        """The ledger opened as `status` needs it: read-only when it is not writable here, else as usual.

        A file that opens read-write but cannot be written (a read-only mount, a file of another user)
        is opened again read-only; if that fails too, the first error is the one to report.
        """
        if why_unwritable(path) is not None:
            return cls(path, readonly=True)
        try:
            return cls(path)
        except LedgerError as first:
            try:
                return cls(path, readonly=True)
            except LedgerError:
                raise first from None

    @property
    def readonly(self) -> bool:
        return self._file.readonly

    @property
    def file(self) -> LedgerFile:
        """The SQLite file, for a module that keeps a table of its own in it (`approval`)."""
        return self._file

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._file.query(sql, args)

    # -- notes -----------------------------------------------------------------------------------

    def note(self, key: str) -> str | None:
        """A value the product keeps for itself in the ledger (e.g. which stuck dispatch was reported)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_note(self, key: str, value: str) -> None:
        with self._file.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- deliveries ----------------------------------------------------------------------------

    def delivery(self, issue: str) -> Delivery | None:
        rows = self._query(
            # _source is one of two fixed words, never input.
            "SELECT issue, subject, content_hash, audience_source, started_at, finished_at, reported_at, "  # noqa: S608
            f"{self._source} FROM deliveries WHERE issue = ?",
            (issue,),
        )
        if not rows:
            return None
        r = rows[0]
        return Delivery(
            issue=str(r[0]),
            subject=str(r[1]),
            content_hash=str(r[2]),
            audience_source=str(r[3]),
            started_at=dt.datetime.fromisoformat(str(r[4])),
            finished_at=dt.datetime.fromisoformat(str(r[5])) if r[5] else None,
            reported_at=dt.datetime.fromisoformat(str(r[6])) if r[6] else None,
            source_path=None if r[7] is None else str(r[7]),
        )

    def deliveries(self) -> list[Delivery]:
        names = self._query("SELECT issue FROM deliveries ORDER BY started_at")
        return [d for (name,) in names if (d := self.delivery(str(name))) is not None]

    def start(
        self,
        issue: str,
        *,
        subject: str,
        content_hash: str,
        audience_source: str,
        recipients: Iterable[Recipient],
        now: dt.datetime,
        source_path: str | None = None,
        list_id: str | None = None,
    ) -> bool:
        """Snapshot the audience of a new delivery; False (and nothing written) if it already exists.

        `subject` and `source_path` (the issue file, resolved) are the delivery's fingerprint, by which
        another issue under the same slug is told apart (`campaign.check_same_issue`).
        """
        with self._file.tx() as db:
            if db.execute("SELECT 1 FROM deliveries WHERE issue = ?", (issue,)).fetchone():
                return False
            db.execute(
                "INSERT INTO deliveries (issue, subject, content_hash, audience_source, started_at, "
                "source_path, list_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (issue, subject, content_hash, audience_source, iso(now), source_path, list_id),
            )
            suppressed = {k for (k,) in db.execute("SELECT email_key FROM suppressions")}
            db.executemany(
                "INSERT INTO recipients (issue, position, email, email_key, first_name, name, fields, "
                "status, last_reply, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                # A generator: the snapshot of a large audience is not built twice in memory.
                (
                    (
                        issue,
                        i,
                        r.email,
                        r.key,
                        r.first_name,
                        r.name,
                        json.dumps(r.fields),
                        "skipped" if r.key in suppressed else "pending",
                        "suppressed" if r.key in suppressed else None,
                        iso(now),
                    )
                    for i, r in enumerate(recipients)
                ),
            )
        return True

    def refingerprint(self, issue: str, subject: str, source_path: str) -> None:
        """Record the subject and file a resumed delivery goes on with (a corrected subject, a moved file)."""
        with self._file.tx() as db:
            db.execute(
                "UPDATE deliveries SET subject = ?, source_path = ? WHERE issue = ?",
                (subject, source_path, issue),
            )

    def recover(self, issue: str, now: dt.datetime) -> int:
        """Turn rows left `sending` by a dead process into `unknown`; how many there were.

        Call only while holding the issue's lock: then no live process is sending them.
        """
        with self._file.tx() as db:
            cur = db.execute(
                "UPDATE recipients SET status = 'unknown', ambiguous = ambiguous + 1, updated_at = ?, "
                "last_reply = 'interrupted after the message may have been handed over' "
                "WHERE issue = ? AND status = 'sending'",
                (iso(now), issue),
            )
            return cur.rowcount

    def skip_suppressed(self, issue: str, now: dt.datetime) -> int:
        """Mark `skipped` the open rows of addresses suppressed since the snapshot; how many.

        Without this they would stay pending forever and the delivery would never be complete.
        """
        with self._file.tx() as db:
            cur = db.execute(
                "UPDATE recipients SET status = 'skipped', last_reply = 'suppressed', updated_at = ? "
                "WHERE issue = ? AND status IN ('pending', 'unknown') "
                "AND email_key IN (SELECT email_key FROM suppressions)",
                (iso(now), issue),
            )
            return cur.rowcount

    # Who is due now: pending rows, and unknown ones not yet resent.
    _DUE = (
        "FROM recipients WHERE issue = ? AND (status = 'pending' OR (status = 'unknown' AND ambiguous = 1)) "
        "AND email_key NOT IN (SELECT email_key FROM suppressions)"
    )
    # What the next run will do with each row, read without changing anything: as recover(),
    # retry_failed() (when the parameter is 1) and skip_suppressed() will leave it, then `_DUE`.
    # One of: sent, suppressed, failed, retry (a failed row put back), due, doubt (resent once).
    _OUTLOOK = (
        "CASE WHEN status = 'sent' THEN 'sent' WHEN status = 'skipped' THEN 'suppressed' "
        "WHEN status = 'failed' AND NOT ? THEN 'failed' "
        "WHEN email_key IN (SELECT email_key FROM suppressions) THEN 'suppressed' "
        "WHEN status = 'failed' THEN 'retry' "
        "WHEN status = 'pending' OR (status = 'unknown' AND ambiguous = 1) "
        "OR (status = 'sending' AND ambiguous = 0) THEN 'due' ELSE 'doubt' END"
    )

    def due(self, issue: str, limit: int | None = None, *, after: int = -1) -> list[Row]:
        """Who gets the issue in this run: pending rows, and unknown ones not yet resent, in order.

        An `unknown` row is resent once (with the same Message-ID); one that became unknown again is
        left for a person to check, so nobody gets more than one extra copy. `after` and `limit` page
        through a large audience by position.
        """
        return self._page(self._DUE, [issue], after, limit)

    def _page(self, where: str, args: list[object], after: int, limit: int | None) -> list[Row]:
        sql = f"SELECT {ROW_COLUMNS} {where} AND position > ? ORDER BY position"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [row(r) for r in self._query(sql, [*args, after])]

    def due_pages(self, issue: str, limit: int | None = None, page: int = 500) -> Iterator[list[Row]]:
        """`due` a page at a time, so a large delivery never holds every row in memory."""
        return pages(lambda after, n: self.due(issue, n, after=after), limit, page)

    def count_due(self, issue: str) -> int:
        ((n,),) = self._query(f"SELECT count(*) {self._DUE}", (issue,))
        return int(n)

    def outlook(self, issue: str, *, retry_failed: bool = False) -> dict[Outlook, int]:
        """How many rows of the delivery the next run finds in each `_OUTLOOK` class."""
        rows = self._query(
            f"SELECT {self._OUTLOOK} AS next, count(*) FROM recipients WHERE issue = ? GROUP BY next",  # noqa: S608
            (int(retry_failed), issue),
        )
        return {outlook(kind): int(n) for kind, n in rows}

    def upcoming(self, issue: str, limit: int, *, retry_failed: bool = False) -> Iterator[Row]:
        """The first `limit` rows the next run will send to, in its order, read a page at a time."""
        where = f"FROM recipients WHERE issue = ? AND {self._OUTLOOK} IN ('due', 'retry')"
        for page in pages(lambda after, n: self._page(where, [issue, int(retry_failed)], after, n), limit):
            yield from page

    def retry_failed(self, issue: str, now: dt.datetime) -> int:
        """Put the failed rows back to pending, their attempts and last reply kept; how many.

        For when the cause of a final refusal was fixed (a full mailbox emptied, a relay's rule). The
        delivery is open again until they are sent: it gets a new finish time.
        """
        with self._file.tx() as db:
            cur = db.execute(
                "UPDATE recipients SET status = 'pending', updated_at = ? "
                "WHERE issue = ? AND status = 'failed'",
                (iso(now), issue),
            )
            if cur.rowcount:
                db.execute("UPDATE deliveries SET finished_at = NULL WHERE issue = ?", (issue,))
            return cur.rowcount

    def rows(self, issue: str, status: Status | None = None) -> list[Row]:
        sql = f"SELECT {ROW_COLUMNS} FROM recipients WHERE issue = ?1 "  # noqa: S608 - fixed words only
        sql += "AND (?2 IS NULL OR status = ?2) ORDER BY position"
        return [row(r) for r in self._query(sql, (issue, status))]

    def counts(self, issue: str) -> Counts:
        rows = self._query(
            "SELECT status, count(*), sum(ambiguous = 1) FROM recipients WHERE issue = ? GROUP BY status",
            (issue,),
        )
        values = dict.fromkeys(STATUSES, 0) | {str(status): int(n) for status, n, _ in rows}
        resendable = sum(int(once) for status, _, once in rows if status == "unknown")
        return Counts(audience=sum(values.values()), unknown_resendable=resendable, **values)

    def mark_sending(
        self,
        issue: str,
        email: str,
        message_id: str,
        now: dt.datetime,
        *,
        sent_before: tuple[str, str] | None = None,
    ) -> bool:
        """Record that a message is about to be handed over, committed before it is; False if the row
        is no longer due (suppressed since the run read it: an unsubscribe), and then it must not go.

        `sent_before` (address, reply) records the previous message of the same connection as sent
        in the same transaction: one commit per message, never more than one per connection in doubt.
        """
        with self._file.tx() as db:
            if sent_before is not None:
                self._record(db, issue, sent_before[0], "sent", sent_before[1], now, 0)
            claimed = db.execute(
                "UPDATE recipients SET status = 'sending', attempts = attempts + 1, message_id = ?, "
                "updated_at = ? WHERE issue = ? AND email_key = ? AND status IN ('pending', 'unknown') "
                "AND email_key NOT IN (SELECT email_key FROM suppressions)",
                (message_id, iso(now), issue, address_key(email)),
            )
            return claimed.rowcount == 1

    def mark(
        self, issue: str, email: str, status: Outcome, reply: str, now: dt.datetime, *, ambiguous: bool = True
    ) -> None:
        """Record the outcome of one attempt: sent, failed, pending (retry later) or unknown.

        `unknown` counts one more ambiguous hand-over unless `ambiguous` is False.
        """
        with self._file.tx() as db:
            self._record(db, issue, email, status, reply, now, 1 if status == "unknown" and ambiguous else 0)

    @staticmethod
    def _record(
        db: sqlite3.Connection,
        issue: str,
        email: str,
        status: Outcome,
        reply: str,
        now: dt.datetime,
        increment: int,
    ) -> None:
        sent_at = iso(now) if status == "sent" else None
        db.execute(
            "UPDATE recipients SET status = ?, last_reply = ?, updated_at = ?, "
            "sent_at = coalesce(?, sent_at), ambiguous = ambiguous + ? WHERE issue = ? AND email_key = ?",
            (status, reply, iso(now), sent_at, increment, issue, address_key(email)),
        )

    def finish(self, issue: str, now: dt.datetime) -> None:
        with self._file.tx() as db:
            db.execute(
                "UPDATE deliveries SET finished_at = ? WHERE issue = ? AND finished_at IS NULL",
                (iso(now), issue),
            )

    def mark_reported(self, issue: str, now: dt.datetime) -> None:
        with self._file.tx() as db:
            db.execute("UPDATE deliveries SET reported_at = ? WHERE issue = ?", (iso(now), issue))

    def sent_since(self, since: dt.datetime) -> int:
        """Messages accepted by the server since `since`, over all issues (for the daily limit)."""
        ((n,),) = self._query("SELECT count(*) FROM recipients WHERE sent_at >= ?", (iso(since),))
        return int(str(n))

    def nth_sent_since(self, since: dt.datetime, n: int) -> dt.datetime | None:
        """When the `n`-th (from 0) oldest message accepted since `since` was, over all issues."""
        found = self._query(
            "SELECT sent_at FROM recipients WHERE sent_at >= ? ORDER BY sent_at LIMIT 1 OFFSET ?",
            (iso(since), n),
        )
        return dt.datetime.fromisoformat(str(found[0][0])) if found else None
