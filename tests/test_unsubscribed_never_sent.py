"""A reader who unsubscribed is never sent an issue again, in any mode but `--test`: a new issue, a
resumed send, `--retry-failed`, an unknown row's one resend, the dry run, dispatch, and a send that
is under way when they leave.

The readers leave as the endpoint and the mailbox record it (`Ledger.record` of an `unsubscribed`
feedback, which suppresses in the same transaction), in the real ledger the real command uses; the
messages go to a real SMTP server on 127.0.0.1. 300 readers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output, read, wait
from conftest import T0, people
from issue_files import copy_sample

from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback

if TYPE_CHECKING:
    from typing import IO

    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

SECRET = "never-again-test-secret"
JANUARY = "issues/2026-01.yaml"


def _audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _leave(db: Path, emails: list[str], issue: str = "2026-01") -> None:
    """Readers who pressed the unsubscribe button of `issue`."""
    with Ledger(db) as ledger:
        for email in emails:
            left = ledger.record(
                Feedback(
                    kind="unsubscribed",
                    email=email,
                    source="one-click",
                    at=dt.datetime.now(dt.UTC),
                    issue=issue,
                    evidence=f"one-click {issue} {email}",
                )
            )
            assert left


def _received(cli: Cli, issue: str) -> Counter[str]:
    """How many copies of `issue` (not of its tests) each address got."""
    return Counter(
        a.rcpts[0]
        for a in cli.server.recorder.messages
        if a.message_id.startswith(f"<{issue}.") and not a.subject.startswith("[TEST]")
    )


def test_an_unsubscribed_reader_is_not_sent_again_in_any_mode_but_test(cli: Cli, log: IO[str]) -> None:
    emails = _audience(300)
    cli.recipients(emails)
    recorder = cli.server.recorder
    left: list[str] = []

    # A new issue: who left before it is skipped in its snapshot.
    _leave(cli.db, emails[0:20], "2025-12")
    left += emails[0:20]
    recorder.drop_after_data(address=emails[30], keep=True)  # in doubt: resent once, unless they leave
    recorder.fail_rcpt(emails[40], 550, "5.2.2 mailbox full")
    recorder.fail_rcpt(emails[41], 550, "5.2.2 mailbox full")
    recorder.fail_rcpt(emails[42], 550, "5.2.2 mailbox full")
    first = cli.run("send", JANUARY, "--recipients", "leden.csv", "--limit", "100", "--yes")
    assert first.returncode == 1, output(first)
    assert "will send to 100 now (of 300: 20 suppressed" in first.stdout
    january = _received(cli, "2026-01")
    assert not set(left) & set(january)
    assert sum(january.values()) == 97  # of the 100 tried, three were refused

    # A resumed send: readers still due who left since, and the one in doubt, are not sent it.
    still_due = [r.recipient.email for r in cli.rows() if r.status == "pending"]
    _leave(cli.db, [*still_due[:15], emails[30]])
    left += [*still_due[:15], emails[30]]
    resumed = cli.run("send", JANUARY, "--recipients", "leden.csv", "--yes")
    assert resumed.returncode == 1, output(resumed)  # the three refused for good
    assert "of 300: 36 suppressed" in resumed.stdout

    # --retry-failed: two of the three refused ones left meanwhile.
    _leave(cli.db, emails[40:42])
    left += emails[40:42]
    retried = cli.run("send", JANUARY, "--recipients", "leden.csv", "--retry-failed", "--yes")
    assert retried.returncode == 0, output(retried)
    january = _received(cli, "2026-01")
    assert january[emails[42]] == 1  # refused, then accepted
    assert not (set(left) - {emails[30]}) & set(january)
    assert january[emails[30]] == 1  # the first copy, in doubt; never a second
    assert set(january) == (set(emails) - set(left)) | {emails[30]}
    assert set(january.values()) == {1}

    # A test goes to whom it is addressed, left or not: staff test with their own addresses.
    tested = cli.run("send", JANUARY, "--recipients", "leden.csv", "--test", emails[0])
    assert tested.returncode == 0, output(tested)
    assert [a.subject.startswith("[TEST]") for a in recorder.messages if a.rcpts == (emails[0],)] == [True]

    # The next issue, by dispatch: its dry run writes nothing for them, and a reader who leaves while
    # it is being sent is not sent it either.
    copy_sample(cli.folder, "2026-02", status="ready", send_at="2026-02-17T09:00", audience="../leden.csv")
    dry = cli.run("send", "issues/2026-02.yaml", "--dry-run")
    assert dry.returncode == 0, output(dry)
    written = {p.name for p in (cli.folder / "outbox" / "2026-02").glob("*.eml")}
    assert len(written) == 300 - len(left)
    assert f"will send to {300 - len(left)} now (of 300: {len(left)} suppressed" in dry.stdout

    leaving_late = emails[250:260]
    before = len(recorder.arrivals)

    def leave_halfway(arrival: Arrival) -> None:
        if arrival.number == before + 50:
            _leave(cli.db, leaving_late, "2026-01")

    recorder.on_arrival = leave_halfway
    proc = cli.start("dispatch", "--now", "2026-02-17T09:05", output=log)
    assert wait(proc, timeout=120) == 0, read(log)
    left += leaving_late
    february = _received(cli, "2026-02")
    assert not set(left) & set(february)
    assert set(february) == set(emails) - set(left)
    assert set(february.values()) == {1}
    statuses = {r.recipient.email: r.status for r in cli.rows("2026-02")}
    assert {statuses[e] for e in left} == {"skipped"}
    assert Counter(statuses.values()) == Counter(sent=300 - len(left), skipped=len(left))


def test_a_row_suppressed_after_it_was_read_is_not_marked_sending(tmp_path: Path) -> None:
    """What the send loop relies on: the mark before a message goes out refuses a reader who left."""
    readers = people(300, digits=3)
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ledger.start(
            "2026-01",
            subject="Januari",
            content_hash="abc",
            audience_source="leden.csv",
            recipients=readers,
            now=T0,
        )
        due = ledger.due("2026-01")
        ledger.suppress([readers[120].email], "unsubscribed", T0, source="one-click")
        assert ledger.mark_sending("2026-01", due[119].recipient.email, "<a@example.org>", T0) is True
        assert ledger.mark_sending("2026-01", due[120].recipient.email, "<b@example.org>", T0) is False
        statuses = Counter(r.status for r in ledger.rows("2026-01"))
        assert statuses == Counter(pending=298, sending=1, skipped=1)
