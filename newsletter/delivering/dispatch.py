"""The cron entry: deliver every ready issue whose time has come, resuming what an earlier run left.

Run every few minutes. Only one dispatch runs at a time (an OS lock that a killed process releases);
one that has held it for longer than `stale_after`, or whose process is gone, is reported as
possibly hung. Each issue is delivered through the same `campaign.send` as `newsletter send`, so the
ledger, the limits and the retries are the same. When an issue's delivery is complete a summary goes
to `report_to`.

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
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from newsletter.composing.message import Envelope
from newsletter.delivering import approval, campaign
from newsletter.delivering.loop import Event, Limiter, Options
from newsletter.delivering.overview import DEFAULT_WINDOW
from newsletter.delivering.schedule import describe, is_due, reached, send_time
from newsletter.errors import ApprovalError, BusyError, LedgerError, NewsletterError, SlugClashError
from newsletter.ledger import Counts, Ledger
from newsletter.ledger.lock import Holder, lock_path
from newsletter.model import Issue
from newsletter.reading import issues
from newsletter.rendering.project import Project
from newsletter.sending.base import Sender, SendFailure

Log = Callable[[str, dict[str, Any]], None]

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
            result.already_running = True
            result.exit_code = _another_dispatch(ledger, config, log)
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
        if path.resolve() in config.catch_up:
            # Asked for by name: say why nothing happens rather than stay silent.
            why = (
                "it is a draft: set `status: ready` to send it"
                if issue.status != "ready"
                else f"its send_at ({issue.send_at}) has not come yet"
            )
            log("catch-up", {"issue": slug, "message": f"--catch-up {path}: not sent, {why}"})
            return 1, 0
        return 0, 0
    delivery = ledger.delivery(slug)
    if delivery is None and _too_old(issue, path, config, clock()):
        log("skipped-old", {"issue": slug, "message": _too_old_message(issue, path, config)})
        return 1, 0
    if delivery is not None:
        try:
            campaign.check_same_issue(delivery, issue.subject, str(path.resolve()))
        except SlugClashError as e:
            log("error", {"issue": slug, "message": str(e)})
            return 2, 0
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
    try:
        if config.require_approval:
            approval.require(ledger, prepared, config.timezone)
    except ApprovalError as e:
        log("error", {"issue": slug, "message": str(e)})
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
    except SlugClashError as e:
        log("error", {"issue": slug, "message": str(e)})
        return 2, 0
    except LedgerError:
        raise  # the ledger itself is unusable (gone, damaged, full disk): no other issue can go either
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
        f"Suppressed: {counts.skipped}",
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
    failure = _mail(config, message)
    if failure is not None:
        log("report-failed", {"issue": slug, "message": failure})
        return
    ledger.mark_reported(slug, clock())
    log("report", {"issue": slug, "to": ", ".join(config.report_to)})


def _mail(config: DispatchConfig, message: EmailMessage) -> str | None:
    """Send a message for the staff to `report_to`; why not, if it could not be sent."""
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
        return str(e)
    return None


# -- another dispatch holds the lock ----------------------------------------------------------------

STUCK_NOTE = "alerted-stuck-dispatch"  # which holder of the lock the staff were mailed about


def _another_dispatch(ledger: Ledger, config: DispatchConfig, log: Log) -> int:
    """The dispatch lock is held: busy (exit 0), or possibly hung (exit 1, and the staff are told).

    A lock held for longer than `stale_after`, or by a process that this machine does not have
    (the kernel frees a dead holder's lock, so that holder runs elsewhere or left a child holding
    it), keeps every later dispatch from sending: cron's mail must say so, not "busy".
    """
    holder = ledger.lock_holder("dispatch")
    now = dt.datetime.now(dt.UTC)
    problem = None if holder is None else _stuck(holder, ledger, config, now)
    if holder is None or problem is None:
        by = "" if holder is None else f" (pid {holder.pid}{_since(holder, config, now, ' since')})"
        log("busy", {"message": f"another dispatch is running{by}; this one does nothing"})
        return 0
    log("error", {"message": problem})
    if config.report_to:
        _alert(ledger, config, holder, problem, now, log)
    return 1


def _stuck(holder: Holder, ledger: Ledger, config: DispatchConfig, now: dt.datetime) -> str | None:
    pid, since = holder.pid, _since(holder, config, now, " since")
    if holder.alive() is False:
        path = lock_path(ledger.path, "dispatch")
        return (
            f"the dispatch lock is held, but its process {pid}{since} is not running on this machine: "
            f"another machine or container holds {path}, or a child of that process does; find it with "
            f"`fuser -v {path}`. Until it lets go, no dispatch sends anything"
        )
    age = holder.age(now)
    if age is None or age <= config.stale_after:
        return None
    on = "" if holder.here else f" on {holder.host}"
    return (
        f"dispatch has been running{on}{since} (pid {pid}, {_span(age)}): it may be hung; check it with "
        f"`ps {pid}`, stop it with `kill {pid}`; the next run resumes where it stopped. "
        f"(NEWSLETTER_LOCK_STALE_AFTER is {describe(config.stale_after)})"
    )


def _since(holder: Holder, config: DispatchConfig, now: dt.datetime, prefix: str) -> str:
    if holder.since is None:
        return ""
    local = holder.since.astimezone(config.timezone)
    same_day = local.date() == now.astimezone(config.timezone).date()
    return f"{prefix} {local:%H:%M}" if same_day else f"{prefix} {local:%Y-%m-%d %H:%M}"


def _span(age: dt.timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours} h" if hours else f"{int(age.total_seconds() // 60)} min"


def _alert(
    ledger: Ledger, config: DispatchConfig, holder: Holder, problem: str, now: dt.datetime, log: Log
) -> None:
    """Mail the staff once per stuck holder; cron runs every few minutes and would mail each time."""
    who = f"{holder.pid} {holder.since.isoformat() if holder.since else ''} {holder.host or ''}"
    if ledger.note(STUCK_NOTE) == who:
        return
    message = EmailMessage()
    message["From"] = config.envelope.sender
    message["To"] = ", ".join(config.report_to)
    message["Subject"] = f"Newsletter dispatch may be hung (pid {holder.pid})"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("alert.dispatch", domain=config.envelope.domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"{problem}.\n\nWhile it holds the lock, no newsletter is sent. This message is sent once for "
        "this process; the dispatch log says more.\n"
    )
    failure = _mail(config, message)
    if failure is not None:
        log("alert-failed", {"message": failure})
        return
    ledger.set_note(STUCK_NOTE, who)
    log("alert", {"to": ", ".join(config.report_to)})
