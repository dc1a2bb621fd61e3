"""The send loop with the shipped MemorySender: retries, final failures, doubt, limits, connections.

No test waits: `sleep` is injected and records the backoff delays, and the clock is injected where the
daily limit needs days to pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from collections import Counter
from pathlib import Path

import pytest
from conftest import ENVELOPE, ROOT, SAMPLE, T0, people
from issue_files import copy_sample_images

from newsletter.composing.message import Composer, parse
from newsletter.delivering import campaign
from newsletter.delivering.loop import Backoff, Event, Limiter, Options, Rate, RunReport, deliver
from newsletter.errors import ConfigError, LedgerError, MergeError, SendError
from newsletter.ledger import Counts, Ledger
from newsletter.model import Recipient, Rendered
from newsletter.rendering.project import Project
from newsletter.sending.base import Ambiguous, Permanent, Reply, Temporary
from newsletter.sending.memory import MemoryConnection, MemorySender

PEOPLE = people(5)
EMAILS = [p.email for p in PEOPLE]


class Sleeps(list[float]):
    """Stands in for time.sleep: remembers the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _run(
    rendered: Rendered,
    ledger: Ledger,
    sender: MemorySender,
    people: list[Recipient] = PEOPLE,
    **kwargs: object,
) -> RunReport:
    """Start (or resume) the delivery of the sample issue to `people` and run it."""
    ledger.start(
        rendered.slug,
        subject="subject",
        content_hash="hash",
        audience_source="test",
        recipients=people,
        now=T0,
    )
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("clock", lambda: T0)
    return deliver(Composer(rendered, ENVELOPE, date=T0), sender, ledger, **kwargs)  # type: ignore[arg-type]


def _copies(sender: MemorySender) -> Counter[str]:
    return Counter(sent.recipient for sent in sender.outbox)


def _message_id(data: bytes) -> str:
    return str(parse(data)["Message-ID"])


def _row(ledger: Ledger, slug: str, email: str) -> tuple[str, str | None, int, int]:
    (row,) = [r for r in ledger.rows(slug) if r.recipient.email == email]
    return row.status, row.last_reply, row.attempts, row.ambiguous


def test_everyone_is_sent_the_issue_once_and_the_delivery_finishes(
    rendered: Rendered, ledger: Ledger
) -> None:
    sender = MemorySender()
    events: list[Event] = []
    report = _run(rendered, ledger, sender, on_event=events.append)
    assert _copies(sender) == Counter(EMAILS)
    assert (report.sent, report.failed, report.exit_code) == (5, 0, 0)
    assert report.counts == Counts(audience=5, sent=5)
    assert [(e.kind, e.done, e.total) for e in events][-1] == ("sent", 5, 5)
    delivery = ledger.delivery(rendered.slug)
    assert delivery is not None
    assert delivery.finished_at == T0
    # Each message is the recipient's own, with the ledger's Message-ID.
    for sent in sender.outbox:
        message = parse(sent.data)
        assert message["To"].addresses[0].addr_spec == sent.recipient
        assert (
            message["Message-ID"]
            == ledger.rows(rendered.slug, "sent")[EMAILS.index(sent.recipient)].message_id
        )
    assert sender.outbox[0].sender == "nieuwsbrief@example.org"
    # A second run has nothing left to do.
    again = _run(rendered, ledger, sender)
    assert (again.attempted, again.exit_code) == (0, 0)
    assert len(sender.outbox) == 5


def test_a_reader_who_unsubscribes_while_the_run_goes_is_skipped_and_the_delivery_completes(
    rendered: Rendered, ledger: Ledger
) -> None:
    audience = people(200)
    sender = MemorySender()
    events: list[Event] = []

    def unsubscribe_during_the_run(event: Event) -> None:
        events.append(event)
        if event.kind == "sent" and event.done == 3:
            # Every row was read (one page of 500) before this: the run finds out when it claims it.
            ledger.suppress(["p150@example.org"], "unsubscribed", T0, source="one-click")

    report = _run(rendered, ledger, sender, audience, on_event=unsubscribe_during_the_run)
    assert _copies(sender) == Counter(p.email for p in audience if p.email != "p150@example.org")
    assert ("skipped", "p150@example.org") in [(e.kind, e.email) for e in events]
    assert report.counts == Counts(audience=200, sent=199, skipped=1)
    assert _row(ledger, rendered.slug, "p150@example.org")[0] == "skipped"
    assert report.exit_code == 0


