"""Sending an issue to its audience: dry run, test send and the real, resumable send.

All three build messages with the same `Composer` and run the same `loop.deliver`; they differ in
the sender and the ledger (a throwaway one for the dry run and the test send, so the real ledger is
never written by them). The dry run reads the real ledger to choose whom it writes for exactly as the
real send will choose (`selection`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsletter.composing.message import Composer, Envelope

# Importable from here too, as before they had a module of their own.
from newsletter.delivering.audience import audience_path as audience_path
from newsletter.delivering.audience import check_audience as check_audience
from newsletter.delivering.loop import Clock, Event, Limiter, Options, RunReport, Sleep, deliver
from newsletter.delivering.selection import Plan, select
from newsletter.errors import AudienceError, BusyError, SlugClashError
from newsletter.ledger import Delivery, Ledger
from newsletter.ledger.lock import Holder, issue_lock
from newsletter.model import Recipient, Rendered, address_key
from newsletter.reading import recipients
from newsletter.reading.issues import LoadedIssue
from newsletter.reading.recipients import Audience
from newsletter.rendering.project import Project
from newsletter.sending.base import Sender
from newsletter.sending.outbox import OutboxSender


@dataclass
class Campaign:
    """An issue rendered once, with its audience and the message composer, ready to send."""

    loaded: LoadedIssue
    rendered: Rendered
    audience: Audience
    envelope: Envelope
    date: dt.datetime
    warnings: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.loaded.slug

    def composer(self) -> Composer:
        return Composer(self.rendered, self.envelope, date=self.date)

    def snapshot(self, ledger: Ledger, people: Iterable[Recipient], now: dt.datetime) -> bool:
        """Start this issue's delivery in `ledger` to `people`; False if it had started before."""
        return ledger.start(
            self.slug,
            subject=self.loaded.issue.subject,
            content_hash=self.content_hash(),
            audience_source=self.audience.source,
            recipients=people,
            now=now,
            source_path=str(self.source_path),
            list_id=self.envelope.list_id_for(self.rendered.list_name),
        )

    @property
    def source_path(self) -> Path:
        """The issue file as the file system knows it: the same file however the path was typed."""
        return self.loaded.path.resolve()

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for part in (
            *self.rendered.html.literals,
            *self.rendered.text.literals,
            *self.rendered.subject.literals,
        ):
            digest.update(part.encode())
        return digest.hexdigest()[:16]


def prepare(
    project: Project,
    path: Path,
    envelope: Envelope,
    *,
    recipients_file: Path | None,
    default_recipients: Path | None,
    now: dt.datetime,
) -> Campaign:
    """Load, render and check an issue and its audience; nothing is sent."""
    loaded, rendered = project.render(path)
    source = audience_path(loaded, recipients_file, default_recipients)
    audience = check_audience(loaded, rendered, source)
    return Campaign(loaded, rendered, audience, envelope, now)


@contextlib.contextmanager
def reading(db: Path) -> Iterator[Ledger | None]:
    """The real ledger opened as `status` opens it, for a dry run or the question before a send to
    read; None when it does not exist yet (nothing is created)."""
    if not db.exists():
        yield None
        return
    with Ledger.for_reading(db) as ledger:
        yield ledger


def plan(
    campaign: Campaign, ledger: Ledger | None, options: Options | None = None, *, retry_failed: bool = False
) -> Plan:
    """What a real send started now would do: who it skips and why, and how many get it this run."""
    _same_issue(campaign, ledger)
    chosen, _ = select(
        campaign.audience,
        campaign.slug,
        ledger,
        options or Options(),
        campaign.date,
        retry_failed=retry_failed,
    )
    return chosen


def announcement(campaign: Campaign, chosen: Plan, file: Path, server: str) -> list[str]:
    """What a real send says before it asks: the issue, its sender, whom it reaches now, the server."""
    signer = campaign.envelope.dkim
    return [
        f"issue:      {campaign.slug} ({file})",
        f"subject:    {campaign.loaded.issue.subject}",
        f"from:       {campaign.envelope.sender}",
        f"audience:   {campaign.audience.source}",
        f"recipients: {chosen.sentence()}",
        f"server:     {server}",
        *([f"signed:     {signer.description}"] if signer else []),
    ]


def _same_issue(campaign: Campaign, ledger: Ledger | None) -> None:
    """Refuse before counting, as the real send refuses before sending: the ledger's delivery under
    this slug may be another issue's, whose recipients are no figures of this one."""
    delivery = ledger.delivery(campaign.slug) if ledger is not None else None
    if delivery is not None:
        check_same_issue(delivery, campaign.loaded.issue.subject, str(campaign.source_path))


@dataclass(frozen=True)
class DryRun:
    report: RunReport
    outbox: OutboxSender
    plan: Plan


