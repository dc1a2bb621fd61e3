"""What `newsletter status` shows, as rows ready to print: where every issue stands, the figures of
deliveries, what came back after them, and who has not got an issue and why; and the suppression
list as `suppress list` shows it.

The figures are named as `send` names them (`selection.figures`), times are shown to the minute in
the configured time zone, and a cell without a value is "-" or empty, as the tables print them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.delivering import approval
from newsletter.delivering.came_back import came_back
from newsletter.delivering.overview import DEFAULT_WINDOW, IssueState, overview
from newsletter.delivering.selection import figures
from newsletter.ledger import Counts, Ledger
from newsletter.ledger.records import Status
from newsletter.ledger.suppressions import Suppression
from newsletter.rendering.project import Project

OVERVIEW_COLUMNS = ("issue", "state", "when", "sent", "pending", "unknown", "failed", "subject")
FIGURE_COLUMNS = tuple(name for name, _ in figures(Counts()))
DELIVERY_COLUMNS = ("issue", *FIGURE_COLUMNS, "finished")
UNDELIVERED_COLUMNS = ("issue", "email", "status", "attempts", "reply")
SUPPRESSION_COLUMNS = ("address", "reason", "source", "when", "issue", "details")
# Who has not got an issue, in the order `status --failed` lists them: refused, in doubt, still due.
UNDELIVERED: tuple[Status, ...] = ("failed", "unknown", "pending")


@dataclass(frozen=True)
class Overview:
    """Every issue on one row (`newsletter status`), what came back after each (`came_back`), and a
    line per issue on its approval."""

    rows: list[tuple[str, ...]]
    approvals: list[str]
    columns: tuple[str, ...] = OVERVIEW_COLUMNS
    came_back: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryReport:
    """The figures of deliveries (`newsletter status FILE`): a row per delivery the ledger has."""

    rows: list[tuple[str, ...]]
    unsent: list[str]  # issues the ledger has no delivery of
    failures: list[tuple[str, str, str | None]]  # issue, address, the server's last reply
    columns: tuple[str, ...] = DELIVERY_COLUMNS
    came_back: list[str] = field(default_factory=list)  # `came_back.CameBack.lines` of each issue


def _minute(moment: dt.datetime | None, tz: dt.tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


def overview_row(state: IssueState, tz: dt.tzinfo) -> tuple[str, ...]:
    """An issue's row under OVERVIEW_COLUMNS: when it finished (else when it is due), `sent` as a part
    of those not suppressed, and the note on what to do instead of the subject when there is one."""
    counts = state.counts
    numbers = ("", "", "", "")
    if counts is not None:
        numbers = (
            f"{counts.sent}/{counts.audience - counts.skipped}",
            str(counts.pending + counts.sending),
            str(counts.unknown),
            str(counts.failed),
        )
    return (
        state.slug,
        state.state,
        _minute(state.finished or state.due, tz),
        *numbers,
        state.note or state.subject,
    )


def issue_overview(
    project: Project,
    ledger: Ledger | None,
    tz: dt.tzinfo,
    now: dt.datetime,
    window: dt.timedelta = DEFAULT_WINDOW,
    *,
    require_approval: bool = False,
) -> Overview:
    """Where every issue file and every delivery of `ledger` (None before the first send) stands."""
    states = overview(project, ledger, tz, now, window)
    approvals = approval.status_lines(project, ledger, tz, required=require_approval)
    feedback = [] if ledger is None else _came_back(ledger, [s.slug for s in states if s.counts is not None])
    return Overview([overview_row(state, tz) for state in states], approvals, came_back=feedback)


def _came_back(ledger: Ledger, issues: list[str]) -> list[str]:
    return [line for issue in issues for line in came_back(ledger, issue).lines()]


def reported_issues(ledger: Ledger, file: Path | None) -> list[str]:
    """The issue of `file`, or without one every issue the ledger has a delivery of."""
    return [file.stem] if file else [delivery.issue for delivery in ledger.deliveries()]


def delivery_report(ledger: Ledger, issues: list[str], tz: dt.tzinfo) -> DeliveryReport:
    """The figures of each of `issues` and when its delivery finished, and who refused it for good."""
    rows: list[tuple[str, ...]] = []
    unsent: list[str] = []
    for issue in issues:
        delivery = ledger.delivery(issue)
        if delivery is None:
            unsent.append(issue)
            continue
        values = (str(value) for _, value in figures(ledger.counts(issue)))
        rows.append((issue, *values, _minute(delivery.finished_at, tz)))
    failures = [
        (issue, row.recipient.email, row.last_reply)
        for issue in issues
        for row in ledger.rows(issue, "failed")
    ]
    delivered = [issue for issue in issues if issue not in unsent]
    return DeliveryReport(rows, unsent, failures, came_back=_came_back(ledger, delivered))


def undelivered(ledger: Ledger, issues: list[str]) -> list[tuple[str, str, str, int, str | None]]:
    """Everyone who has not got one of `issues`, under UNDELIVERED_COLUMNS: refused for good, in doubt
    or still due, with their attempts and the server's last reply."""
    return [
        (issue, row.recipient.email, row.status, row.attempts, row.last_reply)
        for issue in issues
        for state in UNDELIVERED
        for row in ledger.rows(issue, state)
    ]


def suppression_rows(listed: list[Suppression], tz: dt.tzinfo) -> list[tuple[str, ...]]:
    """The suppression list under SUPPRESSION_COLUMNS, each time to the minute in `tz`."""
    return [(s.email, s.reason, s.source, _when(s.added_at, tz), s.issue or "", s.detail) for s in listed]


def _when(stamp: str, tz: dt.tzinfo) -> str:
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp  # pulled from an endpoint that wrote it otherwise: shown as it came
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return _minute(moment, tz)