def test_temporary_failures_are_retried_with_growing_delays(rendered: Rendered, ledger: Ledger) -> None:
    greylisted = Reply(451, "4.7.1 Greylisted, try again later")
    sender = MemorySender(script={"p2@example.org": [Temporary(greylisted), Temporary(greylisted)]})
    sleeps = Sleeps()
    events: list[Event] = []
    report = _run(rendered, ledger, sender, sleep=sleeps, on_event=events.append, rng=random.Random(3))
    assert _copies(sender) == Counter(EMAILS)
    assert report.retried == 2
    assert [e.kind for e in events if e.email == "p2@example.org"] == ["retry", "retry", "sent"]
    # Backoff(base=2): the first delay is in [1, 2] s, the second in [2, 4] s.
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 2.0
    assert 2.0 <= sleeps[1] <= 4.0
    status, reply, attempts, _ = _row(ledger, rendered.slug, "p2@example.org")
    assert (status, reply, attempts) == ("sent", "250 OK", 3)


@pytest.mark.parametrize("seed", range(20))
def test_backoff_doubles_with_jitter_within_bounds_up_to_the_cap(seed: int) -> None:
    backoff = Backoff(base=2.0, cap=60.0)
    rng = random.Random(seed)
    for attempt in range(1, 10):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        assert ceiling / 2 <= backoff.delay(attempt, rng) <= ceiling


def test_backoff_jitter_spreads_the_retries() -> None:
    rng = random.Random(1)
    delays = {round(Backoff().delay(3, rng), 6) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) < 5.0 < 7.0 < max(delays)


def test_what_still_fails_after_the_last_retry_stays_pending_and_the_next_run_sends_it(
    rendered: Rendered, ledger: Ledger
) -> None:
    busy = Reply(450, "4.2.1 Mailbox busy")
    sender = MemorySender(script={"p3@example.org": [Temporary(busy) for _ in range(4)]})
    sleeps = Sleeps()
    events: list[Event] = []
    first = _run(rendered, ledger, sender, sleep=sleeps, on_event=events.append)
    assert _copies(sender) == Counter(EMAILS) - Counter(["p3@example.org"])
    assert len(sleeps) == 3  # 4 attempts, 3 waits; the last failure is left for the next run
    assert sleeps == sorted(sleeps)
    assert [e.kind for e in events if e.email == "p3@example.org"][-1] == "pending"
    assert _row(ledger, rendered.slug, "p3@example.org")[:3] == ("pending", "450 4.2.1 Mailbox busy", 4)
    assert (first.counts.pending, first.exit_code) == (1, 1)
    delivery = ledger.delivery(rendered.slug)
    assert delivery is not None
    assert delivery.finished_at is None

    second = _run(rendered, ledger, sender)
    assert (second.attempted, second.sent, second.exit_code) == (1, 1, 0)
    assert _copies(sender) == Counter(EMAILS)


def test_permanent_failure_is_final_and_recorded_with_the_servers_words(
    rendered: Rendered, ledger: Ledger
) -> None:
    refusal = Reply(550, "5.1.1 <p4@example.org>: Recipient address rejected: User unknown")
    sender = MemorySender(script={"p4@example.org": [Permanent(refusal)]})
    sleeps = Sleeps()
    report = _run(rendered, ledger, sender, sleep=sleeps)
    assert sleeps == []
    assert "p4@example.org" not in _copies(sender)
    assert report.failures == [("p4@example.org", str(refusal))]
    status, reply, attempts, _ = _row(ledger, rendered.slug, "p4@example.org")
    assert (status, reply, attempts) == (
        "failed",
        "550 5.1.1 <p4@example.org>: Recipient address rejected: User unknown",
        1,
    )
    assert (report.counts.failed, report.exit_code) == (1, 1)
    # Final: the next run does not try again.
    again = _run(rendered, ledger, sender)
    assert again.attempted == 0
    assert len(sender.outbox) == 4


