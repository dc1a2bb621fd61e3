"""The SQLite ledger in a real file: the snapshot, recovery after a crash, suppressions, the issue lock."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import T0, people

from newsletter.errors import LedgerError
from newsletter.ledger import Counts, Ledger
from newsletter.model import Recipient

ISSUE = "2026-01"
PEOPLE = people(5)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(tmp_path / "data" / "ledger.sqlite3")
    yield ledger
    ledger.close()


def _start(ledger: Ledger, people: list[Recipient] = PEOPLE, issue: str = ISSUE) -> bool:
    return ledger.start(
        issue,
        subject="Januari",
        content_hash="abc",
        audience_source="leden.csv",
        recipients=people,
        now=T0,
    )


def test_audience_is_snapshotted_once(ledger: Ledger) -> None:
    assert _start(ledger) is True
    assert _start(ledger, [Recipient("someone.else@example.org")]) is False
    assert [r.recipient.email for r in ledger.rows(ISSUE)] == [p.email for p in PEOPLE]
    assert ledger.counts(ISSUE) == Counts(audience=5, pending=5)
    delivery = ledger.delivery(ISSUE)
    assert delivery is not None
    assert (delivery.subject, delivery.audience_source, delivery.started_at) == ("Januari", "leden.csv", T0)
    assert delivery.finished_at is None


def test_snapshot_keeps_names_and_merge_fields(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    first = Ledger(path)
    _start(first, [Recipient("an@example.org", "An", "An Peeters", (("gemeente", "Hasselt"),))])
    first.close()
    again = Ledger(path)
    try:
        (row,) = again.due(ISSUE)
        assert row.recipient == Recipient("an@example.org", "An", "An Peeters", (("gemeente", "Hasselt"),))
    finally:
        again.close()


def test_recover_turns_sending_into_unknown(ledger: Ledger) -> None:
    _start(ledger)
    ledger.mark_sending(ISSUE, "p1@example.org", "<m1@example.org>", T0)
    ledger.mark_sending(ISSUE, "p2@example.org", "<m2@example.org>", T0)
    ledger.mark(ISSUE, "p2@example.org", "sent", "250 OK", T0)
    assert ledger.recover(ISSUE, T0) == 1
    (row,) = ledger.rows(ISSUE, "unknown")
    assert (row.recipient.email, row.ambiguous, row.attempts, row.message_id) == (
        "p1@example.org",
        1,
        1,
        "<m1@example.org>",
    )
    assert ledger.recover(ISSUE, T0) == 0


def test_due_includes_an_unknown_row_once_but_not_twice(ledger: Ledger) -> None:
    _start(ledger)
    ledger.mark_sending(ISSUE, "p1@example.org", "<m1@example.org>", T0)
    ledger.recover(ISSUE, T0)
    assert [r.recipient.email for r in ledger.due(ISSUE)] == [p.email for p in PEOPLE]
    # The one resend is in doubt again: left for a person to check.
    ledger.mark_sending(ISSUE, "p1@example.org", "<m1@example.org>", T0)
    ledger.recover(ISSUE, T0)
    assert ledger.rows(ISSUE, "unknown")[0].ambiguous == 2
    assert "p1@example.org" not in [r.recipient.email for r in ledger.due(ISSUE)]


def test_a_lost_reply_marks_unknown_and_counts_as_ambiguous(ledger: Ledger) -> None:
    _start(ledger)
    ledger.mark_sending(ISSUE, "p1@example.org", "<m1@example.org>", T0)
    ledger.mark(ISSUE, "p1@example.org", "unknown", "connection lost", T0)
    assert ledger.due(ISSUE)[0].ambiguous == 1
    # A later try that never handed the message over keeps it owed its one resend.
    ledger.mark(ISSUE, "p1@example.org", "unknown", "cannot connect", T0, ambiguous=False)
    assert ledger.due(ISSUE)[0].ambiguous == 1


def test_due_respects_the_limit_and_the_order(ledger: Ledger) -> None:
    _start(ledger)
    ledger.mark(ISSUE, "p2@example.org", "sent", "250 OK", T0)
    ledger.mark(ISSUE, "p3@example.org", "failed", "550 no such user", T0)
    assert [r.recipient.email for r in ledger.due(ISSUE, 2)] == ["p1@example.org", "p4@example.org"]
    assert ledger.counts(ISSUE) == Counts(audience=5, pending=3, sent=1, failed=1)


def test_sent_since_counts_over_all_issues(ledger: Ledger) -> None:
    _start(ledger)
    _start(ledger, issue="2026-02")
    ledger.mark(ISSUE, "p1@example.org", "sent", "250 OK", T0)
    ledger.mark("2026-02", "p1@example.org", "sent", "250 OK", T0 + dt.timedelta(hours=1))
    assert ledger.sent_since(T0) == 2
    assert ledger.sent_since(T0 + dt.timedelta(minutes=30)) == 1
    assert [d.issue for d in ledger.deliveries()] == [ISSUE, "2026-02"]


def test_suppressions_add_remove_and_list(ledger: Ledger) -> None:
    assert ledger.suppress(["An@Example.org", "bert@example.org"], "unsubscribed", T0) == 2
    assert ledger.suppress(["an@example.org"], "bounced", T0) == 0
    assert ledger.is_suppressed("AN@EXAMPLE.ORG")
    assert ledger.suppressions() == [
        ("An@Example.org", "unsubscribed", "2026-01-20T09:00:00.000+00:00"),
        ("bert@example.org", "unsubscribed", "2026-01-20T09:00:00.000+00:00"),
    ]
    assert ledger.unsuppress("an@example.org") is True
    assert ledger.unsuppress("an@example.org") is False
    assert [email for email, _, _ in ledger.suppressions()] == ["bert@example.org"]
    assert not ledger.is_suppressed("an@example.org")


def test_suppressed_recipients_are_skipped_at_snapshot(ledger: Ledger) -> None:
    ledger.suppress(["P2@example.org"], "unsubscribed", T0)
    _start(ledger)
    (row,) = ledger.rows(ISSUE, "skipped")
    assert (row.recipient.email, row.last_reply) == ("p2@example.org", "suppressed")
    assert "p2@example.org" not in [r.recipient.email for r in ledger.due(ISSUE)]
    assert ledger.counts(ISSUE) == Counts(audience=5, pending=4, skipped=1)


def test_address_suppressed_after_the_snapshot_is_not_due(ledger: Ledger) -> None:
    _start(ledger)
    ledger.suppress(["p3@example.org"], "unsubscribed", T0)
    assert "p3@example.org" not in [r.recipient.email for r in ledger.due(ISSUE)]


def test_unusable_database_file_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database, just text that is long enough " * 40)
    with pytest.raises(LedgerError) as raised:
        Ledger(path)
    assert str(raised.value) == (
        f"NEWSLETTER_DB={path}: this is not a ledger (file is not a database): point NEWSLETTER_DB at "
        "your ledger file, or restore it from its latest backup"
    )


HOLDER = """
import sys, time
from pathlib import Path
from newsletter.ledger import Ledger
ledger = Ledger(Path(sys.argv[1]))
with ledger.lock("issue-x") as mine:
    print("locked" if mine else "refused", flush=True)
    time.sleep(120)
"""


def test_issue_lock_is_refused_while_another_process_holds_it_and_freed_when_it_is_killed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite3"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            ledger = Ledger(path)
            try:
                with ledger.lock("issue-x") as mine:
                    assert mine is False
                # Another issue's lock is independent.
                with ledger.lock("issue-y") as mine:
                    assert mine is True
                os.kill(holder.pid, signal.SIGKILL)
                assert holder.wait(timeout=10) == -signal.SIGKILL
                with ledger.lock("issue-x") as mine:
                    assert mine is True
                # Released again when the block ends.
                with ledger.lock("issue-x") as mine:
                    assert mine is True
            finally:
                ledger.close()
        finally:
            holder.kill()


def _open_and_close(path: str) -> str:
    try:
        Ledger(Path(path)).close()
    except LedgerError as e:
        return str(e)
    return "ok"


def test_processes_opening_a_new_ledger_at_the_same_moment_all_get_it(tmp_path: Path) -> None:
    # Two cron runs on a fresh machine: both create the database and switch it to WAL at once.
    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        for round_ in range(15):
            path = str(tmp_path / f"ledger-{round_}.sqlite3")
            assert pool.map(_open_and_close, [path] * 6) == ["ok"] * 6
