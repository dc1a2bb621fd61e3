"""The suppression list: addresses that never get an issue again (unsubscribed, bounced, complained),
each with its reason and when it was added.

It lives in the ledger's file beside the deliveries, keyed as the audience is (`address_key`): a
delivery's snapshot marks a suppressed reader `skipped`, and every run skips who was suppressed
since. `Ledger` has these methods; they are apart only to keep each file about one thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from newsletter.ledger.file import LedgerFile
from newsletter.ledger.records import iso
from newsletter.model import address_key


class SuppressionList:
    """The suppression list's part of `Ledger`."""

    _file: LedgerFile

    def suppress(self, emails: Sequence[str], reason: str, now: dt.datetime) -> int:
        """Add addresses to the suppression list; how many were new.

        Their rows still due in a delivery under way become `skipped` at once, as the next run would
        mark them: `status` and the next question then count them where the run will.
        """
        with self._file.tx() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO suppressions (email_key, email, reason, added_at) VALUES (?, ?, ?, ?)",
                [(address_key(e), e, reason, iso(now)) for e in emails],
            )
            added = db.total_changes - before
            db.executemany(
                "UPDATE recipients SET status = 'skipped', last_reply = 'suppressed', updated_at = ? "
                "WHERE email_key = ? AND status IN ('pending', 'unknown')",
                [(iso(now), address_key(e)) for e in emails],
            )
            return added

    def unsuppress(self, email: str) -> bool:
        with self._file.tx() as db:
            return (
                db.execute("DELETE FROM suppressions WHERE email_key = ?", (address_key(email),)).rowcount > 0
            )

    def suppressions(self) -> list[tuple[str, str, str]]:
        """(address as it was added, reason, when), in address order."""
        rows = self._file.query("SELECT email, reason, added_at FROM suppressions ORDER BY email_key")
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def suppressed_keys(self) -> set[str]:
        """The suppressed addresses as the audience is keyed (`Recipient.key`)."""
        return {str(k) for (k,) in self._file.query("SELECT email_key FROM suppressions")}

    def is_suppressed(self, email: str) -> bool:
        return bool(self._file.query("SELECT 1 FROM suppressions WHERE email_key = ?", (address_key(email),)))