def test_ambiguous_hand_over_is_unknown_and_resent_once_next_run_with_the_same_message_id(
    rendered: Rendered, ledger: Ledger
) -> None:
    lost = Reply(0, "connection lost after the message was handed over")
    sender = MemorySender(script={"p2@example.org": [Ambiguous(lost, connection_lost=True)]})
    first = _run(rendered, ledger, sender)
    assert (first.unknown, first.counts.unknown, first.exit_code) == (1, 1, 1)
    (row,) = ledger.rows(rendered.slug, "unknown")
    assert (row.recipient.email, row.ambiguous) == ("p2@example.org", 1)
    first_id = row.message_id
    assert first_id is not None
    # The lost connection is not used again.
    assert sender.connections_opened == 2

    second = _run(rendered, ledger, sender)
    assert (second.attempted, second.sent, second.exit_code) == (1, 1, 0)
    (resent,) = [s for s in sender.outbox if s.recipient == "p2@example.org"]
    assert _message_id(resent.data) == first_id
    assert _row(ledger, rendered.slug, "p2@example.org")[0] == "sent"


def test_unknown_twice_is_left_for_a_person_to_check(rendered: Rendered, ledger: Ledger) -> None:
    lost = Reply(0, "connection lost after the message was handed over")
    sender = MemorySender(script={"p2@example.org": [Ambiguous(lost), Ambiguous(lost)]})
    _run(rendered, ledger, sender)
    second = _run(rendered, ledger, sender)
    assert second.unknown == 1
    assert _row(ledger, rendered.slug, "p2@example.org")[::3] == ("unknown", 2)
    third = _run(rendered, ledger, sender)
    assert third.attempted == 0
    assert "p2@example.org" not in _copies(sender)


def test_temporary_failure_on_the_resend_keeps_the_row_owed_its_one_resend(
    rendered: Rendered, ledger: Ledger
) -> None:
    lost = Reply(0, "connection lost after the message was handed over")
    refused = Reply(0, "cannot connect to the server")
    sender = MemorySender(
        script={
            "p1@example.org": [Ambiguous(lost), *(Temporary(refused, connection_lost=True) for _ in range(4))]
        }
    )
    _run(rendered, ledger, sender)
    _run(rendered, ledger, sender)
    assert _row(ledger, rendered.slug, "p1@example.org")[::3] == ("unknown", 1)
    third = _run(rendered, ledger, sender)
    assert third.sent == 1
    assert _copies(sender) == Counter(EMAILS)


def test_a_run_killed_mid_send_is_recovered_and_the_message_in_doubt_resent_with_its_message_id(
    rendered: Rendered, ledger: Ledger
) -> None:
    _run(rendered, ledger, MemorySender(), options=Options(limit=2))
    # What a process killed between handing p3's message over and hearing the reply leaves behind:
    composer = Composer(rendered, ENVELOPE, date=T0)
    in_flight = composer.compose(PEOPLE[2])
    ledger.mark_sending(rendered.slug, "p3@example.org", in_flight.message_id, T0)

    sender = MemorySender()
    report = _run(rendered, ledger, sender)
    assert report.recovered == 1
    assert _copies(sender) == Counter(EMAILS[2:])
    (resent,) = [s for s in sender.outbox if s.recipient == "p3@example.org"]
    assert _message_id(resent.data) == in_flight.message_id
    assert _row(ledger, rendered.slug, "p3@example.org")[::3] == ("sent", 1)
    assert report.exit_code == 0


