"""The send loop: an issue's due recipients, one message each, through a sender, recorded in the ledger.

Dry run, test send and the real send all run through `deliver`; they differ only in the sender and
in which ledger they record to (a throwaway one for dry runs and tests). Sender, ledger, clock and
sleep are parameters, so every path can be tested without waiting or a network.

Each attempt at a recipient ends in one outcome, and each outcome is written to the ledger by one
method of `_Run`: `_record_sent`, `_record_failed`, `_record_in_doubt` and `_record_still_due` (a
temporary failure, or a stop before the message went out). What a run may do is `options`; how
fast it goes is `throttle`; what it tells its caller is `report`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import random
import threading
import time
from collections.abc import Callable
from email.utils import parseaddr
from typing import Literal

from newsletter.composing.message import Composer
from newsletter.delivering.options import Backoff, Options, next_daily_slot, run_budget
from newsletter.delivering.report import Event, EventKind, RunReport
from newsletter.delivering.throttle import Limiter, Rate, Sleep
from newsletter.errors import MergeError, NewsletterError, SendError
from newsletter.ledger import Ledger, Row
from newsletter.sending.base import Ambiguous, Connection, Permanent, Sender, Temporary

# Importable from here as before the throttle, the options and the report had modules of their own.
__all__ = [
    "Backoff",
    "Clock",
    "Event",
    "EventKind",
    "Limiter",
    "Options",
    "Rate",
    "RunReport",
    "Sleep",
    "deliver",
    "run_budget",
]

Clock = Callable[[], dt.datetime]
Held = tuple[str, str] | None  # (address, reply) accepted by the server, not yet in the ledger

_Counter = Literal["attempted", "sent", "failed", "unknown", "retried"]


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

    def _event(self, kind: EventKind, email: str, reply: str) -> None:
        with self.lock:
            if kind != "retry":
                self.done += 1
            event = Event(kind, email, reply, self.done, self.total)
        self.on_event(event)

    def _count(self, counter: _Counter, failure: tuple[str, str] | None = None) -> None:
        with self.lock:
            setattr(self.report, counter, getattr(self.report, counter) + 1)
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
                    marked = self.ledger.mark_sending(
                        self.issue, email, outgoing.message_id, self.clock(), sent_before=held
                    )
                    held = None
                    if not marked:  # suppressed while the run went on: skipped, and nothing goes out
                        return connection, used, None
                    reply = connection.send(self.envelope_from, email, outgoing.data)
                finally:
                    self.limiter.release()
            except (MergeError, SendError) as e:
                # A mistake in the issue, the layout or the settings (MergeError), or a server that
                # refuses us as a whole (SendError, e.g. the From address), before this message went
                # out: nobody is marked failed for it (failed is final), nor left `sending` for the
                # next run to count as handed over. The run stops; the row stays due for the next.
                self._record_still_due(row, str(e))
                _close_quietly(connection)
                raise
            except Permanent as e:
                self._record_failed(row, e)
                return (*self._after_send(connection, used, e.connection_lost), None)
            except Ambiguous as e:
                self._record_in_doubt(row, e)
                return (*self._after_send(connection, used, True), None)
            except Temporary as e:
                if connection is not None and e.connection_lost:
                    connection.close()
                    connection = None
                self._record_still_due(row, str(e.reply))
                if self._retry(row, e, attempt, connecting, time.monotonic() - started):
                    continue
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
                self._record_sent((email, str(reply)))
                return None, used, None
            return connection, used, (email, str(reply))
        return connection, used, held

    def _retry(self, row: Row, failure: Temporary, attempt: int, connecting: bool, spent: float) -> bool:
        """After a temporary failure (recorded): wait and say True to try again, or say why not.

        A server that does not answer at all is not tried for longer than `give_up_after`; when
        every try to reach it failed, the run stops, as the other connections would fare no better.
        """
        email, reply = row.recipient.email, str(failure.reply)
        delay = self.options.backoff.delay(attempt, self.rng)
        out_of_time = connecting and spent + delay > self.options.give_up_after
        if attempt < self.options.backoff.attempts and not out_of_time:
            self._count("retried")
            self._event("retry", email, reply)
            self.pause(delay)
            return True
        self._event("pending", email, reply)
        if connecting:
            with self.lock:
                self.report.stopped = f"the mail server cannot be reached ({failure.reply})"
            self.stop.set()
        return False

    # -- each outcome, recorded in one place ---------------------------------------------------

    def _record_sent(self, held: Held) -> None:
        """The server accepted the message: recorded now, unless the next `mark_sending` carries it."""
        if held is not None:
            self.ledger.mark(self.issue, held[0], "sent", held[1], self.clock())

    def _record_failed(self, row: Row, failure: Permanent) -> None:
        """Refused for good (5xx): final, with the server's words."""
        email, reply = row.recipient.email, str(failure.reply)
        self.ledger.mark(self.issue, email, "failed", reply, self.clock())
        self._count("failed", (email, reply))
        self._event("failed", email, reply)

    def _record_in_doubt(self, row: Row, failure: Ambiguous) -> None:
        """Lost after the message was handed over: unknown, one more ambiguous hand-over."""
        email, reply = row.recipient.email, str(failure.reply)
        self.ledger.mark(self.issue, email, "unknown", reply, self.clock(), ambiguous=True)
        self._count("unknown")
        self._event("unknown", email, reply)

    def _record_still_due(self, row: Row, reply: str) -> None:
        """Not handed over (a temporary failure, or a stop before the message went out): due again.

        An unknown row stays unknown, still owed its one resend; nothing counts as ambiguous.
        """
        status: Literal["unknown", "pending"] = "unknown" if row.status == "unknown" else "pending"
        self.ledger.mark(self.issue, row.recipient.email, status, reply, self.clock(), ambiguous=False)

    def _after_send(
        self, connection: Connection | None, used: int, lost: bool
    ) -> tuple[Connection | None, int]:
        used += 1
        if connection is not None and (lost or used >= self.options.messages_per_connection):
            connection.close()
            return None, 0
        return connection, used


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
    elif report.stopped == "daily limit" and options.daily_limit is not None:
        report.daily_limit = options.daily_limit
        report.next_free = next_daily_slot(ledger, options.daily_limit, clock())
    return report
