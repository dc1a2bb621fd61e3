"""The SQLite ledger in a real file: the snapshot, recovery after a crash, suppressions, the issue lock,
a file replaced or full, a read-only one, one of the previous version, and another issue under a slug."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import T0, people
from old_ledger import write_old_ledger

from newsletter.delivering.campaign import check_same_issue
from newsletter.errors import LedgerError, SlugClashError
from newsletter.ledger import Counts, Delivery, Ledger
from newsletter.model import Recipient, address_key

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


def test_a_row_suppressed_after_the_run_read_it_is_not_claimed_for_sending(ledger: Ledger) -> None:
    _start(ledger)
    [row] = [r for r in ledger.due(ISSUE) if r.recipient.email == "p2@example.org"]
    ledger.suppress(["P2@example.org"], "unsubscribed", T0, source="one-click")
    assert ledger.mark_sending(ISSUE, row.recipient.email, "<m2@example.org>", T0) is False
    # A retry's record put it back to pending meanwhile: still not claimed while it is suppressed.
    ledger.mark(ISSUE, "p2@example.org", "pending", "451 greylisted", T0, ambiguous=False)
    assert ledger.mark_sending(ISSUE, "p2@example.org", "<m2@example.org>", T0) is False
    assert ledger.mark_sending(ISSUE, "p1@example.org", "<m1@example.org>", T0) is True
    statuses = {r.recipient.email: (r.status, r.attempts) for r in ledger.rows(ISSUE)}
    assert statuses["p1@example.org"] == ("sending", 1)
    assert statuses["p2@example.org"] == ("pending", 0)


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
    assert [(s.email, s.reason, s.source, s.added_at) for s in ledger.suppressions()] == [
        ("An@Example.org", "unsubscribed", "by hand", "2026-01-20T09:00:00.000+00:00"),
        ("bert@example.org", "unsubscribed", "by hand", "2026-01-20T09:00:00.000+00:00"),
    ]
    assert ledger.unsuppress("an@example.org") is True
    assert ledger.unsuppress("an@example.org") is False
    assert [s.email for s in ledger.suppressions()] == ["bert@example.org"]
    assert not ledger.is_suppressed("an@example.org")


def test_an_address_is_one_person_however_its_case_is_typed(ledger: Ledger) -> None:
    assert Recipient("An.Peeters@Example.org").key == address_key("AN.PEETERS@EXAMPLE.ORG")
    _start(ledger, [Recipient("An.Peeters@Example.org"), *PEOPLE])
    ledger.mark_sending(ISSUE, "an.peeters@example.org", "<m1@example.org>", T0)
    ledger.mark(ISSUE, "AN.PEETERS@EXAMPLE.ORG", "sent", "250 OK", T0)
    (row,) = ledger.rows(ISSUE, "sent")
    assert (row.recipient.email, row.attempts, row.message_id) == (
        "An.Peeters@Example.org",
        1,
        "<m1@example.org>",
    )
    ledger.suppress(["an.PEETERS@example.ORG"], "unsubscribed", T0)
    assert ledger.is_suppressed("An.Peeters@Example.org")


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


# -- one file, however its path is spelled -------------------------------------------------------------


def test_the_lock_belongs_to_the_file_however_its_path_is_spelled(tmp_path: Path) -> None:
    real = tmp_path / "data" / "ledger.sqlite3"
    link = tmp_path / "elsewhere" / "link.sqlite3"
    link.parent.mkdir()
    holder = Ledger(real)
    link.symlink_to(real)
    spellings = [Ledger(link), Ledger(tmp_path / "elsewhere" / ".." / "data" / "ledger.sqlite3")]
    try:
        with holder.lock("issue-x") as mine:
            assert mine is True
            for other in spellings:
                with other.lock("issue-x") as theirs:
                    assert theirs is False, other.path
        with spellings[0].lock("issue-x") as mine:
            assert mine is True
    finally:
        for ledger in (holder, *spellings):
            ledger.close()


def test_the_lock_file_names_its_holder_until_it_lets_go(ledger: Ledger) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with ledger.lock("dispatch") as mine:
        assert mine
        holder = ledger.lock_holder("dispatch")
        assert holder is not None
        assert (holder.pid, holder.host, holder.alive()) == (os.getpid(), os.uname().nodename, True)
        assert holder.since is not None
        assert before <= holder.since <= dt.datetime.now(dt.UTC)
    assert ledger.lock_holder("dispatch") is None


# -- the file replaced under a running send ----------------------------------------------------------


def _replace_with_another(path: Path) -> None:
    other = path.with_name("other.sqlite3")
    Ledger(other).close()
    other.replace(path)


@pytest.mark.parametrize(
    ("what", "action"),
    [
        ("deleted", lambda path: path.unlink()),
        ("replaced", _replace_with_another),
        ("emptied", lambda path: path.write_bytes(b"")),
    ],
)
def test_a_write_after_the_file_was_deleted_replaced_or_emptied_is_refused(
    tmp_path: Path, what: str, action: Callable[[Path], None]
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    try:
        _start(ledger)
        ledger.mark_sending(ISSUE, "p1@example.org", "<m1@example.org>", T0)
        action(path)
        with pytest.raises(LedgerError) as raised:
            ledger.mark_sending(
                ISSUE, "p2@example.org", "<m2@example.org>", T0, sent_before=("p1@example.org", "250 OK")
            )
        assert str(raised.value).startswith(
            f"NEWSLETTER_DB={path}: the ledger file was {what} while sending; nothing more was sent. "
        )
        # Nothing was written to the file that is gone.
        assert [r.status for r in ledger.rows(ISSUE)][:2] == ["sending", "pending"]
    finally:
        ledger.close()


# -- read-only, full ---------------------------------------------------------------------------------


def test_a_read_only_ledger_is_read_and_never_written(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    writer = Ledger(path)
    _start(writer)
    writer.close()
    before = path.read_bytes()
    reader = Ledger(path, readonly=True)
    try:
        assert reader.readonly
        assert reader.counts(ISSUE) == Counts(audience=5, pending=5)
        with pytest.raises(LedgerError, match="opened read-only"):
            reader.suppress(["p1@example.org"], "unsubscribed", T0)
    finally:
        reader.close()
    assert path.read_bytes() == before


def test_a_full_ledger_is_one_line_saying_to_free_disk_space(ledger: Ledger) -> None:
    # SQLite's page limit of this connection stands in for a full disk (a real one: test_ledger_trouble).
    ((pages,),) = ledger._file.query("PRAGMA page_count")
    ledger._file.query(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(LedgerError) as raised:
        ledger.suppress([f"weg{i}@example.org" for i in range(2000)], "bounced", T0)
    assert str(raised.value) == (
        f"NEWSLETTER_DB={ledger.path}: the disk is full (database or disk is full): free disk space, then "
        "run the same command again; what was sent until now is recorded"
    )
    assert ledger.suppressions() == []


# -- a ledger of the previous version ------------------------------------------------------------------


def test_a_ledger_of_the_previous_version_keeps_working_and_gains_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write_old_ledger(path, ISSUE, "Januari", {"p1@example.org": "sent", "p2@example.org": "pending"})
    ledger = Ledger(path)
    try:
        delivery = ledger.delivery(ISSUE)
        assert delivery is not None
        assert (delivery.subject, delivery.source_path) == ("Januari", None)
        assert [r.recipient.email for r in ledger.due(ISSUE)] == ["p2@example.org"]
        ledger.mark(ISSUE, "p2@example.org", "sent", "250 OK", T0)
        assert ledger.counts(ISSUE) == Counts(audience=2, sent=2)
        assert ledger.start(
            "2026-02", subject="Februari", content_hash="def", audience_source="leden.csv",
            recipients=PEOPLE, now=T0, source_path="/srv/nieuwsbrief/issues/2026-02.yaml",
        )  # fmt: skip
        second = ledger.delivery("2026-02")
        assert second is not None
        assert second.source_path == "/srv/nieuwsbrief/issues/2026-02.yaml"
    finally:
        ledger.close()


def test_a_ledger_of_the_previous_version_opened_read_only_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write_old_ledger(path, ISSUE, "Januari", {"p1@example.org": "sent"})
    reader = Ledger(path, readonly=True)
    try:
        delivery = reader.delivery(ISSUE)
        assert delivery is not None
        assert delivery.source_path is None
        assert reader.counts(ISSUE) == Counts(audience=1, sent=1)
    finally:
        reader.close()
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(deliveries)")]
        tables = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    raw.close()
    assert "source_path" not in columns
    assert "meta" not in tables


# -- the same issue, or another one under its slug -------------------------------------------------------

A_FILE = "/srv/pom/issues/2026-01.yaml"


@pytest.mark.parametrize(
    ("recorded_path", "subject", "path", "same"),
    [
        (A_FILE, "Januari", A_FILE, True),  # resumed as it was
        (A_FILE, "Januari", "/srv/pom/archief/2026-01.yaml", True),  # moved
        (A_FILE, "Januari (verbeterd)", A_FILE, True),  # a typo in the subject fixed
        (A_FILE, "Nieuws uit Genk", "/srv/genk/issues/2026-01.yaml", False),  # another organisation's
        (None, "Nieuws uit Genk", "/srv/genk/issues/2026-01.yaml", True),  # recorded before paths were
    ],
)
def test_another_issue_under_a_slug_is_told_apart_by_its_file_and_subject(
    recorded_path: str | None, subject: str, path: str, same: bool
) -> None:
    delivery = Delivery(ISSUE, "Januari", "abc", "leden.csv", T0, None, None, recorded_path)
    if same:
        check_same_issue(delivery, subject, path)
        return
    with pytest.raises(SlugClashError) as raised:
        check_same_issue(delivery, subject, path)
    assert str(raised.value) == (
        f"the ledger already holds a delivery of 2026-01 from {A_FILE} (subject 'Januari'); {path} is a "
        "different issue: rename the file, e.g. 2026-01-b.yaml, to send it. If it is the same issue moved "
        "and retitled, put back the subject it was sent with"
    )


def test_suppressions_an_older_version_stored_as_typed_are_keyed_as_the_audience_is(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    write_old_ledger(path, ISSUE, "Januari", {"p1@example.org": "sent"})
    with sqlite3.connect(path) as raw:
        raw.executemany(
            "INSERT INTO suppressions (email_key, email, reason, added_at) VALUES (?, ?, 'by hand', ?)",
            [
                (" spaced@example.org ", " Spaced@Example.org ", T0.isoformat()),
                ("lezer@bücher.example", "lezer@bücher.example", T0.isoformat()),
                ("plain@example.org", "plain@example.org", T0.isoformat()),
            ],
        )
    ledger = Ledger(path)
    try:
        for address in ("spaced@example.org", "Spaced@example.org", "lezer@xn--bcher-kva.example"):
            assert ledger.is_suppressed(address), address
        assert ledger.is_suppressed("plain@example.org")
        assert len(ledger.suppressions()) == 3
    finally:
        ledger.close()