def test_limit_sends_at_most_n_and_the_next_run_sends_the_rest(rendered: Rendered, ledger: Ledger) -> None:
    sender = MemorySender()
    first = _run(rendered, ledger, sender, options=Options(limit=2))
    assert [s.recipient for s in sender.outbox] == EMAILS[:2]
    assert (first.stopped, first.exit_code) == ("limit", 1)
    second = _run(rendered, ledger, sender, options=Options(limit=10))
    assert second.stopped is None
    assert _copies(sender) == Counter(EMAILS)


def test_daily_limit_splits_a_delivery_across_two_days(rendered: Rendered, ledger: Ledger) -> None:
    now = [T0]
    sender = MemorySender()
    options = Options(daily_limit=3)
    first = _run(rendered, ledger, sender, options=options, clock=lambda: now[0])
    assert (len(sender.outbox), first.stopped) == (3, "daily limit")

    now[0] = T0 + dt.timedelta(hours=23)
    later_that_day = _run(rendered, ledger, sender, options=options, clock=lambda: now[0])
    assert (later_that_day.attempted, later_that_day.stopped) == (0, "daily limit")

    now[0] = T0 + dt.timedelta(days=1, minutes=1)
    next_day = _run(rendered, ledger, sender, options=options, clock=lambda: now[0])
    assert (next_day.sent, next_day.stopped, next_day.exit_code) == (2, None, 0)
    assert _copies(sender) == Counter(EMAILS)


def test_daily_limit_counts_what_other_issues_sent(rendered: Rendered, ledger: Ledger) -> None:
    ledger.start("2025-12", subject="s", content_hash="h", audience_source="t", recipients=PEOPLE, now=T0)
    for email in EMAILS[:4]:
        ledger.mark("2025-12", email, "sent", "250 OK", T0 - dt.timedelta(hours=2))
    sender = MemorySender()
    report = _run(rendered, ledger, sender, options=Options(daily_limit=5))
    assert (len(sender.outbox), report.stopped) == (1, "daily limit")


@pytest.mark.parametrize(("per_connection", "opened"), [(1, 5), (2, 3), (5, 1), (100, 1)])
def test_messages_per_connection_recycles_connections(
    rendered: Rendered, ledger: Ledger, per_connection: int, opened: int
) -> None:
    sender = MemorySender()
    _run(rendered, ledger, sender, options=Options(messages_per_connection=per_connection))
    assert sender.connections_opened == opened
    assert _copies(sender) == Counter(EMAILS)


def test_parallel_connections_share_the_audience(rendered: Rendered, ledger: Ledger) -> None:
    people = [Recipient(f"r{i:02d}@example.org") for i in range(30)]
    sender = MemorySender()
    report = _run(rendered, ledger, sender, people, options=Options(connections=4))
    # A connection is opened when a worker has a message for it: at most one per worker.
    assert 1 <= sender.connections_opened <= 4
    assert _copies(sender) == Counter(p.email for p in people)
    assert report.counts == Counts(audience=30, sent=30)


def test_a_lost_connection_is_replaced(rendered: Rendered, ledger: Ledger) -> None:
    dropped = Reply(421, "4.3.2 closing")
    sender = MemorySender(script={"p2@example.org": [Temporary(dropped, connection_lost=True)]})
    _run(rendered, ledger, sender)
    assert sender.connections_opened == 2
    assert _copies(sender) == Counter(EMAILS)


def test_suppressed_address_is_never_sent(rendered: Rendered, ledger: Ledger) -> None:
    ledger.suppress(["P1@example.org"], "unsubscribed", T0)
    ledger.start(rendered.slug, subject="s", content_hash="h", audience_source="t", recipients=PEOPLE, now=T0)
    # Unsubscribed after the delivery started, before it reached them.
    ledger.suppress(["p4@example.org"], "unsubscribed", T0)
    sender = MemorySender()
    report = _run(rendered, ledger, sender)
    assert _copies(sender) == Counter(["p2@example.org", "p3@example.org", "p5@example.org"])
    assert report.counts == Counts(audience=5, sent=3, skipped=2)
    assert report.exit_code == 0
    assert _row(ledger, rendered.slug, "p4@example.org")[:2] == ("skipped", "suppressed")


