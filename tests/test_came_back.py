"""What came back after an issue, as the staff see it: `status` and `status FILE` under their tables,
and dispatch's report mail; refusals that blame the sender with what to fix, in plain words.

The feedback is recorded in the real ledger as the mailbox reader and the endpoint record it
(`Ledger.record`), after real sends to a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output, status_rows, table_rows
from issue_files import copy_sample

from newsletter.delivering.came_back import CameBack, what_to_fix
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback, FeedbackKind

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

SECRET = "came-back-test-secret"
STAFF = "redactie@example.org"
OUTLOOK = (
    "550 5.7.515 Access denied, sending domain example.org doesn't meet the required authentication "
    "level. [AM0PR01MB1234.eurprd01.prod.exchangelabs.com 2026-01-20T09:01:02.345Z]"
)
SPAMHAUS = "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org"


def _audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _record(db: Path, issue: str, kind: FeedbackKind, emails: list[str], detail: str = "") -> None:
    with Ledger(db) as ledger:
        for n, email_address in enumerate(emails):
            ledger.record(
                Feedback(
                    kind=kind,
                    email=email_address,
                    source="mailbox",
                    at=dt.datetime.now(dt.UTC),
                    issue=issue,
                    detail=detail,
                    evidence=f"<{kind}.{n}.{email_address}@mx.example.com>",
                )
            )


def _feedback(db: Path, issue: str, emails: list[str]) -> None:
    """4 unsubscribed, 1 complained, 2 hard and 1 soft bounce, 3 refusals from Outlook that blame
    the domain's authentication and 1 from a block list."""
    _record(db, issue, "unsubscribed", emails[0:4])
    _record(db, issue, "complained", emails[4:5])
    _record(db, issue, "bounced_hard", emails[5:7], "550 5.1.1 user unknown")
    _record(db, issue, "bounced_soft", emails[7:8], "452 4.2.2 mailbox full")
    _record(db, issue, "sender_blamed", emails[8:11], OUTLOOK)
    _record(db, issue, "sender_blamed", emails[11:12], SPAMHAUS)


AUTHENTICATION_FIX = "publish an SPF record and DKIM signing for that domain, and a DMARC policy"


def test_status_shows_what_came_back_per_issue_and_what_to_fix_and_keeps_its_table(cli: Cli) -> None:
    emails = _audience(300)
    cli.recipients(emails)
    sent = cli.run("send", "issues/2026-01.yaml", "--recipients", "leden.csv", "--yes")
    assert sent.returncode == 0, output(sent)
    _feedback(cli.db, "2026-01", emails)

    result = cli.run("status")
    assert result.returncode == 0, output(result)
    row = status_rows(cli)["2026-01"]
    assert row[1:4] == ["sent", row[2], "300/300"]
    lines = [line for line in result.stdout.splitlines() if line.startswith("2026-01: ")]
    assert lines[0] == (
        "2026-01: came back: 4 unsubscribed, 1 complained (marked it as spam), 3 bounced (2 for good, "
        "1 for now)"
    )
    assert lines[1].startswith(
        f'2026-01: 3 refusals blame the sender, not the address (nobody was suppressed for it): "{OUTLOOK}"; '
        "to fix: the receiving servers cannot verify that the domain of NEWSLETTER_FROM sent it"
    )
    assert AUTHENTICATION_FIX in lines[1]
    assert lines[2].startswith("2026-01: 1 refusal blames the sender, not the address (nobody was suppressed")
    assert "to fix: the sending server is on a block list" in lines[2]
    assert len(lines) == 3

    one = cli.run("status", "issues/2026-01.yaml")
    assert one.returncode == 0, output(one)
    figures = table_rows(one.stdout)
    assert dict(zip(figures["issue"], figures["2026-01"], strict=True))["sent"] == "300"
    assert [line for line in one.stdout.splitlines() if line.startswith("2026-01: ")] == lines

    # Who bounced for good, complained or unsubscribed is on the list; the sender-blamed are not.
    with Ledger(cli.db) as ledger:
        assert {s.email for s in ledger.suppressions()} == set(emails[0:7])


def test_status_says_nothing_of_an_issue_nothing_came_back_for(cli: Cli) -> None:
    emails = _audience(5)
    cli.recipients(emails)
    assert cli.run("send", "issues/2026-01.yaml", "--recipients", "leden.csv", "--yes").returncode == 0
    result = cli.run("status")
    assert [line for line in result.stdout.splitlines() if line.startswith("2026-01")] == []


def test_the_report_mail_of_a_complete_delivery_has_what_came_back_so_far(cli: Cli) -> None:
    emails = _audience(300)
    cli.recipients(emails, name="issues/leden.csv")
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")
    first = cli.dispatch("2026-01-20T09:05", "--max", "100", NEWSLETTER_REPORT_TO=STAFF)
    assert first.returncode == 1, output(first)
    _feedback(cli.db, "2026-01", emails)

    done = cli.dispatch("2026-01-20T09:10", NEWSLETTER_REPORT_TO=STAFF)
    assert done.returncode == 0, output(done)
    (report,) = [a for a in cli.server.recorder.messages if a.rcpts == (STAFF,)]
    body = email.message_from_bytes(report.data, policy=email.policy.default).get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert (
        "Came back so far:\n"
        "Unsubscribed:   4\n"
        "Complained:     1 (marked it as spam)\n"
        "Bounced:        3 (2 for good, 1 for now)\n"
        "Sender refused: 4\n"
    ) in text
    assert "Refused because of the sender, not the address (nobody was suppressed for it):\n" in text
    assert f'- 3 times, e.g. "{OUTLOOK}"; to fix: the receiving servers cannot verify' in text
    assert f'- 1 time, e.g. "{SPAMHAUS}"; to fix: the sending server is on a block list' in text


@pytest.mark.parametrize(
    ("words", "fix"),
    [
        (OUTLOOK, AUTHENTICATION_FIX),
        (
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all "
            "senders to authenticate with either SPF or DKIM.",
            AUTHENTICATION_FIX,
        ),
        (SPAMHAUS, "to have it delisted, or send through another relay"),
        (
            "550 5.7.1 Our system has detected that this message is likely unsolicited mail.",
            "the server took the message for spam or against its policy",
        ),
        ("550 5.7.28 unusual rate of unsolicited mail", "lower NEWSLETTER_RATE"),
        ("554 refused", "give its words to whoever runs the mail relay (NEWSLETTER_SMTP_HOST)"),
    ],
)
def test_what_to_fix_is_read_from_the_servers_words(words: str, fix: str) -> None:
    assert fix in what_to_fix(words)


def test_nothing_came_back_is_no_line() -> None:
    assert CameBack("2026-01").lines() == []
    assert CameBack("2026-01", bounced_soft=2).summary() == "2 bounced (0 for good, 2 for now)"
