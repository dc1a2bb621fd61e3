"""The dry run is the real send's selection, the question before a send says how many get it now, the
figures agree everywhere, and `--retry-failed` sends to the refused once the cause is fixed.

`newsletter send` and `dispatch` in a subprocess against aiosmtpd on 127.0.0.1 and a real ledger
file; the selection itself against a real SQLite ledger, compared with what the next run really sends.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output, run, table_rows
from conftest import ENVELOPE, SUBJECT, T0, audience_csv, copy_project, edit, people
from issue_files import copy_sample

from newsletter.composing import message
from newsletter.composing.message import Composer
from newsletter.delivering import selection
from newsletter.delivering.loop import Options, deliver
from newsletter.ledger import Ledger
from newsletter.model import Rendered
from newsletter.reading import recipients
from newsletter.sending.memory import MemorySender

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "selection-test-secret"
STAFF = "redactie@example.org"


def _audience(n: int) -> list[str]:
    return [f"lid{i:02d}@example.org" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _send(cli: Cli, *extra: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return cli.run("send", ISSUE, "--recipients", "leden.csv", *extra, **settings)


def _written(cli: Cli) -> list[str]:
    """The addresses the dry run wrote a message for, in its order."""
    files = sorted((cli.folder / "outbox" / "2026-01").glob("*.eml"))
    return [f.name.split("-", 1)[1].removesuffix(".eml") for f in files]


def _suppress(cli: Cli, *emails: str) -> None:
    added = cli.run("suppress", "add", *emails)
    assert added.returncode == 0, output(added)


def test_a_dry_run_writes_nothing_for_the_suppressed_and_counts_them(cli: Cli) -> None:
    emails = _audience(10)
    cli.recipients([*emails[:5], "geen-adres", *emails[5:]])
    _suppress(cli, emails[2], emails[6].upper())

    result = _send(cli, "--dry-run")
    assert result.returncode == 0, output(result)
    assert _written(cli) == [e for e in emails if e not in (emails[2], emails[6])]
    assert "will send to 8 now (of 11: 2 suppressed, 0 already have it, 1 invalid rows)" in result.stdout
    row = table_rows(result.stdout)["10"]  # the row of figures begins with the audience
    header = table_rows(result.stdout)["audience"]
    assert dict(zip(header, row, strict=True)) == {
        "audience": "10",
        "already sent": "0",
        "written": "8",
        "pending": "0",
        "unknown": "0",
        "failed": "0",
        "suppressed": "2",
    }
    assert "skipped" not in result.stdout  # the word of the invalid rows' lines, on stderr only
    assert cli.server.recorder.connections == 0
    assert cli.rows() == []  # the real ledger holds the suppressions, and no delivery


def test_after_a_send_with_limit_the_dry_run_writes_only_the_rest_and_the_question_says_so(
    cli: Cli,
) -> None:
    emails = _audience(10)
    cli.recipients([*emails, "geen-adres"])
    _suppress(cli, emails[1], emails[7])
    recorder = cli.server.recorder

    first = _send(cli, "--limit", "5", "--yes")
    assert first.returncode == 1, output(first)  # still pending
    assert (
        "recipients: will send to 5 now (of 11: 2 suppressed, 0 already have it, 1 invalid rows, "
        "3 left for a later run by --limit)"
    ) in first.stdout
    sent = set(recorder.copies())
    assert len(sent) == 5

    rows_before = cli.rows()
    dry = _send(cli, "--dry-run")
    assert dry.returncode == 0, output(dry)
    rest = [e for e in emails if e not in sent and e not in (emails[1], emails[7])]
    assert len(rest) == 3
    # The outbox holds this dry run's messages only: none for the 5 who have it, none for the suppressed.
    assert _written(cli) == rest
    assert "will send to 3 now (of 11: 2 suppressed, 5 already have it, 1 invalid rows)" in dry.stdout
    assert cli.rows() == rows_before
    assert recorder.connections == 1

    second = _send(cli, "--yes")
    assert second.returncode == 0, output(second)
    assert "recipients: will send to 3 now (of 11: 2 suppressed, 5 already have it, 1 invalid rows)" in (
        second.stdout
    )
    assert set(recorder.copies()) - sent == set(rest)
    assert recorder.copies() == Counter(rest + list(sent))


def test_a_dry_run_keeps_the_daily_limit_counting_what_went_out_today(cli: Cli) -> None:
    emails = _audience(6)
    cli.recipients(emails)
    cap = {"NEWSLETTER_DAILY_LIMIT": "4"}

    before = _send(cli, "--dry-run", **cap)
    assert before.returncode == 0, output(before)
    assert _written(cli) == emails[:4]
    assert "2 left for a later run by NEWSLETTER_DAILY_LIMIT" in before.stdout

    sent = _send(cli, "--limit", "3", "--yes", **cap)
    assert sent.returncode == 1, output(sent)
    after = _send(cli, "--dry-run", **cap)
    assert after.returncode == 0, output(after)
    assert _written(cli) == emails[3:4]
    assert "will send to 1 now (of 6: 0 suppressed, 3 already have it, 0 invalid rows, 2 left" in (
        after.stdout
    )


def test_the_suppressed_figure_is_the_same_in_dry_run_send_status_and_the_report(cli: Cli) -> None:
    emails = _audience(8)
    audience_csv(cli.folder / "issues" / "leden.csv", emails)
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")
    _suppress(cli, emails[0], emails[5])

    dry = cli.run("send", ISSUE, "--dry-run")
    assert dry.returncode == 0, output(dry)
    assert table_rows(dry.stdout)["8"][-1] == "2"
    assert "(of 8: 2 suppressed," in dry.stdout

    partial = cli.run("send", ISSUE, "--limit", "3", "--yes")
    assert partial.returncode == 1, output(partial)
    live = table_rows(partial.stdout)
    assert live["audience"][-1] == "suppressed"
    assert live["8"][-1] == "2"

    done = cli.dispatch("2026-01-20T09:30", NEWSLETTER_REPORT_TO=STAFF)
    assert done.returncode == 0, output(done)
    (report,) = [a for a in cli.server.recorder.messages if a.rcpts == (STAFF,)]
    body = message.parse(report.data).get_body(("plain",))
    assert body is not None
    assert "Suppressed: 2" in body.get_content().splitlines()

    status = cli.run("status", ISSUE)
    assert status.returncode == 0, output(status)
    figures = table_rows(status.stdout)
    assert dict(zip(figures["issue"], figures["2026-01"], strict=True))["suppressed"] == "2"
    overview = table_rows(cli.run("status").stdout)["2026-01"]
    assert overview[1:4] == ["sent", overview[2], "6/6"]


def test_a_reader_suppressed_mid_delivery_is_counted_at_once_where_the_next_run_counts_them(
    cli: Cli,
) -> None:
    """`status` right after `suppress add`, the dry run, the question and the send that follows agree."""
    emails = _audience(40)
    cli.recipients(emails)
    first = _send(cli, "--limit", "10", "--yes")
    assert first.returncode == 1, output(first)
    sent = set(cli.server.recorder.copies())
    due = [e for e in emails if e not in sent]
    _suppress(cli, due[0], due[1].upper(), due[2])

    status = table_rows(cli.run("status", ISSUE).stdout)
    figures = dict(zip(status["issue"], status["2026-01"], strict=True))
    assert (figures["sent"], figures["pending"], figures["suppressed"]) == ("10", "27", "3")
    dry = _send(cli, "--dry-run")
    assert "will send to 27 now (of 40: 3 suppressed, 10 already have it, 0 invalid rows)" in dry.stdout
    assert len(_written(cli)) == 27

    second = _send(cli, "--yes")
    assert second.returncode == 0, output(second)
    assert "recipients: will send to 27 now (of 40: 3 suppressed, 10 already have it" in second.stdout
    assert cli.server.recorder.copies() == Counter(e for e in emails if e not in due[:3])


def test_another_issue_under_the_slug_is_refused_before_the_dry_run_or_the_question_counts(
    cli: Cli, tmp_path: Path
) -> None:
    cli.recipients(_audience(3))
    assert _send(cli, "--yes").returncode == 0
    # Another organisation's project on the same ledger, with an issue file of the same name.
    other = copy_project(tmp_path / "andere-organisatie")
    audience_csv(other / "leden.csv", ["lezer1@example.com", "lezer2@example.com"])
    edit(other / ISSUE, f'subject: "{SUBJECT}"', 'subject: "Nieuws uit Genk"')
    shared = cli.env(NEWSLETTER_DB=str(cli.db))
    for args in (("--dry-run",), ("--yes",)):
        refused = run("send", ISSUE, "--recipients", "leden.csv", *args, cwd=other, env=shared)
        assert refused.returncode == 2, output(refused)
        assert "is a different issue: rename the file" in refused.stderr
        assert "will send to" not in refused.stdout  # no figures of the other issue's delivery
    assert not (other / "outbox").exists()
    assert len(cli.server.recorder.messages) == 3


# -- --retry-failed -----------------------------------------------------------------------------


def test_retry_failed_sends_to_exactly_the_refused_once_the_server_accepts_them(cli: Cli) -> None:
    emails = _audience(10)
    refused = [emails[1], emails[4], emails[8]]
    cli.recipients(emails)
    recorder = cli.server.recorder
    for email in refused:
        recorder.fail_rcpt(email, 552, "5.2.2 Mailbox full", times=1)  # accepted from then on

    first = _send(cli, "--yes")
    assert first.returncode == 1, output(first)
    assert "3 failed for good" in first.stdout
    assert "the same command with --retry-failed sends to them again" in first.stdout
    assert "run the same command again" not in first.stdout
    assert set(recorder.copies()) == set(emails) - set(refused)

    again = _send(cli, "--yes")
    assert again.returncode == 1, output(again)
    assert (
        "will send to 0 now (of 10: 0 suppressed, 7 already have it, 0 invalid rows, 3 failed earlier)"
        in (again.stdout)
    )
    assert len(recorder.messages) == 7

    unasked = _send(cli, "--retry-failed")
    assert unasked.returncode == 2
    assert "pass --yes" in unasked.stderr
    assert Counter(r.status for r in cli.rows()) == Counter(sent=7, failed=3)

    dry = _send(cli, "--dry-run", "--retry-failed")
    assert dry.returncode == 0, output(dry)
    assert _written(cli) == refused

    retried = _send(cli, "--retry-failed", "--yes")
    assert retried.returncode == 0, output(retried)
    assert (
        "will send to 3 now (of 10: 0 suppressed, 7 already have it, 0 invalid rows); "
        "3 of them failed before and are tried again"
    ) in retried.stdout
    assert recorder.copies() == Counter(emails)  # the three once, nobody a second copy
    rows = {r.recipient.email: r for r in cli.rows()}
    assert {rows[e].status for e in emails} == {"sent"}
    assert [rows[e].attempts for e in refused] == [2, 2, 2]
    assert "done: everyone still on the list has it" in retried.stdout


def test_retry_failed_with_a_test_send_is_refused_in_one_line(cli: Cli) -> None:
    cli.recipients(_audience(2))
    result = _send(cli, "--test", "me@example.org", "--retry-failed")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --retry-failed is for the real send (or its --dry-run), not for a test send"
    ]
    assert cli.server.recorder.connections == 0


def test_retry_failed_puts_failed_rows_back_keeping_attempts_and_the_last_reply(ledger: Ledger) -> None:
    ledger.start("2026-01", subject="s", content_hash="h", audience_source="t", recipients=people(3), now=T0)
    ledger.mark_sending("2026-01", "p2@example.org", "<id@example.org>", T0)
    ledger.mark("2026-01", "p2@example.org", "failed", "552 5.2.2 Mailbox full", T0)
    ledger.finish("2026-01", T0)

    assert ledger.retry_failed("2026-01", T0 + dt.timedelta(hours=1)) == 1
    (row,) = [r for r in ledger.rows("2026-01") if r.recipient.email == "p2@example.org"]
    assert (row.status, row.attempts, row.last_reply) == ("pending", 1, "552 5.2.2 Mailbox full")
    delivery = ledger.delivery("2026-01")
    assert delivery is not None
    assert delivery.finished_at is None  # open again until they are sent
    assert ledger.retry_failed("2026-01", T0) == 0


# -- the selection against what the next run really does ------------------------------------------


def _every_state(ledger: Ledger, tmp_path: Path) -> recipients.Audience:
    """A delivery of 10 with a row in every state a run can leave, and its audience file."""
    emails = [p.email for p in people(10)]
    audience = recipients.load(audience_csv(tmp_path / "leden.csv", emails))
    ledger.start("2026-01", subject="s", content_hash="h", audience_source="t", recipients=audience, now=T0)

    def mark(n: int, *statuses: str) -> None:
        for status in statuses:
            if status == "sending":
                ledger.mark_sending("2026-01", f"p{n}@example.org", f"<{n}@example.org>", T0)
            else:
                ledger.mark("2026-01", f"p{n}@example.org", status, "reply", T0)

    mark(1, "sent")
    mark(2, "failed")
    mark(3, "sending")  # a run died with it in flight: resent once
    mark(4, "unknown")  # resent once
    mark(5, "unknown", "sending")  # in flight again after its resend: left to a person
    mark(6, "unknown", "unknown")  # the same, recorded
    ledger.suppress(["p7@example.org", "p2@example.org"], "test", T0)  # p7 pending, p2 failed
    # p8, p9 and p10 are pending.
    return audience


@pytest.mark.parametrize("retry_failed", [False, True], ids=["plain", "retry-failed"])
@pytest.mark.parametrize("limit", [None, 2])
def test_the_plan_names_exactly_whom_the_next_run_sends_to_from_every_state(
    ledger: Ledger, tmp_path: Path, rendered: Rendered, retry_failed: bool, limit: int | None
) -> None:
    audience = _every_state(ledger, tmp_path)
    options = Options(limit=limit)
    plan, chosen = selection.select(audience, "2026-01", ledger, options, T0, retry_failed=retry_failed)
    named = [r.email for r in chosen]

    # The next run, as `campaign.send` runs it (the lock is free: nobody else is sending).
    if retry_failed:
        ledger.retry_failed("2026-01", T0)
    sender = MemorySender()
    report = deliver(Composer(rendered, ENVELOPE, date=T0), sender, ledger, options=options)

    assert named == [s.recipient for s in sender.outbox]
    assert plan.now == report.sent == len(named)
    due = ["p3", "p4", "p8", "p9", "p10"]  # p2 stays failed, or is suppressed when put back
    assert named == [f"{p}@example.org" for p in due][:limit]
    assert (plan.already_sent, plan.in_doubt, plan.suppressed) == (1, 2, 1 if not retry_failed else 2)
    assert plan.failed == (0 if retry_failed else 1)
    assert plan.later == len(due) - plan.now
    assert plan.rows == plan.audience == 10
    counts = report.counts
    assert counts.skipped == plan.suppressed
    assert counts.sent == plan.already_sent + plan.now
