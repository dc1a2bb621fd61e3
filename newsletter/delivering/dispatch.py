"""The cron entry: deliver every ready issue whose time has come, resuming what an earlier run left.

Run every few minutes. Only one dispatch runs at a time (an OS lock that a killed process releases);
one that has held it for longer than `stale_after`, or whose process is gone, is reported as
possibly hung (`dispatch_lock`). Each issue is delivered through the same `campaign.send` as
`newsletter send`, so the ledger, the limits and the retries are the same. When an issue's delivery
is complete a summary goes to `report_to` (`staff_mail`). Before a run's first message, `refresh`
(the pull of the endpoint's suppressions, when it runs elsewhere) brings the suppression list up to
date; if it fails, that run sends nothing.

A ledger that was lost or restored from an old backup knows nothing of issues sent long ago: an
issue whose send_at is further back than `window` is sent only when the ledger has a delivery of it
(started, unfinished) or when it is named with `--catch-up`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsletter.composing.message import Envelope
from newsletter.delivering import approval, campaign
from newsletter.delivering.dispatch_lock import another_dispatch
from newsletter.delivering.loop import Event, Limiter, Options
from newsletter.delivering.overview import DEFAULT_WINDOW
from newsletter.delivering.report import Log, LogKind
from newsletter.delivering.schedule import describe, is_due, reached, send_time
from newsletter.delivering.staff_mail import Staff, mail_staff, report_message
from newsletter.errors import (
    ApprovalError,
    BusyError,
    LedgerError,
    NewsletterError,
    PullError,
    SlugClashError,
)
from newsletter.ledger import Counts, Delivery, Ledger
from newsletter.model import Issue
from newsletter.reading import issues
from newsletter.rendering.project import Project
from newsletter.sending.base import Sender

# Well above the longest legitimate run: 10,000 messages at Microsoft 365's 30/minute take 5.5 hours.
DEFAULT_STALE_AFTER = dt.timedelta(hours=12)


@dataclass
class DispatchConfig:
    envelope: Envelope
    sender: Sender
    options: Options
    limiter: Limiter
    timezone: dt.tzinfo
    default_recipients: Path | None = None
    max_messages: int | None = None
    report_to: list[str] = field(default_factory=list)
    window: dt.timedelta = DEFAULT_WINDOW
    catch_up: frozenset[Path] = frozenset()  # issue files (resolved) to send however old they are
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER
    require_approval: bool = False  # NEWSLETTER_REQUIRE_APPROVAL: only an issue approved as it is now
    # Set by a signal (systemctl stop, Ctrl-C): the issue being sent stops cleanly, no other starts.
    interrupt: threading.Event = field(default_factory=threading.Event)
    # Brings the suppression list up to date (the endpoint's pull), once a run, before its first
    # message; the line to log. If it raises, no issue is sent in that run.
    refresh: Callable[[Ledger, dt.datetime], str] | None = None

    @property
    def staff(self) -> Staff:
        return Staff(self.envelope, self.sender, self.report_to)


@dataclass
class DispatchResult:
    exit_code: int = 0
    already_running: bool = False
    delivered: list[str] = field(default_factory=list)
    refreshed: bool | None = None  # whether `DispatchConfig.refresh` worked; None: not run


def _clock_from(now: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that starts at `now` (real or given with --now) and runs on in real time.

    The elapsed time is added in UTC: added to a local time it is wall-clock arithmetic, an hour off
    when the run crosses the change to or from summer time.
    """
    start = time.monotonic()
    origin = now.astimezone(dt.UTC)
    zone = now.tzinfo
    return lambda: (origin + dt.timedelta(seconds=time.monotonic() - start)).astimezone(zone)


def dispatch(
    project: Project,
    ledger: Ledger,
    config: DispatchConfig,
    *,
    now: dt.datetime,
    log: Log,
    sleep: Callable[[float], None] | None = None,
) -> DispatchResult:
    """One cron run. Exit code: 0 nothing to do or all fine, 1 failures or pending, 2 bad input."""
    result = DispatchResult()
    with ledger.lock("dispatch") as mine:
        if not mine:
            result.already_running = True
            result.exit_code = another_dispatch(
                ledger, config.staff, timezone=config.timezone, stale_after=config.stale_after, log=log
            )
            return result
        clock = _clock_from(now)
        budget = config.max_messages
        for path in project.issue_files():
            if config.interrupt.is_set():
                log("interrupted", {"message": "stopped by a signal; the next run continues"})
                result.exit_code = max(result.exit_code, 1)
                break
            code, used = _dispatch_one(project, ledger, config, path, clock, log, budget, sleep, result)
            result.exit_code = max(result.exit_code, code)
            if budget is not None:
                budget -= used
    return result


