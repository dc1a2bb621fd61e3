"""Sending an issue to its audience: dry run, test send and the real, resumable send.

All three build messages with the same `Composer` and run the same `delivery.deliver`; they differ in
the sender and the ledger (a throwaway one for the dry run and the test send, so the real ledger is
never touched by them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsletter import audience_fields, recipients
from newsletter.delivery import Clock, Event, Limiter, Options, RunReport, Sleep, deliver
from newsletter.errors import AudienceError, BusyError, SlugClashError
from newsletter.issues import LoadedIssue
from newsletter.ledger import Delivery, Ledger
from newsletter.lock import Holder
from newsletter.merge import TRUSTED_FIELDS, link_problem
from newsletter.message import Composer, Envelope
from newsletter.model import Recipient, Rendered
from newsletter.project import Project
from newsletter.recipients import Audience
from newsletter.send.base import Sender
from newsletter.send.outbox import OutboxSender


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


def audience_path(loaded: LoadedIssue, given: Path | None, default: Path | None) -> Path:
    """--recipients, else the issue's `audience` (relative to the issue file), else the setting."""
    if given is not None:
        return given
    if loaded.issue.audience:
        return loaded.path.parent / loaded.issue.audience
    if default is not None:
        return default
    raise AudienceError(
        "no recipients: pass --recipients FILE.csv, add `audience:` to the issue or set NEWSLETTER_RECIPIENTS"
    )


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


def check_audience(loaded: LoadedIssue, rendered: Rendered, source: Path) -> Audience:
    """The audience in `source`, checked against the rendered issue as a send checks it: someone to
    send to, every merge field without a fallback provided by a column (else IssueError naming the
    line), and the rows skipped whose value would make a bad link."""
    audience = recipients.load(source)
    if not audience.count:
        raise AudienceError(f"{source}: no usable recipients ({len(audience.skipped)} rows skipped)")
    audience_fields.check(loaded, rendered, audience)
    _skip_bad_links(audience, rendered)
    return audience


def _skip_bad_links(audience: Audience, rendered: Rendered) -> None:
    """Skip, before anything is sent, the rows whose value would make a bad link where a field is
    the address of one (`[site]({{ website }})` with website javascript:…), as invalid addresses are."""
    fields = tuple(f for f in rendered.link_fields if f.key not in TRUSTED_FIELDS)
    if not fields:
        return
    audience.refuse(lambda r: link_problem(fields, r.merge_data()))
    if not audience.count:
        raise AudienceError(f"{audience.source}: no usable recipients ({len(audience.skipped)} rows skipped)")


def dry_run(
    campaign: Campaign,
    outbox: Path,
    options: Options | None = None,
    interrupt: threading.Event | None = None,
) -> tuple[RunReport, OutboxSender]:
    """Every message built and written as .eml under `outbox/<slug>/`; no network, real ledger untouched."""
    sender = OutboxSender(outbox / campaign.slug)
    report = _throwaway(campaign, sender, campaign.audience, options or Options(), interrupt=interrupt)
    return report, sender


def send_test(
    campaign: Campaign,
    sender: Sender,
    addresses: Sequence[str],
    options: Options | None = None,
    on_event: Callable[[Event], None] = lambda _: None,
    interrupt: threading.Event | None = None,
) -> RunReport:
    """The issue to `addresses` only, subject prefixed [TEST], personalised as the first audience row."""
    first = campaign.audience.first
    assert first is not None  # prepare() refuses an audience without recipients
    people: dict[str, Recipient] = {}
    for address in addresses:
        try:
            checked = recipients.check_address(address)
        except ValueError as e:
            raise AudienceError(f"--test {address}: not a valid address: {e}") from None
        # The same address twice (in any case) gets one message, as in the ledger.
        people.setdefault(checked.lower(), replace(first, email=checked))
    opts = replace(options or Options(), subject_prefix="[TEST] ", limit=None, daily_limit=None)
    return _throwaway(campaign, sender, list(people.values()), opts, on_event, interrupt)


def _throwaway(
    campaign: Campaign,
    sender: Sender,
    people: Iterable[Recipient],
    options: Options,
    on_event: Callable[[Event], None] = lambda _: None,
    interrupt: threading.Event | None = None,
) -> RunReport:
    with tempfile.TemporaryDirectory(prefix="newsletter-") as folder:
        ledger = Ledger(Path(folder) / "throwaway.sqlite3", setting=None)
        try:
            campaign.snapshot(ledger, people, campaign.date)
            return deliver(
                campaign.composer(), sender, ledger, options=options, on_event=on_event, interrupt=interrupt
            )
        finally:
            ledger.close()


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
) -> RunReport:
    """The real send: start or resume the issue's delivery; only one process at a time per issue."""
    lock = f"issue-{campaign.slug}"
    with ledger.lock(lock) as mine:
        if not mine:
            raise BusyError(
                f"{campaign.slug} is being sent by another process right now; nothing was sent. "
                f"Wait for it{_by(ledger.lock_holder(lock))} to finish, or run `newsletter status` to "
                "watch it"
            )
        if not campaign.snapshot(ledger, campaign.audience, clock()):
            _resume(campaign, ledger)
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
