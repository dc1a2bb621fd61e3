"""The send loop: an issue's due recipients, one message each, through a sender, recorded in the ledger.

Dry run, test send and the real send all run through `deliver`; they differ only in the sender and
in which ledger they record to (a throwaway one for dry runs and tests). Sender, ledger, clock and
sleep are parameters, so every path can be tested without waiting or a network.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import queue
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr

from newsletter.composing.message import Composer
from newsletter.errors import ConfigError, MergeError, NewsletterError, SendError
from newsletter.ledger import Counts, Ledger, Outcome, Row
from newsletter.sending.base import Ambiguous, Connection, Permanent, Sender, Temporary

Clock = Callable[[], dt.datetime]
Held = tuple[str, str] | None  # (address, reply) accepted by the server, not yet in the ledger
Sleep = Callable[[float], None]

UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


@dataclass(frozen=True)
class Rate:
    """At most `count` messages per `period` seconds."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'30/minute', '14/second', '1000/hour' (also 's', 'min', 'h')."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", text.lower())
        aliases = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour", "d": "day"}
        unit = aliases.get(match[2], match[2].rstrip("s")) if match else ""
        if not match or unit not in UNITS or int(match[1]) < 1:
            raise ConfigError(f"NEWSLETTER_RATE={text!r}: write it as e.g. 30/minute or 14/second")
        return cls(int(match[1]), UNITS[unit])

    def __str__(self) -> str:
        unit = {v: k for k, v in UNITS.items()}.get(self.period, f"{self.period:g}s")
        return f"{self.count}/{unit}"