@dataclass(frozen=True)
class _Outcome:
    """How one issue's turn in a dispatch ended: the exit code it asks for (0 fine or nothing to do,
    1 pending or not sent, 2 bad input), the messages it used of --max, and the log line that says
    why, when there is something to say."""

    code: int
    kind: LogKind | None = None
    message: str = ""
    used: int = 0
    delivered: bool = False  # a run of its delivery took place (`DispatchResult.delivered`)


_NOTHING = _Outcome(0)


@dataclass(frozen=True)
class _Due:
    """An issue whose time has come, prepared, with the delivery the ledger has of it (if any)."""

    path: Path
    issue: Issue
    delivery: Delivery | None
    prepared: campaign.Campaign


def _dispatch_one(
    project: Project,
    ledger: Ledger,
    config: DispatchConfig,
    path: Path,
    clock: Callable[[], dt.datetime],
    log: Log,
    budget: int | None,
    sleep: Callable[[float], None] | None,
    result: DispatchResult,
) -> tuple[int, int]:
    """One issue's turn: checked, then sent if it is due; its exit code and the messages it used.

    How the turn ended, as `_check` (why it is not sent now) or `_send` returns it, is logged here.
    """
    checked = _check(project, ledger, config, path, clock, log, budget)
    if isinstance(checked, _Due):
        checked = _refreshed(checked, ledger, config, clock, log, result)
    outcome = (
        checked
        if isinstance(checked, _Outcome)
        else _send(checked, ledger, config, clock, log, budget, sleep)
    )
    if outcome.kind is not None:
        log(outcome.kind, {"issue": path.stem, "message": outcome.message})
    if outcome.delivered:
        result.delivered.append(path.stem)
    return outcome.code, outcome.used


def _check(
    project: Project,
    ledger: Ledger,
    config: DispatchConfig,
    path: Path,
    clock: Callable[[], dt.datetime],
    log: Log,
    budget: int | None,
) -> _Due | _Outcome:
    """The issue at `path` prepared to be sent now, or why it is not."""
    slug = path.stem
    try:
        issue = issues.load(path).issue
    except NewsletterError as e:
        # A draft with a mistake is work in progress; a ready one is a problem for someone.
        return _Outcome(2, "invalid", "; ".join(e.lines())) if _marked_ready(path) else _NOTHING
    if not is_due(issue, clock(), config.timezone):
        if path.resolve() not in config.catch_up:
            return _NOTHING
        # Asked for by name: say why nothing happens rather than stay silent.
        why = (
            "it is a draft: set `status: ready` to send it"
            if issue.status != "ready"
            else f"its send_at ({issue.send_at}) has not come yet"
        )
        return _Outcome(1, "catch-up", f"--catch-up {path}: not sent, {why}")
    delivery = ledger.delivery(slug)
    if delivery is None and _too_old(issue, path, config, clock()):
        return _Outcome(1, "skipped-old", _too_old_message(issue, path, config))
    if delivery is not None:
        try:
            campaign.check_same_issue(delivery, issue.subject, str(path.resolve()))
        except SlugClashError as e:
            return _Outcome(2, "error", str(e))
        if ledger.counts(slug).complete:
            if delivery.reported_at is None and config.report_to:
                _report(ledger, config, slug, issue, clock, log)
            return _NOTHING
    if budget is not None and budget <= 0:
        # Checked only for an issue with work left: a --max used up exactly is not "pending".
        return _Outcome(1, "max", "--max reached; the next run continues")
    try:
        prepared = campaign.prepare(
            project,
            path,
            config.envelope,
            recipients_file=None,
            default_recipients=config.default_recipients,
            now=clock(),
        )
    except NewsletterError as e:
        return _Outcome(2, "invalid", "; ".join(e.lines()))
    try:
        if config.require_approval:
            approval.require(ledger, prepared, config.timezone)
    except ApprovalError as e:
        return _Outcome(2, "error", str(e))
    return _Due(path, issue, delivery, prepared)