def dry_run(
    campaign: Campaign,
    outbox: Path,
    options: Options | None = None,
    interrupt: threading.Event | None = None,
    *,
    ledger: Ledger | None = None,
    retry_failed: bool = False,
) -> DryRun:
    """The messages a real send would send now, built and written as .eml under `outbox/<slug>/`.

    Selected as the real send selects (`selection.select`) with the real `ledger` if there is one,
    which is only read: nobody it would skip gets a file. No network.
    """
    options = options or Options()
    _same_issue(campaign, ledger)
    chosen, people = select(
        campaign.audience, campaign.slug, ledger, options, campaign.date, retry_failed=retry_failed
    )
    sender = OutboxSender(outbox / campaign.slug)
    sender.clear()
    # The selection holds the limits already; the throwaway ledger knows nothing sent today.
    unlimited = replace(options, limit=None, daily_limit=None)
    report = _throwaway(campaign, sender, people, unlimited, interrupt=interrupt)
    return DryRun(report, sender, chosen)


@dataclass(frozen=True)
class SendTestResult:
    """A test send: its run, whose fields it was personalised with, and what became of each address."""

    report: RunReport
    persona: str  # 'the first audience row: An (an@example.org)'
    outcomes: dict[str, Event]  # by address: the last of sent, failed, pending or unknown

    @property
    def exit_code(self) -> int:
        """0 sent to every address; 2 not sent at all for a reason of the server or the settings (it
        could not be reached), as a SendError is; 1 when some address was refused or it was stopped."""
        if self.report.stopped and not self.report.sent and self.report.stopped != "interrupted":
            return 2
        return self.report.exit_code

    def lines(self) -> list[tuple[bool, str]]:
        """One line per address, (True, line) for a problem; a server that could not be reached at
        all is one line with the reason, as in a real send, not one per address."""
        if self.report.stopped and not self.report.sent:
            return [(True, f"{self.report.stopped}; the test was not sent")]
        shown = []
        for email, event in self.outcomes.items():
            if event.kind == "sent":
                shown.append((False, f"sent to {email}"))
            else:
                what = "failed" if event.kind == "failed" else "not sent"
                shown.append((True, f"{what}: {email}: {event.reply}"))
        if self.report.stopped:
            shown.append((True, f"stopped early: {self.report.stopped}"))
        return shown


def send_test(
    campaign: Campaign,
    sender: Sender,
    addresses: Sequence[str],
    options: Options | None = None,
    on_event: Callable[[Event], None] = lambda _: None,
    interrupt: threading.Event | None = None,
) -> SendTestResult:
    """The issue to `addresses` only, subject prefixed [TEST], personalised as the first audience row.

    The message is addressed to the test address alone: the first row's names fill the merge
    fields, not the To header, which would name a subscriber on a message to a colleague.
    """
    first = campaign.audience.first
    assert first is not None  # prepare() refuses an audience without recipients
    # As merge fields only: Recipient.merge_data() takes them from `fields` when the names are empty.
    names = tuple((k, v) for k, v in (("first_name", first.first_name), ("name", first.name)) if v)
    people: dict[str, Recipient] = {}
    for address in addresses:
        try:
            checked = recipients.check_address(address)
        except ValueError as e:
            raise AudienceError(f"--test {address}: not a valid address: {e}") from None
        # The same address twice (in any case) gets one message, as in the ledger.
        people.setdefault(address_key(checked), Recipient(checked, fields=(*first.fields, *names)))
    outcomes: dict[str, Event] = {}

    def record(event: Event) -> None:
        if event.kind != "retry":
            outcomes[event.email] = event
        on_event(event)

    # A server that cannot be reached is tried once: the person waiting for their test hears at once.
    opts = replace(
        options or Options(), subject_prefix="[TEST] ", limit=None, daily_limit=None, give_up_after=0.0
    )
    report = _throwaway(campaign, sender, list(people.values()), opts, record, interrupt)
    return SendTestResult(report, personalised_as(campaign), outcomes)


def personalised_as(campaign: Campaign) -> str:
    """Whose fields a test send is personalised with: 'the first audience row: An (an@example.org)'."""
    first = campaign.audience.first
    assert first is not None  # prepare() refuses an audience without recipients
    who = first.name or first.first_name
    return (
        f"the first audience row: {who} ({first.email})" if who else f"the first audience row: {first.email}"
    )


def _throwaway(
    campaign: Campaign,
    sender: Sender,
    people: Iterable[Recipient],
    options: Options,
    on_event: Callable[[Event], None] = lambda _: None,
    interrupt: threading.Event | None = None,
) -> RunReport:
    with (
        tempfile.TemporaryDirectory(prefix="newsletter-") as folder,
        Ledger(Path(folder) / "throwaway.sqlite3", setting=None) as ledger,
    ):
        campaign.snapshot(ledger, people, campaign.date)
        return deliver(
            campaign.composer(), sender, ledger, options=options, on_event=on_event, interrupt=interrupt
        )


