"""A ledger file as the first version of `newsletter` wrote it, before deliveries kept their issue
file's path and before the meta table: for the tests that an existing ledger keeps working."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

# The CREATE statements of that version, as they were.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    issue TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    audience_source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    reported_at TEXT
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
"""


def write_old_ledger(
    path: Path, issue: str, subject: str, statuses: dict[str, str], audience_source: str = "leden.csv"
) -> None:
    """An old-version ledger at `path` with one delivery of `issue` to the addresses in `statuses`,
    each with its status (pending, sent, …)."""
    db = sqlite3.connect(path)
    try:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO deliveries (issue, subject, content_hash, audience_source, started_at) "
            "VALUES (?, ?, 'from-the-old-version', ?, '2026-01-20T08:00:00.000+00:00')",
            (issue, subject, audience_source),
        )
        db.executemany(
            "INSERT INTO recipients (issue, position, email, email_key, first_name, fields, status, "
            "sent_at, message_id) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?)",
            [
                (
                    issue,
                    i,
                    email,
                    email.lower(),
                    json.dumps([]),
                    status,
                    "2026-01-20T08:00:01.000+00:00" if status == "sent" else None,
                    f"<{i}.{issue}@example.org>" if status == "sent" else None,
                )
                for i, (email, status) in enumerate(statuses.items())
            ],
        )
        db.commit()
    finally:
        db.close()