def _refreshed(
    due: _Due,
    ledger: Ledger,
    config: DispatchConfig,
    clock: Callable[[], dt.datetime],
    log: Log,
    result: DispatchResult,
) -> _Due | _Outcome:
    """The due issue once the suppression list is up to date (`refresh`, run once a run); when that
    failed, why the issue waits: a late newsletter is better than mail to someone who left."""
    if config.refresh is None:
        return due
    if result.refreshed is None:
        try:
            line = config.refresh(ledger, clock())
        except LedgerError:
            raise
        except NewsletterError as e:
            result.refreshed = False
            log("pull-failed", {"message": e.held_back if isinstance(e, PullError) else str(e)})
        else:
            result.refreshed = True
            log("pulled", {"message": line})
    if result.refreshed:
        return due
    return _Outcome(2, "held", "not sent in this run: the unsubscribes could not be fetched (pull-failed)")


def _send(
    due: _Due,
    ledger: Ledger,
    config: DispatchConfig,
    clock: Callable[[], dt.datetime],
    log: Log,
    budget: int | None,
    sleep: Callable[[float], None] | None,
) -> _Outcome:
    """Start or resume the delivery of a due issue, logging its progress; the report when it completes."""
    slug, prepared = due.path.stem, due.prepared
    for skipped in prepared.audience.skipped if due.delivery is None else []:
        log(
            "skipped",
            {"issue": slug, "email": skipped.email, "message": f"line {skipped.line}: {skipped.reason}"},
        )
    log(
        "start" if due.delivery is None else "resume",
        {"issue": slug, "recipients": prepared.audience.count},
    )

    def on_event(event: Event) -> None:
        log(event.kind, {"issue": slug, "email": event.email, "reply": event.reply})

    options = replace(config.options, limit=budget)
    try:
        report = campaign.send(
            prepared, config.sender, ledger, options=options, clock=clock, sleep=sleep,
            limiter=config.limiter, on_event=on_event, interrupt=config.interrupt,
        )  # fmt: skip
    except BusyError as e:
        # A person is sending it by hand right now: not a problem, and the next run resumes it.
        return _Outcome(0, "busy", str(e))
    except SlugClashError as e:
        return _Outcome(2, "error", str(e))
    except LedgerError:
        raise  # the ledger itself is unusable (gone, damaged, full disk): no other issue can go either
    except NewsletterError as e:
        return _Outcome(2, "error", str(e))
    for warning in prepared.warnings:
        log("warning", {"issue": slug, "message": warning})
    counts = report.counts
    if report.recovered:
        log(
            "recovered",
            {
                "issue": slug,
                "count": report.recovered,
                "message": "messages in flight when an earlier run stopped; resent once, same Message-ID",
            },
        )
    log("progress", {"issue": slug, **_counts(counts), "stopped": report.stopped})
    if counts.complete:
        log("complete", {"issue": slug, **_counts(counts)})
        if config.report_to:
            _report(ledger, config, slug, due.issue, clock, log)
    return _Outcome(report.exit_code, used=report.attempted, delivered=True)


def _too_old(issue: Issue, path: Path, config: DispatchConfig, now: dt.datetime) -> bool:
    """Whether a ready issue without a delivery in the ledger is past the window (and not caught up)."""
    when = send_time(issue, config.timezone)
    return (
        when is not None and not reached(now - config.window, when) and path.resolve() not in config.catch_up
    )


def _too_old_message(issue: Issue, path: Path, config: DispatchConfig) -> str:
    when = send_time(issue, config.timezone)
    assert when is not None
    return (
        f"send_at {when:%Y-%m-%d} is more than {describe(config.window)} ago and the ledger has no record "
        f"of it: if it was never sent, run `newsletter dispatch --catch-up {path}`; if it was, restore "
        "the ledger backup"
    )


def _marked_ready(path: Path) -> bool:
    try:
        return (
            re.search(r"(?m)^status:\s*['\"]?ready\b", path.read_text(encoding="utf-8", errors="replace"))
            is not None
        )
    except OSError:
        return False


def _counts(counts: Counts) -> dict[str, int]:
    return {
        "audience": counts.audience,
        "sent": counts.sent,
        "pending": counts.pending + counts.sending,
        "unknown": counts.unknown,
        "failed": counts.failed,
        "suppressed": counts.skipped,
    }


def _report(
    ledger: Ledger,
    config: DispatchConfig,
    slug: str,
    issue: Issue,
    clock: Callable[[], dt.datetime],
    log: Log,
) -> None:
    """Mail the summary of a complete delivery; recorded as reported once it went."""
    message = report_message(ledger, config.envelope, slug, issue, config.report_to, clock())
    failure = mail_staff(config.staff, message)
    if failure is not None:
        log("report-failed", {"issue": slug, "message": failure})
        return
    ledger.mark_reported(slug, clock())
    log("report", {"issue": slug, "to": ", ".join(config.report_to)})
