"""What a run is allowed: its connections, the messages per connection, --limit and the daily limit,
the retries of one recipient, and how many messages that leaves it (`run_budget`)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from newsletter.ledger import Ledger

Cap = Literal["limit", "daily limit"]
"""Which cap holds a run back: --limit (or dispatch's --max), or NEWSLETTER_DAILY_LIMIT."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between attempts at one recipient."""

    base: float = 2.0
    cap: float = 60.0
    attempts: int = 4  # per recipient per run; what still fails stays pending for the next run

    def delay(self, attempt: int, rng: random.Random) -> float:
        return float(min(self.cap, self.base * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0))


@dataclass
class Options:
    connections: int = 1
    messages_per_connection: int = 100
    limit: int | None = None
    daily_limit: int | None = None
    backoff: Backoff = field(default_factory=Backoff)
    subject_prefix: str = ""
    # How long to keep trying to reach a server that does not answer before the run stops: each try
    # can take the whole connection timeout, so four of them would quadruple it.
    give_up_after: float = 30.0


def run_budget(options: Options, sent_today: int) -> tuple[int | None, Cap]:
    """How many messages a run may send (None: no cap) and which cap that is: 'limit' (--limit,
    --max) or 'daily limit' (`sent_today` of them went out in the last 24 hours, over all issues).

    The one rule for it: the dry run and the question before a send count with it too (`selection`).
    """
    budget = options.limit
    which: Cap = "limit"
    if options.daily_limit is not None:
        left_today = max(0, options.daily_limit - sent_today)
        if budget is None or left_today < budget:
            budget, which = left_today, "daily limit"
    return budget, which


def next_daily_slot(ledger: Ledger, daily_limit: int, now: dt.datetime) -> dt.datetime:
    """When the next message may go under the daily limit: a slot frees when one of the messages of
    the last 24 hours leaves them, and as many must leave as bring the count below the limit."""
    since = now - dt.timedelta(days=1)
    counted = ledger.sent_since(since)
    oldest = ledger.nth_sent_since(since, max(0, counted - daily_limit))
    return oldest + dt.timedelta(days=1) if oldest is not None else now
