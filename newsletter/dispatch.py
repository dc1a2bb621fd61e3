"""The cron entry: deliver every ready issue whose time has come, resuming what an earlier run left.

Run every few minutes. Only one dispatch runs at a time (an OS lock that a killed process releases);
each issue is delivered through the same `campaign.send` as `newsletter send`, so the ledger, the
limits and the retries are the same. When an issue's delivery is complete a summary goes to
`report_to`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from newsletter import campaign, issues
from newsletter.delivery import Event, Limiter, Options
from newsletter.errors import BusyError, NewsletterError
from newsletter.ledger import Counts, Ledger
from newsletter.message import Envelope
from newsletter.model import Issue
from newsletter.project import Project
from newsletter.schedule import is_due, reached, send_time
from newsletter.send.base import Sender, SendFailure

Log = Callable[[str, dict[str, Any]], None]


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
    # Set by a signal (systemctl stop, Ctrl-C): the issue being sent stops cleanly, no other starts.
    interrupt: threading.Event = field(default_factory=threading.Event)


@dataclass
class DispatchResult:
    exit_code: int = 0
    already_running: bool = False
    delivered: list[str] = field(default_factory=list)


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
            log("busy", {"message": "another dispatch is running; this one does nothing"})
            result.already_running = True
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
    slug = path.stem
    try:
        issue = issues.load(path).issue
    except NewsletterError as e:
        # A draft with a mistake is work in progress; a ready one is a problem for someone.
        if _marked_ready(path):
            log("invalid", {"issue": slug, "message": "; ".join(e.lines())})
            return 2, 0
        return 0, 0
    if not is_due(issue, clock(), config.timezone):
        return 0, 0
    delivery = ledger.delivery(slug)
    if delivery is not None and ledger.counts(slug).complete:
        if delivery.reported_at is None and config.report_to:
            _report(ledger, config, slug, issue, clock, log)
        return 0, 0
    if budget is not None and budget <= 0:
        # Checked only for an issue with work left: a --max used up exactly is not "pending".
        log("max", {"issue": slug, "message": "--max reached; the next run continues"})
        return 1, 0
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
        log("invalid", {"issue": slug, "message": "; ".join(e.lines())})
        return 2, 0
    for skipped in prepared.audience.skipped if delivery is None else []:
        log(
            "skipped",
            {"issue": slug, "email": skipped.email, "message": f"line {skipped.line}: {skipped.reason}"},
        )
    log(
        "start" if delivery is None else "resume",
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
        log("busy", {"issue": slug, "message": str(e)})
        return 0, 0
    except NewsletterError as e:
        log("error", {"issue": slug, "message": str(e)})
        return 2, 0
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
    result.delivered.append(slug)
    if counts.complete:
        log("complete", {"issue": slug, **_counts(counts)})
        if config.report_to:
            _report(ledger, config, slug, issue, clock, log)
    return report.exit_code, report.attempted


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
        "skipped": counts.skipped,
    }


def report_message(
    ledger: Ledger, envelope: Envelope, slug: str, issue: Issue, to: list[str], when: dt.datetime
) -> EmailMessage:
    """The summary for the staff: counts, and every failed address with the server's reply."""
    counts = ledger.counts(slug)
    failed = ledger.rows(slug, "failed")
    lines = [
        f"The delivery of {slug} is complete.",
        "",
        f"Subject:   {issue.subject}",
        f"Audience:  {counts.audience}",
        f"Sent:      {counts.sent}",
        f"Failed:    {counts.failed}",
        f"Unknown:   {counts.unknown}",
        f"Skipped:   {counts.skipped} (suppressed)",
    ]
    if failed:
        lines += ["", "Failed addresses (fix or remove them in the audience file):"]
        lines += [f"- {row.recipient.email}: {row.last_reply}" for row in failed]
    lines += ["", "Details: newsletter status --failed"]
    message = EmailMessage()
    message["From"] = envelope.sender
    message["To"] = ", ".join(to)
    message["Subject"] = f"Newsletter {slug}: {counts.sent} sent, {counts.failed} failed"
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(f"report.{slug}", domain=envelope.domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n".join(lines) + "\n")
    return message


def _report(
    ledger: Ledger,
    config: DispatchConfig,
    slug: str,
    issue: Issue,
    clock: Callable[[], dt.datetime],
    log: Log,
) -> None:
    message = report_message(ledger, config.envelope, slug, issue, config.report_to, clock())
    data = message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    sender_address = parseaddr(config.envelope.sender)[1]
    try:
        connection = config.sender.connect()
        try:
            for address in config.report_to:
                connection.send(sender_address, address, data)
        finally:
            connection.close()
    except (SendFailure, NewsletterError) as e:
        log("report-failed", {"issue": slug, "message": str(e)})
        return
    ledger.mark_reported(slug, clock())
    log("report", {"issue": slug, "to": ", ".join(config.report_to)})


@dataclass(frozen=True)
class IssueState:
    slug: str
    state: str  # draft, scheduled, due, sending, sent, invalid
    subject: str
    due: dt.datetime | None
    counts: Counts | None
    finished: dt.datetime | None
    note: str = ""


def overview(project: Project, ledger: Ledger | None, tz: dt.tzinfo, now: dt.datetime) -> list[IssueState]:
    """Every issue file and every delivery: draft, scheduled (when), sending (progress), sent (counts)."""
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
        states.append(_state(slug, issue.subject, issue, ledger, tz, now))
    for delivery in ledger.deliveries() if ledger else []:
        if delivery.issue not in seen:
            states.append(_state(delivery.issue, delivery.subject, None, ledger, tz, now))
    return states


def _state(
    slug: str, subject: str, issue: Issue | None, ledger: Ledger | None, tz: dt.tzinfo, now: dt.datetime
) -> IssueState:
    delivery = ledger.delivery(slug) if ledger else None
    due = send_time(issue, tz) if issue else None
    if delivery is not None and ledger is not None:
        counts = ledger.counts(slug)
        state = "sent" if counts.complete else "sending"
        return IssueState(slug, state, subject, due, counts, delivery.finished_at)
    if issue is None or issue.status == "draft":
        return IssueState(slug, "draft", subject, due, None, None)
    state = "due" if due is not None and reached(due, now) else "scheduled"
    return IssueState(slug, state, subject, due, None, None)