def test_a_merge_field_missing_mid_send_stops_the_run_and_marks_nobody_failed(
    tmp_path: Path, ledger: Ledger
) -> None:
    # The audience check before a send refuses such an issue; a delivery that resumes with a column
    # its recorded audience lacks still meets it here.
    issue = tmp_path / "issues" / "2026-02.yaml"
    issue.parent.mkdir()
    copy_sample_images(issue.parent)
    sample = SAMPLE.read_text(encoding="utf-8")
    greeting = "Beste {{ first_name | default('lezer') }},"
    issue.write_text(sample.replace(greeting, "Beste inwoner van {{ gemeente }},"), encoding="utf-8")
    _, rendered = Project(tmp_path / "issues", ROOT / "layouts").render(issue)
    people = [
        Recipient("an@example.org", fields=(("gemeente", "Hasselt"),)),
        Recipient("bert@example.org"),
        Recipient("carla@example.org", fields=(("gemeente", "Genk"),)),
    ]
    sender = MemorySender()
    with pytest.raises(MergeError, match=r"bert@example\.org: the issue uses \{\{ gemeente \}\}"):
        _run(rendered, ledger, sender, people)
    assert [s.recipient for s in sender.outbox] == ["an@example.org"]
    status, reply, _, _ = _row(ledger, rendered.slug, "bert@example.org")
    assert status == "pending"
    assert reply is not None
    assert "default(" in reply
    assert ledger.counts(rendered.slug) == Counts(audience=3, sent=1, pending=2)

    # The issue fixed, the same delivery goes on with those still due.
    fixed = "Beste inwoner van {{ gemeente | default('Limburg') }},"
    issue.write_text(sample.replace(greeting, fixed), encoding="utf-8")
    _, rendered = Project(tmp_path / "issues", ROOT / "layouts").render(issue)
    report = _run(rendered, ledger, sender, people)
    assert report.exit_code == 0
    assert _copies(sender) == Counter(p.email for p in people)
    text = parse(sender.outbox[1].data).get_body(("plain",))
    assert text is not None
    assert "Beste inwoner van Limburg," in text.get_content()


def _campaign(project_dir: Path, rows: str) -> campaign.Campaign:
    audience = project_dir / "leden.csv"
    audience.write_text(rows, encoding="utf-8")
    return campaign.prepare(
        Project(),
        Path("issues/2026-01.yaml"),
        ENVELOPE,
        recipients_file=audience,
        default_recipients=None,
        now=T0,
    )


def test_send_refuses_while_another_process_holds_the_issue(project_dir: Path) -> None:
    prepared = _campaign(project_dir, "email\nan@example.org\nbert@example.org\n")
    holder = Ledger(project_dir / "ledger.sqlite3")
    ledger = Ledger(project_dir / "ledger.sqlite3")
    sender = MemorySender()
    try:
        with holder.lock("issue-2026-01") as mine:
            assert mine
            with pytest.raises(LedgerError, match="being sent by another process"):
                campaign.send(prepared, sender, ledger, sleep=Sleeps())
        assert sender.outbox == []
        assert ledger.delivery("2026-01") is None
        report = campaign.send(prepared, sender, ledger, sleep=Sleeps())
        assert report.sent == 2
    finally:
        holder.close()
        ledger.close()


def test_changed_issue_warns_and_sends_only_to_who_is_left(project_dir: Path) -> None:
    ledger = Ledger(project_dir / "ledger.sqlite3")
    try:
        first = _campaign(project_dir, "email\nan@example.org\n")
        campaign.send(first, MemorySender(), ledger, options=Options(limit=1))
        path = project_dir / "issues" / "2026-01.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("Limburg wil", "Limburg wil nu"), "utf-8")
        changed = _campaign(project_dir, "email\nan@example.org\nbert@example.org\n")
        sender = MemorySender()
        report = campaign.send(changed, sender, ledger)
        # The audience was snapshotted when the delivery started: bert was not in it.
        assert (report.attempted, sender.outbox) == (0, [])
        assert any("changed since its delivery started" in w for w in changed.warnings)
    finally:
        ledger.close()