def send(
    campaign: Campaign,
    sender: Sender,
    ledger: Ledger,
    *,
    options: Options | None = None,
    clock: Clock = lambda: dt.datetime.now(dt.UTC),
    sleep: Sleep | None = None,
    limiter: Limiter | None = None,
    on_event: Callable[[Event], None] = lambda _: None,
    interrupt: threading.Event | None = None,
    retry_failed: bool = False,
) -> RunReport:
    """The real send: start or resume the issue's delivery; only one process at a time per issue.

    `retry_failed` puts the recipients refused for good in earlier runs back to pending first (their
    attempts and the server's last words stay recorded), for when the cause has been fixed.
    """
    lock = issue_lock(campaign.slug)
    with ledger.lock(lock) as mine:
        if not mine:
            raise BusyError(
                f"{campaign.slug} is being sent by another process right now; nothing was sent. "
                f"Wait for it{_by(ledger.lock_holder(lock))} to finish, or run `newsletter status` to "
                "watch it"
            )
        if not campaign.snapshot(ledger, campaign.audience, clock()):
            _resume(campaign, ledger)
        if retry_failed:
            ledger.retry_failed(campaign.slug, clock())
        return deliver(
            campaign.composer(),
            sender,
            ledger,
            options=options,
            clock=clock,
            sleep=sleep,
            limiter=limiter,
            on_event=on_event,
            interrupt=interrupt,
        )


def _by(holder: Holder | None) -> str:
    if holder is None or holder.pid is None:
        return ""
    since = f", since {holder.since.astimezone():%Y-%m-%d %H:%M}" if holder.since else ""
    return f" (pid {holder.pid}{since})"


def _resume(campaign: Campaign, ledger: Ledger) -> None:
    """Go on with a delivery that started before: the same issue, perhaps edited since."""
    delivery = ledger.delivery(campaign.slug)
    assert delivery is not None  # snapshot() found it
    subject, source = campaign.loaded.issue.subject, str(campaign.source_path)
    check_same_issue(delivery, subject, source)
    if (delivery.subject, delivery.source_path) != (subject, source):
        ledger.refingerprint(campaign.slug, subject, source)
    if delivery.content_hash != campaign.content_hash():
        campaign.warnings.append(
            f"{campaign.slug} changed since its delivery started; who already has it is not "
            "sent it again, the rest get the new version"
        )


def check_same_issue(delivery: Delivery, subject: str, source_path: str) -> None:
    """Refuse to go on with a delivery under the same slug when the file is another issue.

    The ledger knows a delivery by its slug (the file name without .yaml) and keeps its fingerprint:
    the subject and the resolved path of the issue file. An issue file with that slug is the same
    issue when it is the recorded file (its subject may have been corrected: a typo fix), or when it
    has the recorded subject (the file was moved, or its project folder renamed). Only when both
    differ is it another issue — another organisation's 2026-01.yaml on a shared ledger, an old file
    reused for new content — and going on would skip everyone who got the first one. A delivery
    recorded before the ledger kept paths (source_path NULL) is accepted.
    """
    if delivery.source_path is None:
        return
    if delivery.source_path == source_path or delivery.subject == subject:
        return
    slug = delivery.issue
    raise SlugClashError(
        f"the ledger already holds a delivery of {slug} from {delivery.source_path} (subject "
        f"{delivery.subject!r}); {source_path} is a different issue: rename the file, e.g. {slug}-b.yaml, "
        "to send it. If it is the same issue moved and retitled, put back the subject it was sent with"
    )


def next_step(report: RunReport, status_command: str, tz: dt.tzinfo = dt.UTC) -> str:
    """What will help now, after a real send: a rerun only when it would send someone something."""
    c = report.counts
    if c.open and report.next_free is not None:
        # A rerun before then sends nobody: the limit counts the last 24 hours.
        return (
            f"the daily limit of {report.daily_limit} is reached; {c.open} still due: the next can go "
            f"from {report.next_free.astimezone(tz):%Y-%m-%d %H:%M}, or let dispatch continue"
        )
    if c.open:
        why = f"stopped early: {report.stopped}" if report.stopped else "some recipients are still due"
        return f"{why}: run the same command again to send to the {c.open} still due"
    if c.failed:
        return (
            f"{c.failed} failed for good (their mail server refused them; a rerun would not help): "
            "`newsletter status --failed` lists them with the server's words; once the cause is fixed "
            "(a full mailbox emptied, a rule of the relay changed), the same command with --retry-failed "
            "sends to them again"
        )
    if c.unknown:
        return (
            f"{c.unknown} may or may not have it (the connection was lost twice after handing it over): "
            f"`{status_command}` lists them; nobody is sent it a third time"
        )
    return "done: everyone still on the list has it"