class Limiter:
    """One limiter for all connections: never more than `count` messages in any `period` at the server.

    Sends are spaced evenly (no bursts), with a 1 % margin. Spacing alone holds only while every
    message takes as long to reach the server as the one before; a busy machine or network breaks
    that. So a send also waits while `count` others are in flight or ended less than `period` ago:
    the server receives a message after we start sending it and before we hear its reply, hence no
    window of `period` at the server holds more than `count`, whatever the delays. Every `acquire()`
    is paired with a `release()` when that send is over, however it ended.
    """

    def __init__(self, rate: Rate | None, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Sleep | None = None) -> None:  # fmt: skip
        self.rate = rate
        self.interval = rate.period / rate.count * 1.01 if rate else 0.0
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()  # held while waiting for a turn: turns go in order
        self._state = threading.Lock()  # guards the counts, which release() changes meanwhile
        self._in_flight = 0
        self._ended: collections.deque[float] = collections.deque()

    def _wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Wait `seconds`, or less if `stop` is set meanwhile; False when the run is stopping."""
        if self._sleep is not None:
            self._sleep(seconds)
        elif stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)
        return stop is None or not stop.is_set()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a turn; False (and no turn taken) when `stop` is set while waiting.

        A slow rate (30 a minute, 1000 a day) means long waits: a run that is asked to stop must not
        sit them out.
        """
        if self.rate is None:
            return True
        count, period = self.rate.count, self.rate.period
        with self._lock:
            now = self._monotonic()
            if self._next > now and not self._wait(self._next - now, stop):
                return False
            while True:
                now = self._monotonic()
                with self._state:
                    while self._ended and self._ended[0] <= now - period:
                        self._ended.popleft()
                    if self._in_flight + len(self._ended) < count:
                        self._in_flight += 1
                        break
                    wait = self._ended[0] + period - now if self._ended else 0.01
                if not self._wait(wait, stop):
                    return False
            self._next = now + self.interval
        return True

    def release(self) -> None:
        if self.rate is None:
            return
        with self._state:
            self._in_flight -= 1
            self._ended.append(self._monotonic())


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between attempts at one recipient."""

    base: float = 2.0
    cap: float = 60.0
    attempts: int = 4  # per recipient per run; what still fails stays pending for the next run

    def delay(self, attempt: int, rng: random.Random) -> float:
        return float(min(self.cap, self.base * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0))


@dataclass(frozen=True)
class Event:
    """What happened to one recipient, for progress bars and logs."""

    kind: str  # sent, failed, retry, unknown, pending
    email: str
    reply: str
    done: int
    total: int


@dataclass
class Options:
    connections: int = 1
    messages_per_connection: int = 100
    limit: int | None = None
    daily_limit: int | None = None
    backoff: Backoff = field(default_factory=Backoff)
    subject_prefix: str = ""
    # How long to keep trying to reach a server that does not answer before the run stops: each try
    # can take the whole connection timeout, so four of them would quadruple it.
    give_up_after: float = 30.0


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

    @property
    def exit_code(self) -> int:
        """0 all sent, 1 some failed or still pending."""
        return 0 if self.counts.complete and self.counts.failed == 0 else 1


class _Run:
    def __init__(
        self,
        composer: Composer,
        sender: Sender,
        ledger: Ledger,
        options: Options,
        clock: Clock,
        sleep: Sleep | None,
        limiter: Limiter,
        on_event: Callable[[Event], None],
        rng: random.Random,
        report: RunReport,
        total: int,
    ) -> None:
        self.composer = composer
        self.sender = sender
        self.ledger = ledger
        self.options = options
        self.clock = clock
        self._sleep = sleep
        self.limiter = limiter
        self.on_event = on_event
        self.rng = rng
        self.report = report
        self.total = total
        self.envelope_from = parseaddr(composer.envelope.sender)[1]
        self.issue = composer.rendered.slug
        self.stop = threading.Event()  # set by a fatal error, an interruption or a dead server
        self.fed = threading.Event()  # every due row has been queued
        self.fatal: BaseException | None = None
        self.lock = threading.Lock()
        self.done = 0

    def pause(self, seconds: float) -> None:
        """Wait before a retry; a run that is stopping (Ctrl-C, a fatal error) cuts the wait short."""
        if self._sleep is None:
            self.stop.wait(seconds)
        else:
            self._sleep(seconds)

    def _event(self, kind: str, email: str, reply: str) -> None:
        with self.lock:
            if kind in ("sent", "failed", "unknown", "pending"):
                self.done += 1
            event = Event(kind, email, reply, self.done, self.total)
        self.on_event(event)

    def _count(self, attr: str, failure: tuple[str, str] | None = None) -> None:
        with self.lock:
            setattr(self.report, attr, getattr(self.report, attr) + 1)
            if failure:
                self.report.failures.append(failure)

    def _fail(self, error: BaseException) -> None:
        """Stop the run for `error`; the first one is what the caller hears."""
        with self.lock:
            if self.fatal is None:
                self.fatal = error
        self.stop.set()

    def _next_row(self, rows: queue.Queue[Row]) -> Row | None:
        """The next row to send, or None when the run is stopping or every row has been taken."""
        while not self.stop.is_set():
            try:
                return rows.get(timeout=0.1)
            except queue.Empty:
                if not self.fed.is_set():
                    continue
            # Fed completely: no row can arrive any more, so an empty queue now is the end.
            try:
                return rows.get_nowait()
            except queue.Empty:
                return None
        return None

    def worker(self, rows: queue.Queue[Row]) -> None:
        connection: Connection | None = None
        used = 0
        held: Held = None
        try:
            while (row := self._next_row(rows)) is not None:
                connection, used, held = self._deliver_one(row, connection, used, held)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self._fail(e)
        finally:
            try:
                self._record_sent(held)
            except BaseException as e:  # noqa: BLE001 - the ledger itself failed: the run stops on it
                # The row stays `sending`: the next run resends it once with the same Message-ID.
                self._fail(e)
            finally:
                _close_quietly(connection)

    def _record_sent(self, held: Held) -> None:
        if held is not None:
            self.ledger.mark(self.issue, held[0], "sent", held[1], self.clock())

    def _deliver_one(
        self, row: Row, connection: Connection | None, used: int, held: Held
    ) -> tuple[Connection | None, int, Held]:
        """Send one row's message, retrying what may work later.

        `held` is the previous message of this connection, accepted but not yet recorded: it is
        recorded in the same commit that marks this one as sending, unless something may take a
        while first (a new connection, a wait for the rate limit), when it is recorded at once.
        """
        email = row.recipient.email
        self._count("attempted")
        if connection is None or self.limiter.rate is not None:
            self._record_sent(held)
            held = None
        started = time.monotonic()
        for attempt in range(1, self.options.backoff.attempts + 1):
            if self.stop.is_set():
                break
            connecting = connection is None
            try:
                if connection is None:
                    connection, used = self.sender.connect(), 0
                connecting = False
                outgoing = self.composer.compose(row.recipient)
                # Composing takes a varying while: wait for the slot after it, just before the message
                # goes out, so the server sees the messages as evenly spaced as the limiter made them.
                if not self.limiter.acquire(self.stop):
                    break  # stopping: the row stays as it was, nothing went out
                try:
                    self.ledger.mark_sending(
                        self.issue, email, outgoing.message_id, self.clock(), sent_before=held
                    )
                    held = None
                    reply = connection.send(self.envelope_from, email, outgoing.data)
                finally:
                    self.limiter.release()
            except MergeError as e:
                # A mistake in the issue, the layout or the settings, not this person's: nobody is
                # marked failed for it (failed is final). The run stops as for a server that refuses
                # us, before this message went out, and the row stays due for the run after the fix.
                status: Outcome = "unknown" if row.status == "unknown" else "pending"
                self.ledger.mark(self.issue, email, status, str(e), self.clock(), ambiguous=False)
                _close_quietly(connection)
                raise
            except Permanent as e:
                self.ledger.mark(self.issue, email, "failed", str(e.reply), self.clock())
                self._count("failed", (email, str(e.reply)))
                self._event("failed", email, str(e.reply))
                return (*self._after_send(connection, used, e.connection_lost), None)
            except Ambiguous as e:
                self.ledger.mark(self.issue, email, "unknown", str(e.reply), self.clock())
                self._count("unknown")
                self._event("unknown", email, str(e.reply))
                return (*self._after_send(connection, used, True), None)
            except SendError as e:
                # The server refuses us as a whole (e.g. the From address) before taking this message:
                # not in doubt, so not left `sending` for the next run to count as handed over.
                status = "unknown" if row.status == "unknown" else "pending"
                self.ledger.mark(self.issue, email, status, str(e), self.clock(), ambiguous=False)
                _close_quietly(connection)
                raise
            except Temporary as e:
                if connection is not None and e.connection_lost:
                    connection.close()
                    connection = None
                # Not handed over: an unknown row stays unknown (still owed its one resend).
                status = "unknown" if row.status == "unknown" else "pending"
                self.ledger.mark(self.issue, email, status, str(e.reply), self.clock(), ambiguous=False)
                delay = self.options.backoff.delay(attempt, self.rng)
                # A server that does not answer at all is not tried for longer than the timeout.
                out_of_time = connecting and time.monotonic() - started + delay > self.options.give_up_after
                if attempt < self.options.backoff.attempts and not out_of_time:
                    self._count("retried")
                    self._event("retry", email, str(e.reply))
                    self.pause(delay)
                    continue
                self._event("pending", email, str(e.reply))
                if connecting:
                    # Every try to reach the server failed: the others would fare no better now.
                    with self.lock:
                        self.report.stopped = f"the mail server cannot be reached ({e.reply})"
                    self.stop.set()
                return connection, used, None
            except BaseException:
                # The worker only learns of connections this method returns: close it before leaving.
                _close_quietly(connection)
                raise
            self._count("sent")
            self._event("sent", email, str(reply))
            connection, used = self._after_send(connection, used, False)
            if connection is None:
                # Closed after its last message: nothing follows on it to carry the record.
                self.ledger.mark(self.issue, email, "sent", str(reply), self.clock())
                return None, used, None
            return connection, used, (email, str(reply))
        return connection, used, held

    def _after_send(
        self, connection: Connection | None, used: int, lost: bool
    ) -> tuple[Connection | None, int]:
        used += 1
        if connection is not None and (lost or used >= self.options.messages_per_connection):
            connection.close()
            return None, 0
        return connection, used


def run_budget(options: Options, sent_today: int) -> tuple[int | None, str]:
    """How many messages a run may send (None: no cap) and which cap that is: 'limit' (--limit,
    --max) or 'daily limit' (`sent_today` of them went out in the last 24 hours, over all issues).

    The one rule for it: the dry run and the question before a send count with it too (`selection`).
    """
    budget, which = options.limit, "limit"
    if options.daily_limit is not None:
        left_today = max(0, options.daily_limit - sent_today)
        if budget is None or left_today < budget:
            budget, which = left_today, "daily limit"
    return budget, which


def _put(rows: queue.Queue[Row], row: Row, stopping: Callable[[], bool]) -> bool:
    """Queue a row, waiting for room; False (the row not queued) once the run is stopping."""
    while not stopping():
        try:
            rows.put(row, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _join(threads: list[threading.Thread], stopping: Callable[[], bool]) -> None:
    """Wait for every worker to end: each records the message it is on before it does.

    The ledger must outlive the workers, so nothing here gives up early: a second Ctrl-C while
    waiting is ignored (the command line ends the process at once instead, as a kill would).
    """
    for t in threads:
        while t.is_alive():
            try:
                t.join(0.2)
                stopping()
            except KeyboardInterrupt:
                stopping()
                continue


def _close_quietly(connection: Connection | None) -> None:
    if connection is not None:
        # Closing twice is harmless: the worker closes the connection it holds when it stops.
        with contextlib.suppress(Exception):
            connection.close()


def deliver(
    composer: Composer,
    sender: Sender,
    ledger: Ledger,
    *,
    options: Options | None = None,
    clock: Clock = lambda: dt.datetime.now(dt.UTC),
    sleep: Sleep | None = None,
    limiter: Limiter | None = None,
    on_event: Callable[[Event], None] = lambda _: None,
    rng: random.Random | None = None,
    interrupt: threading.Event | None = None,
) -> RunReport:
    """Send the issue to everyone the ledger says is still due, within the limits; resume-safe.

    The caller must hold the issue's lock (`ledger.lock`) and have started the delivery
    (`ledger.start`). Raises SendError when the server cannot be used at all, LedgerError when the
    ledger can no longer be written; every message accepted before that is recorded. Setting
    `interrupt` (a signal handler does) stops the run: no new message is started, each connection
    finishes and records the one it is on, and the report says 'interrupted'.
    """
    options = options or Options()
    issue = composer.rendered.slug
    report = RunReport(issue=issue)
    report.recovered = ledger.recover(issue, clock())
    ledger.skip_suppressed(issue, clock())
    sent_today = ledger.sent_since(clock() - dt.timedelta(days=1)) if options.daily_limit is not None else 0
    budget, limited_by = run_budget(options, sent_today)
    due = ledger.count_due(issue)
    total = due if budget is None else min(due, budget)
    if budget is not None and budget < due:
        report.stopped = limited_by
    run = _Run(
        composer.with_subject_prefix(options.subject_prefix),
        sender,
        ledger,
        options,
        clock,
        sleep,
        limiter or Limiter(None),
        on_event,
        rng or random.Random(),
        report,
        total,
    )
    workers = max(1, min(options.connections, total))
    # Bounded, and filled a page at a time: memory stays flat however large the audience.
    rows: queue.Queue[Row] = queue.Queue(maxsize=4 * workers + 64)
    threads = [threading.Thread(target=run.worker, args=(rows,), daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()

    def stopping() -> bool:
        if interrupt is not None and interrupt.is_set() and not run.stop.is_set():
            report.stopped = "interrupted"
            run.stop.set()
        return run.stop.is_set()

    try:
        for page in ledger.due_pages(issue, budget):
            if not all(_put(rows, row, stopping) for row in page):
                break
    except KeyboardInterrupt:
        # Python code calling deliver() without an `interrupt` event: Ctrl-C stops the run the same way.
        report.stopped = "interrupted"
        run.stop.set()
    except BaseException as e:  # noqa: BLE001 - the ledger failed while reading the due rows
        run._fail(e)
    finally:
        run.fed.set()
        _join(threads, stopping)
    if run.fatal is not None:
        report.stopped = str(run.fatal)
        # The ledger may be what failed: the counts are a courtesy, the error is what matters.
        with contextlib.suppress(NewsletterError):
            report.counts = ledger.counts(issue)
        raise run.fatal
    report.counts = ledger.counts(issue)
    if report.counts.complete:
        ledger.finish(issue, clock())
    return report
