"""Where every issue stands, for `newsletter status`: draft, scheduled, due, missed, sending,
incomplete, sent or failed.

A state says what is true now: `sending` only while a run holds the issue's lock (a send that was
stopped or killed is `incomplete`, with the command that continues it), and a delivery that reached
nobody because every recipient was refused is `failed`, not `sent`.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from newsletter.delivering.schedule import describe, reached, send_time
from newsletter.errors import NewsletterError
from newsletter.ledger import Counts, Delivery, Ledger
from newsletter.ledger.lock import issue_lock
from newsletter.model import Issue
from newsletter.reading import issues
from newsletter.rendering.project import Project

DEFAULT_WINDOW = dt.timedelta(days=7)

State = Literal["draft", "scheduled", "due", "missed", "sending", "incomplete", "sent", "failed", "invalid"]
"""Where an issue stands; `invalid`: its file does not load (the note says why)."""


@dataclass(frozen=True)
class IssueState:
    slug: str
    state: State
    subject: str
    due: dt.datetime | None
    counts: Counts | None
    finished: dt.datetime | None
    note: str = ""


def overview(
    project: Project,
    ledger: Ledger | None,
    tz: dt.tzinfo,
    now: dt.datetime,
    window: dt.timedelta = DEFAULT_WINDOW,
) -> list[IssueState]:
    """Every issue file and every delivery: draft, scheduled (when), sending (progress), sent (counts).

    A ready issue further past its send_at than `window` without a delivery in the ledger is
    `missed`: dispatch will not send it by itself (see `dispatch.py`).
    """
    states: list[IssueState] = []
    seen: set[str] = set()
    for path in project.issue_files():
        slug = path.stem
        seen.add(slug)
        try:
            issue: Issue | None = issues.load(path).issue
        except NewsletterError as e:
            states.append(IssueState(slug, "invalid", "", None, None, None, e.lines()[0]))
            continue
        assert issue is not None
        states.append(_state(slug, issue.subject, issue, path, ledger, tz, now, window))
    for delivery in ledger.deliveries() if ledger else []:
        if delivery.issue not in seen:
            source = Path(delivery.source_path) if delivery.source_path else None
            states.append(_state(delivery.issue, delivery.subject, None, source, ledger, tz, now, window))
    return states


def _state(
    slug: str,
    subject: str,
    issue: Issue | None,
    path: Path | None,
    ledger: Ledger | None,
    tz: dt.tzinfo,
    now: dt.datetime,
    window: dt.timedelta,
) -> IssueState:
    delivery = ledger.delivery(slug) if ledger else None
    due = send_time(issue, tz) if issue else None
    if delivery is not None and ledger is not None:
        counts = ledger.counts(slug)
        state, note = _progress(slug, issue, path, counts, ledger, due, now)
        return IssueState(slug, state, subject, due, counts, delivery.finished_at, note)
    if issue is None or issue.status == "draft":
        return IssueState(slug, "draft", subject, due, None, None)
    if due is not None and not reached(now - window, due):
        note = (
            f"missed: more than {describe(window)} past send_at and not in the ledger; "
            "see `newsletter dispatch --catch-up`"
        )
        return IssueState(slug, "missed", subject, due, None, None, note)
    state = "due" if due is not None and reached(due, now) else "scheduled"
    return IssueState(slug, state, subject, due, None, None)


def _progress(
    slug: str,
    issue: Issue | None,
    path: Path | None,
    counts: Counts,
    ledger: Ledger,
    due: dt.datetime | None,
    now: dt.datetime,
) -> tuple[State, str]:
    """The state of a delivery the ledger has, and what to do about it."""
    if counts.complete:
        if counts.sent == 0 and counts.failed:
            listed = f"newsletter status {path} --failed" if path else "newsletter status --failed"
            return "failed", f"every recipient was refused: {listed} says why"
        return "sent", ""
    if ledger.locked(issue_lock(slug)):
        return "sending", ""
    if issue is not None and issue.status == "ready" and due is not None:
        when = "at its next run" if reached(due, now) else "at its first run after send_at"
        return "incomplete", f"dispatch continues it {when}"
    return "incomplete", f"to continue: {_continue_command(issue, path, ledger.delivery(slug))}"


def _continue_command(issue: Issue | None, path: Path | None, delivery: Delivery | None) -> str:
    """The send that continues a delivery, with the audience it started with unless the issue names
    one: without it, a send whose audience came from --recipients would stop at "no recipients"."""
    command = f"newsletter send {shlex.quote(str(path))}" if path else "newsletter send with its issue file"
    source = delivery.audience_source if delivery is not None else ""
    if source and (issue is None or not issue.audience):
        command += f" --recipients {shlex.quote(source)}"
    return command
