"""The whole loop of the bounce mailbox as cron runs it: the corpus of real-world mail in tests/mail/
put into Dovecot on 127.0.0.1 by IMAP APPEND, read by `newsletter mailbox` in a subprocess with the
real classifier, against a ledger of a delivery to 319 readers.

Who left or is gone ends on the suppression list with reason and source; bounces, complaints and
unsubscribe mails leave the inbox for the processed folder; out-of-office replies, a challenge and a
bounce of another mailing stay, unseen; a second pass changes nothing; `status` and `suppress list`
show what came back."""

from __future__ import annotations

import csv
import email
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output
from dovecot import needs_dovecot
from mail_corpus import BOUNCE_ADDRESS, ISSUE, UNSUBSCRIBE_MAILTO, corpus_ledger, corpus_names, mail

from newsletter.ledger import Ledger

if TYPE_CHECKING:
    from dovecot import Dovecot
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server", "dovecot"]

LEFT_ALONE = {"out-of-office-nl", "out-of-office-en", "challenge-response", "dsn-other-mailing"}
SETTINGS = {
    "NEWSLETTER_BOUNCE_ADDRESS": BOUNCE_ADDRESS,
    "NEWSLETTER_UNSUBSCRIBE_MAILTO": UNSUBSCRIBE_MAILTO,
}


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    cli = Cli(project_dir, smtp_server, "corpus-secret", extra=SETTINGS)
    corpus_ledger(cli.db)
    return cli


def _message_id(data: bytes) -> str:
    return str(email.message_from_bytes(data)["Message-ID"])


@needs_dovecot
def test_the_corpus_read_over_imap_suppresses_who_left_moves_what_was_read_and_leaves_the_rest(
    cli: Cli, dovecot: Dovecot
) -> None:
    names = corpus_names()
    dovecot.append([mail(n) for n in names])
    result = cli.run("mailbox", **dovecot.settings())
    assert result.returncode == 0, output(result)
    summary = result.stdout
    assert summary.startswith(f"{len(names)} messages in INBOX on 127.0.0.1:{dovecot.imaps_port}: "), summary
    for words in ("6 hard bounces", "1 soft bounce", "2 complaints", "2 unsubscribes", "4 left alone"):
        assert words in summary, summary
    assert "SPF, DKIM and DMARC" in summary  # what to fix, for Outlook.com's 5.7.515

    with Ledger.for_reading(cli.db) as ledger:
        reasons = {(s.email.lower(), s.reason, s.source) for s in ledger.suppressions()}
        counts = ledger.feedback_counts(ISSUE)
    assert len(reasons) == 10
    assert ("an.peeters@example.com", "bounced", "mailbox") in reasons
    assert ("karin.dubois@example.com", "unsubscribed", "mailto") in reasons
    assert ("jan.wouters@example.com", "complained", "mailbox") in reasons
    assert (counts["bounced_soft"], counts["sender_blamed"]) == (
        2,
        3,
    )  # a DSN of two readers: one hard, one soft

    inbox = dovecot.messages()
    assert sorted(_message_id(data) for _, _, data in inbox) == sorted(
        _message_id(mail(n)) for n in LEFT_ALONE
    )
    assert all("\\Seen" not in flags for _, flags, _ in inbox)  # left unread for a person
    assert len(dovecot.messages("Processed")) == len(names) - len(LEFT_ALONE)

    before = (cli.db.read_bytes(), len(dovecot.messages("Processed")))
    again = cli.run("mailbox", **dovecot.settings("starttls"))
    assert again.returncode == 0, output(again)
    assert again.stdout.startswith(f"{len(LEFT_ALONE)} messages in INBOX"), again.stdout
    with Ledger.for_reading(cli.db) as ledger:
        assert len(ledger.suppressions()) == 10
        assert ledger.feedback_counts(ISSUE) == counts
    assert len(dovecot.messages("Processed")) == before[1]

    status = cli.run("status")
    assert status.returncode == 0, output(status)
    (refusal,) = [line for line in status.stdout.splitlines() if "5.7.515" in line]
    assert refusal.count("to fix:") == 1, refusal  # the mailbox's reading of the code, said once
    assert "SPF" in refusal

    listed = cli.run("suppress", "list", "--csv")
    assert listed.returncode == 0, output(listed)
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    bounced = next(r for r in rows if r["email"].lower() == "an.peeters@example.com")
    assert (bounced["reason"], bounced["source"], bounced["issue"]) == ("bounced", "mailbox", ISSUE)
    assert "5.1.1" in bounced["detail"]


@needs_dovecot
def test_a_refusal_that_blames_the_sender_is_mailed_to_the_staff_and_a_dry_run_says_what_each_mail_is(
    cli: Cli, dovecot: Dovecot
) -> None:
    dovecot.append(
        [mail("outlook-sender-not-authenticated"), mail("out-of-office-nl"), mail("postfix-user-unknown")]
    )
    rehearsal = cli.run("mailbox", "--dry-run", **dovecot.settings())
    assert rehearsal.returncode == 0, output(rehearsal)
    lines = rehearsal.stdout.splitlines()
    assert lines[0].startswith("dry run, nothing recorded or moved: 3 messages")
    assert any(line.startswith("  1. refused because of the sender") for line in lines), rehearsal.stdout
    assert any(line.startswith("  2. left alone: ") for line in lines), rehearsal.stdout
    assert any(line.startswith("  3. hard bounce of ") for line in lines), rehearsal.stdout
    assert cli.server.recorder.messages == []  # a dry run tells nobody

    staff = {"NEWSLETTER_REPORT_TO": "redactie@example.org"}
    result = cli.run("mailbox", **dovecot.settings(**staff))
    assert result.returncode == 0, output(result)
    assert "  refused because of the sender, not the address: 550 5.7.515" in result.stdout
    (alert,) = cli.server.recorder.messages
    assert alert.rcpts == ("redactie@example.org",)
    assert alert.subject == "Newsletter: 1 refusal to fix in how it is sent"
    text = alert.data.decode()
    assert "5.7.515" in text
    assert "SPF, DKIM and DMARC" in text

    again = cli.run("mailbox", **dovecot.settings(**staff))  # nothing new: nobody is told twice
    assert again.returncode == 0, output(again)
    assert len(cli.server.recorder.messages) == 1


@needs_dovecot
def test_a_mailbox_that_cannot_be_read_is_mailed_to_the_staff_once_a_day_while_dispatch_goes_on(
    cli: Cli, dovecot: Dovecot
) -> None:
    staff = {"NEWSLETTER_REPORT_TO": "redactie@example.org", "NEWSLETTER_IMAP_PASSWORD": "changed"}
    for _ in range(2):
        result = cli.dispatch("2026-01-20T09:00", **dovecot.settings(**staff))
        assert result.returncode == 1, output(result)
        assert "login refused" in result.stdout
    (alert,) = cli.server.recorder.messages
    assert alert.subject == "Newsletter: the bounce mailbox cannot be read"
    assert "login refused" in alert.data.decode()
