"""The suppression list: addresses that never get an issue again (unsubscribed, bounced, complained),
each with its reason, where it came from, for which issue, and when it was added.

It lives in the ledger's file beside the deliveries, keyed as the audience is (`address_key`): a
delivery's snapshot marks a suppressed reader `skipped`, and every run skips who was suppressed
since. `Ledger` has these methods; they are apart only to keep each file about one thing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.ledger.file import LedgerFile
from newsletter.ledger.records import iso
from newsletter.model import address_key


@dataclass(frozen=True)
class Suppression:
    """One address on the list."""

    email: str  # as it was added
    reason: str  # "unsubscribed", "bounced", "complained", or what staff wrote
    source: str  # "one-click", "unsubscribe page", "mailto", "mailbox", "by hand", "import", "pulled"
    added_at: str  # ISO, UTC
    issue: str | None = None  # the issue it came back from, when known
    detail: str = ""  # the server's or the reader's words


def suppress_in(
    db: sqlite3.Connection,
    emails: Sequence[str],
    reason: str,
    now: dt.datetime,
    *,
    source: str,
    issue: str | None = None,
    detail: str = "",
    added_at: str | None = None,
) -> int:
    """Add addresses inside the transaction `db`; how many were new. See `SuppressionList.suppress`."""
    before = db.total_changes
    db.executemany(
        "INSERT OR IGNORE INTO suppressions (email_key, email, reason, added_at, source, issue, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(address_key(e), e, reason, added_at or iso(now), source, issue, detail) for e in emails],
    )
    added = db.total_changes - before
    db.executemany(
        "UPDATE recipients SET status = 'skipped', last_reply = 'suppressed', updated_at = ? "
        "WHERE email_key = ? AND status IN ('pending', 'unknown')",
        [(iso(now), address_key(e)) for e in emails],
    )
    return added


_SELECT = "SELECT email, reason, added_at, source, issue, detail FROM suppressions"
_SELECT_OLD = "SELECT email, reason, added_at, NULL, NULL, NULL FROM suppressions"


class SuppressionList:
    """The suppression list's part of `Ledger`."""

    _file: LedgerFile

    def suppress(
        self,
        emails: Sequence[str],
        reason: str,
        now: dt.datetime,
        *,
        source: str = "by hand",
        issue: str | None = None,
        detail: str = "",
    ) -> int:
        """Add addresses to the suppression list; how many were new. An address already on it keeps
        its first reason.

        Their rows still due in a delivery under way become `skipped` at once, as the next run would
        mark them: `status` and the next question then count them where the run will.
        """
        with self._file.tx() as db:
            return suppress_in(db, emails, reason, now, source=source, issue=issue, detail=detail)

    def merge_suppressions(self, pulled: Sequence[Suppression], now: dt.datetime, *, source: str) -> int:
        """Add suppressions pulled from another machine's endpoint, keeping their time and words."""
        with self._file.tx() as db:
            return sum(
                suppress_in(
                    db,
                    [s.email],
                    s.reason,
                    now,
                    source=f"{s.source} ({source})",
                    issue=s.issue,
                    detail=s.detail,
                    added_at=s.added_at,
                )
                for s in pulled
            )

    def renew_suppression(self, email: str, now: dt.datetime) -> None:
        """Date an address's suppression `now`, so that the next pull (`suppressions(since=…)`) of a
        sender elsewhere fetches it again: asked anew after that sender let the reader back in."""
        with self._file.tx() as db:
            db.execute(
                "UPDATE suppressions SET added_at = ? WHERE email_key = ?", (iso(now), address_key(email))
            )

    def unsuppress(self, email: str) -> bool:
        with self._file.tx() as db:
            return (
                db.execute("DELETE FROM suppressions WHERE email_key = ?", (address_key(email),)).rowcount > 0
            )

    def suppressions(self, *, since: str | None = None) -> list[Suppression]:
        """The list in address order; with `since` (ISO), only what was added at or after it, in time
        order (what a pull fetches: a second pull from the same moment gets the same rows again)."""
        new = self._file.has_column("suppressions", "source")  # not in a read-only older ledger
        select = _SELECT if new else _SELECT_OLD
        if since is None:
            rows = self._file.query(select + " ORDER BY email_key")
        else:
            rows = self._file.query(select + " WHERE added_at >= ? ORDER BY added_at, email_key", (since,))
        return [
            Suppression(
                email=str(email),
                reason=str(reason),
                added_at=str(added_at),
                source=str(source) if source else "by hand",
                issue=None if issue is None else str(issue),
                detail=str(detail or ""),
            )
            for email, reason, added_at, source, issue, detail in rows
        ]

    def suppressed_keys(self) -> set[str]:
        """The suppressed addresses as the audience is keyed (`Recipient.key`)."""
        return {str(k) for (k,) in self._file.query("SELECT email_key FROM suppressions")}

    def is_suppressed(self, email: str) -> bool:
        return bool(self._file.query("SELECT 1 FROM suppressions WHERE email_key = ?", (address_key(email),)))
