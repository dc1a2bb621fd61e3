"""Who a send reaches in this run, worked out before it: one answer for the dry run, the question
before a real send, and the figures after it.

A dry run that writes a message for someone the real send then skips (suppressed, already has it)
shows a send that will not happen, and a question "send to 2,000 people?" when 300 are left is a
question about something else. `select` counts as the real send selects: the suppression list and
the delivery in the real ledger (read, never written), failed and unknown rows as the next run treats
them (`Ledger.outlook`), --limit and the daily limit (`options.run_budget`); and it yields exactly
those recipients, in the order the real send takes them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from newsletter.delivering.options import Cap, Options, run_budget
from newsletter.ledger import Counts, Ledger, Outlook
from newsletter.model import Recipient
from newsletter.reading.recipients import Audience


@dataclass(frozen=True)
class Plan:
    """What a real send started now would do, in figures."""

    audience: int  # people: the file's usable rows, or the snapshot of a delivery that started
    invalid: int  # rows of the file left out: not an address, a duplicate, a value that is no link
    suppressed: int
    already_sent: int
    failed: int  # refused for good in an earlier run; sent again only with --retry-failed
    in_doubt: int  # resent once already after a connection was lost: not sent a third time
    retrying: int  # failed rows that --retry-failed puts back; part of `due`
    due: int  # would get it in this run without --limit and the daily limit
    now: int  # get it in this run
    cap: Cap  # what holds back `due - now`

    @property
    def rows(self) -> int:
        return self.audience + self.invalid

    @property
    def later(self) -> int:
        """Due, but over --limit or the daily limit: for a later run."""
        return self.due - self.now

    def sentence(self) -> str:
        """'will send to X now (of Y: S suppressed, A already have it, I invalid rows)', and more
        only when there is more: the parts in brackets add up to Y."""
        parts = [
            f"{self.suppressed} suppressed",
            f"{self.already_sent} already have it",
            f"{self.invalid} invalid rows",
        ]
        if self.failed:
            parts.append(f"{self.failed} failed earlier")
        if self.in_doubt:
            parts.append(f"{self.in_doubt} in doubt, not sent a third time")
        if self.later:
            by = "--limit" if self.cap == "limit" else "NEWSLETTER_DAILY_LIMIT"
            parts.append(f"{self.later} left for a later run by {by}")
        text = f"will send to {self.now} now (of {self.rows}: {', '.join(parts)})"
        if self.retrying:
            text += f"; {self.retrying} of them failed before and are tried again"
        return text


def figures(counts: Counts) -> list[tuple[str, int]]:
    """A delivery's figures as `send`, `status` and the report email name them, in their order."""
    return [
        ("audience", counts.audience),
        ("sent", counts.sent),
        ("pending", counts.pending + counts.sending),
        ("unknown", counts.unknown),
        ("failed", counts.failed),
        ("suppressed", counts.skipped),
    ]


def projected(plan: Plan, written: int) -> list[tuple[str, int]]:
    """The figures of a dry run: what the real send's table would show after the same run."""
    return [
        ("audience", plan.audience),
        ("already sent", plan.already_sent),
        ("written", written),
        ("pending", plan.later),
        ("unknown", plan.in_doubt),
        ("failed", plan.failed),
        ("suppressed", plan.suppressed),
    ]


def select(
    audience: Audience,
    issue: str,
    ledger: Ledger | None,
    options: Options,
    now: dt.datetime,
    *,
    retry_failed: bool = False,
) -> tuple[Plan, Iterator[Recipient]]:
    """The plan of a real send of `issue` now, and its recipients for this run (read while `ledger`
    is open). `ledger` is the real one, or None when there is none yet; nothing is written to it.

    A delivery the ledger has is resumed from its snapshot, as the real send does: who was added to
    the file since is not in it.
    """
    if ledger is not None and ledger.delivery(issue) is not None:
        classes = ledger.outlook(issue, retry_failed=retry_failed)
        plan = _plan(classes, sum(classes.values()), audience, ledger, options, now)
        rows = ledger.upcoming(issue, plan.now, retry_failed=retry_failed)
        return plan, (row.recipient for row in rows)
    keys = ledger.suppressed_keys() if ledger is not None else set()
    suppressed = sum(1 for r in audience if r.key in keys) if keys else 0
    fresh: dict[Outlook, int] = {"due": audience.count - suppressed, "suppressed": suppressed}
    plan = _plan(fresh, audience.count, audience, ledger, options, now)
    return plan, itertools.islice((r for r in audience if r.key not in keys), plan.now)


def _plan(
    classes: dict[Outlook, int],
    size: int,
    audience: Audience,
    ledger: Ledger | None,
    options: Options,
    now: dt.datetime,
) -> Plan:
    sent_today = 0
    if ledger is not None and options.daily_limit is not None:
        sent_today = ledger.sent_since(now - dt.timedelta(days=1))
    budget, cap = run_budget(options, sent_today)
    due = classes.get("due", 0) + classes.get("retry", 0)
    return Plan(
        audience=size,
        invalid=len(audience.skipped),
        suppressed=classes.get("suppressed", 0),
        already_sent=classes.get("sent", 0),
        failed=classes.get("failed", 0),
        in_doubt=classes.get("doubt", 0),
        retrying=classes.get("retry", 0),
        due=due,
        now=due if budget is None else min(due, budget),
        cap=cap,
    )
