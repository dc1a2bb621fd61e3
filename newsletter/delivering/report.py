"""What a run tells its caller: an `Event` per attempt, for progress bars and logs, and the
`RunReport` at its end; and the kinds of line the dispatch log has (`LogKind`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from newsletter.ledger import Counts

EventKind = Literal["sent", "failed", "retry", "unknown", "pending", "skipped"]
"""What happened at one attempt: sent, failed for good, retried after a temporary failure, in doubt
(unknown), left pending for the next run after the last retry, or skipped: suppressed meanwhile."""


@dataclass(frozen=True)
class Event:
    """What happened to one recipient, for progress bars and logs."""

    kind: EventKind
    email: str
    reply: str
    done: int
    total: int


@dataclass
class RunReport:
    """One run of `deliver`: what it did and what is left."""

    issue: str
    attempted: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    retried: int = 0
    recovered: int = 0
    stopped: str | None = None  # why it ended early: 'limit', 'daily limit', 'interrupted', or an error
    counts: Counts = field(default_factory=Counts)
    failures: list[tuple[str, str]] = field(default_factory=list)
    daily_limit: int | None = None  # the limit that stopped it, when it was the daily limit
    next_free: dt.datetime | None = None  # then: when the oldest message it counts leaves the 24 hours

    @property
    def exit_code(self) -> int:
        """0 all sent, 1 some failed or still pending."""
        return 0 if self.counts.complete and self.counts.failed == 0 else 1


LogKind = (
    EventKind
    | Literal["start", "resume", "skipped", "warning", "recovered", "progress", "complete", "max"]
    | Literal["invalid", "catch-up", "skipped-old", "error", "busy", "interrupted"]
    | Literal["report", "report-failed", "alert", "alert-failed"]
    | Literal["pulled", "pull-failed", "held"]
)
"""What a line of the dispatch log is about: the events of the send loop, the progress of an issue,
why an issue was not sent, the staff's mail, and the pull of the endpoint's suppressions."""
Log = Callable[[LogKind, dict[str, Any]], None]
