"""What the ledger hands back: a delivery, one recipient's row, the counts, and the words for a
row's status and for what the next run will do with it.

The words are `Literal`s, so that a typo in a status (`"sen"`) is a type error, not a row that no
query ever finds; the schema's CHECK holds the same list.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, get_args

from newsletter.model import Recipient

Status = Literal["pending", "sending", "sent", "failed", "unknown", "skipped"]
"""A recipient's row: see the life of a row in `newsletter.ledger`."""
STATUSES: tuple[Status, ...] = get_args(Status)

Outcome = Literal["sent", "failed", "pending", "unknown"]
"""What one attempt left a row as (`Ledger.mark`): `sending` and `skipped` are set by the ledger itself."""

Outlook = Literal["sent", "suppressed", "failed", "retry", "due", "doubt"]
"""What the next run will do with a row (`Ledger.outlook`): sent already, suppressed, failed for good,
retry (a failed row that --retry-failed puts back), due, or doubt (resent once already, left alone)."""
OUTLOOKS: tuple[Outlook, ...] = get_args(Outlook)

# From the database's text to the word, refusing any other: the schema's CHECK makes that a bug.
_STATUS: dict[str, Status] = {s: s for s in STATUSES}
_OUTLOOK: dict[str, Outlook] = {o: o for o in OUTLOOKS}


def status(text: object) -> Status:
    return _STATUS[str(text)]


def outlook(text: object) -> Outlook:
    return _OUTLOOK[str(text)]


def iso(moment: dt.datetime) -> str:
    """A moment as the ledger stores it: UTC, to the millisecond, so that text order is time order."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Delivery:
    issue: str
    subject: str
    content_hash: str
    audience_source: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    reported_at: dt.datetime | None
    source_path: str | None = None  # the issue file, resolved; None in a delivery of an older version


@dataclass(frozen=True)
class Row:
    """One recipient of one delivery."""

    position: int
    recipient: Recipient
    status: Status
    attempts: int
    ambiguous: int
    message_id: str | None
    last_reply: str | None
    sent_at: str | None


@dataclass(frozen=True)
class Counts:
    audience: int = 0
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    unknown_resendable: int = 0  # unknown rows still owed their one resend

    @property
    def open(self) -> int:
        """Recipients who may still get the issue; an unknown row resent once is left to a person."""
        return self.pending + self.sending + self.unknown_resendable

    @property
    def complete(self) -> bool:
        return self.open == 0


# The columns `row` reads, in its order.
ROW_COLUMNS = (
    "position, email, first_name, name, fields, status, attempts, ambiguous, message_id, last_reply, sent_at"
)


def row(r: tuple[object, ...]) -> Row:
    """A `Row` from the `ROW_COLUMNS` of one database row."""
    fields = tuple((str(k), str(v)) for k, v in json.loads(str(r[4])))
    return Row(
        position=int(str(r[0])),
        recipient=Recipient(email=str(r[1]), first_name=str(r[2]), name=str(r[3]), fields=fields),
        status=status(r[5]),
        attempts=int(str(r[6])),
        ambiguous=int(str(r[7])),
        message_id=None if r[8] is None else str(r[8]),
        last_reply=None if r[9] is None else str(r[9]),
        sent_at=None if r[10] is None else str(r[10]),
    )


def pages(fetch: Callable[[int, int], list[Row]], limit: int | None, page: int = 500) -> Iterator[list[Row]]:
    """Rows a page at a time by position (`fetch(after, n)`), `limit` of them at most."""
    left, after = limit, -1
    while left is None or left > 0:
        rows = fetch(after, page if left is None else min(page, left))
        if not rows:
            return
        yield rows
        after = rows[-1].position
        if left is not None:
            left -= len(rows)
