"""A throwaway copy of the ledger for `newsletter mailbox --dry-run`: the handler judges each message
against what the ledger knows (whom a bounce is about, what was recorded before) and records in the
copy, which is gone afterwards. The real ledger is only read."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from newsletter.errors import LedgerError
from newsletter.ledger import Ledger


@contextlib.contextmanager
def ledger_copy(db: Path) -> Iterator[Ledger]:
    """A copy of the ledger at `db` (an empty ledger if there is none yet), deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="newsletter-") as folder:
        copy = Path(folder) / "rehearsal.sqlite3"
        if db.exists():
            try:
                # SQLite's backup reads a consistent state, the write-ahead log included.
                source = f"{db.resolve().as_uri()}?mode=ro"
                with (
                    contextlib.closing(sqlite3.connect(source, uri=True)) as src,
                    contextlib.closing(sqlite3.connect(copy)) as dst,
                ):
                    src.backup(dst)
            except sqlite3.Error as e:
                raise LedgerError(f"NEWSLETTER_DB={db}: cannot read it for the dry run ({e})") from None
        with Ledger(copy, setting=None) as ledger:
            yield ledger
