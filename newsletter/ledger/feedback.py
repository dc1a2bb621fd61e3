"""What comes back after a send: readers who unsubscribe or complain, servers that bounce a message,
and refusals that blame the sender rather than the address.

Each is one `Feedback` row in the ledger's file. Recording one is idempotent by its `evidence` (the
bounce's own Message-ID, the token's reader): the same mail read twice, or the same button pressed
twice, is one row. Kinds that end a reader's subscription put the address on the suppression list
in the same transaction. `Ledger` has these methods; they are apart only to keep each file about one
thing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args

from newsletter.ledger.file import LedgerFile
from newsletter.ledger.records import iso
from newsletter.ledger.suppressions import suppress_in
from newsletter.model import address_key

FeedbackKind = Literal["unsubscribed", "complained", "bounced_hard", "bounced_soft", "sender_blamed"]
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)
_KIND: dict[str, FeedbackKind] = {k: k for k in FEEDBACK_KINDS}

# The suppression reason each kind gives; a soft bounce suppresses only once there are several
# (`Ledger.soft_bounces`), a sender-blamed refusal never: it is for staff to fix.
SUPPRESSES: dict[FeedbackKind, str] = {
    "unsubscribed": "unsubscribed",
    "complained": "complained",
    "bounced_hard": "bounced",
}


# The evidence of an old-form link that named nobody this ledger sent to: "old link <token>".
OLD_LINK = "old link "


@dataclass(frozen=True)
class Feedback:
    kind: FeedbackKind
    email: str  # the reader's address; may be "" for a sender-blamed refusal that names nobody
    source: str  # "one-click", "unsubscribe page", "mailto", "mailbox"
    at: dt.datetime
    issue: str | None = None  # the issue it answers, when known
    detail: str = ""  # the server's or the reader's words
    evidence: str | None = None  # what it came from; the same evidence is recorded once


class FeedbackLog:
    """The feedback part of `Ledger`."""

    _file: LedgerFile

    def record(self, event: Feedback, *, suppress_as: str | None = None) -> bool:
        """Record `event`; False if its evidence was recorded before (then nothing changes).

        Its address is suppressed in the same transaction when its kind says so, or with reason
        `suppress_as` (a soft bounce that was one too many).
        """
        reason = suppress_as or SUPPRESSES.get(event.kind)
        with self._file.tx() as db:
            try:
                db.execute(
                    "INSERT INTO feedback (kind, email_key, email, issue, source, detail, evidence, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.kind,
                        address_key(event.email) if event.email else "",
                        event.email,
                        event.issue,
                        event.source,
                        event.detail,
                        event.evidence,
                        iso(event.at),
                    ),
                )
            except sqlite3.IntegrityError:
                if event.evidence is None:
                    raise
                return False
            if reason and event.email:
                suppress_in(
                    db,
                    [event.email],
                    reason,
                    event.at,
                    source=event.source,
                    issue=event.issue,
                    detail=event.detail,
                )
        return True

    def knows_evidence(self, evidence: str) -> bool:
        return self._has_feedback() and bool(
            self._file.query("SELECT 1 FROM feedback WHERE evidence = ?", (evidence,))
        )

    def soft_bounces(self, email: str, since: dt.datetime) -> int:
        """How many temporary failures this address had since `since`."""
        if not self._has_feedback():
            return 0
        rows = self._file.query(
            "SELECT count(*) FROM feedback WHERE email_key = ? AND kind = 'bounced_soft' AND at >= ?",
            (address_key(email), iso(since)),
        )
        return int(rows[0][0])

    def feedback_counts(self, issue: str) -> dict[FeedbackKind, int]:
        """Per kind, how many addresses answered this issue so (each counted once per kind)."""
        counts: dict[FeedbackKind, int] = dict.fromkeys(FEEDBACK_KINDS, 0)
        if not self._has_feedback():
            return counts
        for kind, n in self._file.query(
            # A refusal that names no address counts once per row.
            "SELECT kind, count(DISTINCT CASE WHEN email_key = '' THEN 'row ' || id ELSE email_key END) "
            "FROM feedback "
            "WHERE issue = ? GROUP BY kind",
            (issue,),
        ):
            counts[_KIND[str(kind)]] = int(n)
        return counts

    def feedback(
        self, *, kind: FeedbackKind | None = None, issue: str | None = None, since: dt.datetime | None = None
    ) -> list[Feedback]:
        """The recorded feedback in time order, of one kind, one issue, or since a moment."""
        if not self._has_feedback():
            return []
        moment = None if since is None else iso(since)
        rows = self._file.query(
            "SELECT kind, email, source, at, issue, detail, evidence FROM feedback "
            "WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR issue = ?2) AND (?3 IS NULL OR at >= ?3) "
            "ORDER BY at, id",
            (kind, issue, moment),
        )
        return [
            Feedback(
                kind=_KIND[str(k)],
                email=str(e),
                source=str(s),
                at=dt.datetime.fromisoformat(str(a)),
                issue=None if i is None else str(i),
                detail=str(d),
                evidence=None if v is None else str(v),
            )
            for k, e, s, a, i, d, v in rows
        ]

    def old_links(self, since: str) -> list[tuple[str, str, str]]:
        """(token, source, at) of old-form links unsubscribed from at or after `since` that this
        ledger could not match (`web.readers.defer_old_link`), for a sender's pull to match."""
        if not self._has_feedback():
            return []
        rows = self._file.query(
            "SELECT substr(evidence, length(?) + 1), source, at FROM feedback WHERE kind = 'unsubscribed' "
            "AND email = '' AND evidence LIKE ? AND at >= ? ORDER BY at, id",
            (OLD_LINK, OLD_LINK + "%", since),
        )
        return [(str(t), str(s), str(a)) for t, s, a in rows]

    # -- finding whom a bounce is about ---------------------------------------------------------

    def find_message(self, message_id: str) -> tuple[str, str] | None:
        """(issue, address) of the message sent with this Message-ID (with or without <>), if any."""
        bare = message_id.strip().strip("<>")
        rows = self._file.query(
            "SELECT issue, email FROM recipients WHERE message_id = ? LIMIT 1", (f"<{bare}>",)
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def find_tag(self, tag: str) -> tuple[str, str] | None:
        """(issue, address) of the message whose Message-ID has this VERP tag (`tokens.message_tag`)."""
        rows = self._file.query(
            "SELECT issue, email FROM recipients WHERE message_id LIKE ? LIMIT 1", (f"%.{tag}@%",)
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def latest_issue_to(self, email: str, list_id: str | None = None) -> str | None:
        """The last issue that went (or was handed over) to this address, if any; with `list_id`, the
        last of that list (or of a delivery that did not record its list)."""
        if list_id is None or not self._file.has_column("deliveries", "list_id"):
            rows = self._file.query(
                "SELECT issue FROM recipients WHERE email_key = ? AND message_id IS NOT NULL "
                "ORDER BY updated_at DESC LIMIT 1",
                (address_key(email),),
            )
        else:
            rows = self._file.query(
                "SELECT r.issue FROM recipients r JOIN deliveries d ON d.issue = r.issue "
                "WHERE r.email_key = ? AND r.message_id IS NOT NULL AND (d.list_id IS NULL OR d.list_id = ?) "
                "ORDER BY r.updated_at DESC LIMIT 1",
                (address_key(email), list_id),
            )
        return str(rows[0][0]) if rows else None

    def sent_addresses(self) -> Iterator[str]:
        """Every address an issue was handed over to, once each: whom an old token may belong to."""
        for (email,) in self._file.query(
            "SELECT DISTINCT email FROM recipients WHERE message_id IS NOT NULL ORDER BY email"
        ):
            yield str(email)

    def list_ids(self) -> set[str]:
        """The List-Ids deliveries were recorded with (a delivery of an older version has none)."""
        if not self._file.has_column("deliveries", "list_id"):
            return set()
        return {str(v) for (v,) in self._file.query("SELECT DISTINCT list_id FROM deliveries") if v}

    def _has_feedback(self) -> bool:
        """Whether the file has the feedback table; a read-only ledger of an older version has not."""
        return bool(
            self._file.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'")
        )