def test_dry_run_writes_every_message_and_leaves_no_ledger(project_dir: Path) -> None:
    prepared = _campaign(project_dir, "email;first_name\nan@example.org;An\nbert@example.org;Bert\n")
    done = campaign.dry_run(prepared, project_dir / "outbox")
    report, outbox = done.report, done.outbox
    assert report.sent == 2
    files = sorted((project_dir / "outbox" / "2026-01").iterdir())
    assert [f.name for f in files] == ["000001-an@example.org.eml", "000002-bert@example.org.eml"]
    assert outbox.count == 2
    assert not list(project_dir.glob("*.sqlite3"))


def test_test_send_goes_once_to_each_address_with_a_test_subject(project_dir: Path) -> None:
    prepared = _campaign(project_dir, "email;first_name\nan@example.org;An\n")
    sender = MemorySender()
    report = campaign.send_test(prepared, sender, ["me@example.org", "ME@example.org", "you@example.org"])
    assert [s.recipient for s in sender.outbox] == ["me@example.org", "you@example.org"]
    assert all(str(parse(s.data)["Subject"]).startswith("[TEST] ") for s in sender.outbox)
    assert report.exit_code == 0


class FakeTime:
    """A monotonic clock that moves only when someone sleeps (or the test moves it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_limiter_spaces_sends_evenly_with_a_margin() -> None:
    time = FakeTime()
    limiter = Limiter(Rate.parse("10/second"), monotonic=time.monotonic, sleep=time.sleep)
    starts = []
    for _ in range(12):
        limiter.acquire()
        starts.append(time.now)
        limiter.release()
    assert starts[0] == 0.0
    assert all(later - first == pytest.approx(0.101) for first, later in itertools.pairwise(starts))
    assert starts[10] - starts[0] >= 1.0


def test_limiter_waits_for_slow_sends_to_leave_the_window() -> None:
    time = FakeTime()
    limiter = Limiter(Rate.parse("2/second"), monotonic=time.monotonic, sleep=time.sleep)
    limiter.acquire()  # a slow send starts at 0.0 …
    limiter.acquire()  # … and a quick one at 0.505 on another connection
    assert time.now == pytest.approx(0.505)
    time.now = 0.51
    limiter.release()
    time.now = 0.9  # the slow one ends: the server may have it at any moment until now
    limiter.release()
    limiter.acquire()
    # Spacing alone would allow 1.01; two sends ended within the last second, the first at 0.51.
    assert time.now == pytest.approx(1.51)


def test_limiter_without_a_rate_never_waits() -> None:
    time = FakeTime()
    limiter = Limiter(None, monotonic=time.monotonic, sleep=time.sleep)
    for _ in range(100):
        limiter.acquire()
        limiter.release()
    assert time.sleeps == []


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [("30/minute", 30, 60.0), ("14/second", 14, 1.0), ("1000/hour", 1000, 3600.0), (" 5 / min ", 5, 60.0)],
)
def test_rate_parses_what_providers_publish(text: str, count: int, period: float) -> None:
    assert Rate.parse(text) == Rate(count, period)


@pytest.mark.parametrize("text", ["fast", "0/second", "10 per minute", "10/fortnight"])
def test_rate_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ConfigError, match="NEWSLETTER_RATE"):
        Rate.parse(text)


def test_deliver_with_a_rate_sends_no_faster_than_it(rendered: Rendered, ledger: Ledger) -> None:
    time = FakeTime()
    limiter = Limiter(Rate.parse("2/second"), monotonic=time.monotonic, sleep=time.sleep)
    sender = MemorySender()
    _run(rendered, ledger, sender, limiter=limiter)
    assert _copies(sender) == Counter(EMAILS)
    # Five sends at 2/second, 0.505 s apart: the fifth starts 2.02 s after the first.
    assert time.now == pytest.approx(4 * 0.505)


class LedgerWatchingSender(MemorySender):
    """A MemorySender that notes, at every hand-over, how many rows the ledger has `sending`."""

    def __init__(self, ledger: Ledger, slug: str) -> None:
        super().__init__()
        self.ledger = ledger
        self.slug = slug
        self.in_doubt: list[int] = []

    def connect(self) -> MemoryConnection:
        return WatchedConnection(self)


class WatchedConnection(MemoryConnection):
    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        assert isinstance(self.sender, LedgerWatchingSender)
        self.sender.in_doubt.append(self.sender.ledger.counts(self.sender.slug).sending)
        return super().send(sender, recipient, data)


@pytest.mark.parametrize("connections", [1, 3])
def test_the_ledger_never_has_more_than_one_message_in_doubt_per_connection(
    rendered: Rendered, ledger: Ledger, connections: int
) -> None:
    people = [Recipient(f"r{i}@example.org") for i in range(60)]
    sender = LedgerWatchingSender(ledger, rendered.slug)
    report = _run(rendered, ledger, sender, people, options=Options(connections=connections))
    assert report.counts.sent == 60
    assert report.counts.complete
    assert max(sender.in_doubt) <= connections
    assert all(row.status == "sent" and row.sent_at for row in ledger.rows(rendered.slug))


def test_a_large_audience_is_fed_a_page_at_a_time_and_everyone_is_sent_once(
    rendered: Rendered, ledger: Ledger
) -> None:
    people = [Recipient(f"r{i}@example.org") for i in range(1234)]
    sender = MemorySender()
    report = _run(rendered, ledger, sender, people, options=Options(connections=2, limit=1100))
    assert report.sent == 1100
    assert report.stopped == "limit"
    report = _run(rendered, ledger, sender, people, options=Options(connections=2))
    assert report.sent == 134
    assert _copies(sender) == Counter(p.email for p in people)


def test_a_delivery_whose_only_open_rows_were_resent_once_is_complete(
    rendered: Rendered, ledger: Ledger
) -> None:
    lost = Ambiguous(Reply(0, "connection lost"), connection_lost=True)
    sender = MemorySender(script={EMAILS[0]: [lost, lost]})
    _run(rendered, ledger, sender)
    report = _run(rendered, ledger, sender)
    assert report.counts.unknown == 1
    assert report.counts.complete
    assert ledger.delivery(rendered.slug) is not None
    assert ledger.delivery(rendered.slug).finished_at is not None  # type: ignore[union-attr]


class RefusingConnection(MemoryConnection):
    """p1 is always deferred (4xx); the server refuses the sender outright for p2 (fatal)."""

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        if recipient == "p1@example.org":
            raise Temporary(Reply(451, "try again later"))
        if recipient == "p2@example.org":
            raise SendError("the server refuses the sender")
        return super().send(sender, recipient, data)


class RefusingSender(MemorySender):
    def connect(self) -> MemoryConnection:
        return RefusingConnection(self)


def test_a_fatal_error_on_one_connection_cuts_short_the_retry_wait_on_another(
    rendered: Rendered, ledger: Ledger
) -> None:
    # With no sleep injected the retry waits on the run's stop event: an hour-long backoff must end
    # as soon as the other connection's fatal error stops the run.
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            _run(
                rendered,
                ledger,
                RefusingSender(),
                PEOPLE[:2],
                sleep=None,
                options=Options(connections=2, backoff=Backoff(base=3600, cap=3600, attempts=3)),
            )
        except SendError as e:
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the retry wait was not cut short"
    assert len(outcome) == 1
    assert "refuses the sender" in str(outcome[0])
    assert ledger.counts(rendered.slug).sending == 0
