"""The issue's "done when", as it happens to an organisation whose sender and web server are two
machines (two project folders here, each with its own ledger):

- a reader presses Gmail's unsubscribe button (the RFC 8058 POST),
- a reader clicks the footer link and confirms on the page,
- a reader mails the unsubscribe address,
- a reader's mailbox no longer exists (a bounce to the VERP address),
- a link scanner opens another reader's link (GET and HEAD),

and before the next issue goes out (`newsletter mailbox`, then `newsletter send`, which pulls from the
endpoint first) the first four are on the sender's suppression list with their reason and source,
and the fifth is not. The next issue reaches everyone else, once."""

from __future__ import annotations

import mailbox
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import SENDING, environment, output, run
from conftest import audience_csv, copy_project
from endpoint_server import PATH, SECRET, serving, token_of, unsubscribe_link
from issue_files import copy_sample

from newsletter.composing import tokens
from newsletter.ledger import Ledger

if TYPE_CHECKING:
    from smtp_server import Arrival

pytest_plugins = ["smtp_server", "endpoint_server"]

READERS = [f"lezer{i:03d}@example.org" for i in range(1, 301)]
GMAIL_BUTTON, PAGE, MAILTO, GONE, SCANNED = READERS[10], READERS[20], READERS[30], READERS[40], READERS[50]
SETTINGS = {
    "NEWSLETTER_SECRET": SECRET,
    "NEWSLETTER_BOUNCE_ADDRESS": "bounces+{token}@example.org",
    "NEWSLETTER_UNSUBSCRIBE_MAILTO": "uitschrijven@example.org",
}


def _unsubscribe_mail(reader: str) -> bytes:
    """What Gmail's button sends when a message offers only a mailto, or a reader writes by hand."""
    mail = EmailMessage()
    mail["From"] = f"Lezer <{reader}>"
    mail["To"] = "uitschrijven@example.org"
    mail["Subject"] = "unsubscribe"
    mail["Message-ID"] = make_msgid(domain="mail.example.com")
    mail.set_content("Graag uitschrijven.\n")
    return mail.as_bytes()


def _bounce(arrival: Arrival) -> bytes:
    """A receiving server's RFC 3464 report that the reader's mailbox no longer exists, sent to the
    message's envelope sender (the VERP address), with the message's headers returned."""
    reader = arrival.rcpts[0]
    returned = arrival.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    text = f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: {arrival.mail_from}
Subject: Undelivered Mail Returned to Sender
Message-ID: {make_msgid(domain="mx.example.org")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered to {reader}.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {reader}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{reader}>: Recipient address rejected: User unknown

--b1
Content-Type: text/rfc822-headers

{returned}

--b1--
"""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


@pytest.fixture
def sender(tmp_path: Path) -> Path:
    folder = copy_project(tmp_path / "sender")
    audience_csv(folder / "leden.csv", READERS)
    copy_sample(folder, "2026-02", status="draft", subject="De nieuwsbrief van februari")
    return folder


def test_everyone_who_left_is_suppressed_before_the_next_send_and_a_link_scanner_unsubscribes_nobody(
    sender: Path, tmp_path: Path
) -> None:
    from smtp_server import Recorder, SMTPServer, running  # after pytest loaded it as a plugin

    web = copy_project(tmp_path / "web")
    with running(SMTPServer(Recorder())) as smtp:
        env = environment(SENDING, SETTINGS, smtp.settings())
        first = run("send", "issues/2026-01.yaml", "--recipients", "leden.csv", "--yes", cwd=sender, env=env)
        assert first.returncode == 0, output(first)
        arrivals = {a.rcpts[0]: a for a in smtp.recorder.arrivals}
        assert len(arrivals) == 300
        token = {reader: token_of(unsubscribe_link(a.data)) for reader, a in arrivals.items()}

        with serving(web, environment(SENDING, SETTINGS)) as endpoint:
            # The web machine keeps its own ledger: it knows the list from the layouts alone.
            button = endpoint.one_click(token[GMAIL_BUTTON])
            assert (button.status, button.header("Location"), button.header("Set-Cookie")) == (
                200,
                None,
                None,
            )
            page = endpoint.get(token[PAGE])
            assert page.status == 200
            assert "<form" in page.text
            assert '<html lang="nl"' in page.text  # the copied issue's language: it sent none itself
            assert endpoint.press(token[PAGE]).status == 200
            for method in ("HEAD", "GET", "GET"):  # a scanner, and a reader who only looks
                assert endpoint.get(token[SCANNED], method=method).status == 200

            maildir = mailbox.Maildir(tmp_path / "bounces", create=True)
            maildir.add(_unsubscribe_mail(MAILTO))
            maildir.add(_bounce(arrivals[GONE]))
            later = {
                **env,
                "NEWSLETTER_MAILDIR": str(tmp_path / "bounces"),
                "NEWSLETTER_SUPPRESSIONS_URL": f"{endpoint.base}{PATH}/suppressions",
            }
            read = run("mailbox", cwd=sender, env=later)
            assert read.returncode == 0, output(read)
            assert "1 hard bounce" in read.stdout, read.stdout
            assert "1 unsubscribe" in read.stdout, read.stdout

            smtp.recorder.arrivals.clear()
            second = run(
                "send", "issues/2026-02.yaml", "--recipients", "leden.csv", "--yes", cwd=sender, env=later
            )
            assert second.returncode == 0, output(second)
            assert "2 addresses added to the suppression list from 127.0.0.1" in second.stdout
            assert "will send to 296 now (of 300: 4 suppressed" in second.stdout

        left = {GMAIL_BUTTON, PAGE, MAILTO, GONE}
        assert Counter(a.rcpts[0] for a in smtp.recorder.arrivals) == Counter(
            r for r in READERS if r not in left
        )

    with Ledger.for_reading(sender / "newsletter.sqlite3") as ledger:
        listed = {s.email: (s.reason, s.source) for s in ledger.suppressions()}
        issues = {s.email: s.issue for s in ledger.suppressions()}
        came_back = ledger.feedback_counts("2026-01")
    assert set(issues.values()) == {"2026-01"}  # the pulled ones too: the issue this sender sent them
    assert listed == {
        GMAIL_BUTTON: ("unsubscribed", "one-click (pulled from 127.0.0.1)"),
        PAGE: ("unsubscribed", "unsubscribe page (pulled from 127.0.0.1)"),
        MAILTO: ("unsubscribed", "mailto"),
        GONE: ("bounced", "mailbox"),
    }
    assert (came_back["bounced_hard"], came_back["unsubscribed"]) == (1, 3)  # the pulled ones too
    status = run("status", cwd=sender, env=environment(SENDING, SETTINGS))
    assert status.returncode == 0, output(status)
    assert "2026-01: came back:" in status.stdout, status.stdout


def test_the_web_machine_keeps_old_links_and_second_requests_for_the_sender_to_pull(
    sender: Path, tmp_path: Path
) -> None:
    """On a machine of its own the endpoint has sent to nobody: an old-form link (of a message sent
    before links named their reader) is kept for the sender, who knows whom it sent to; a reader whom
    the sender let back in and who unsubscribes again is pulled again."""
    from smtp_server import Recorder, SMTPServer, running

    web = copy_project(tmp_path / "web")
    old_reader, again = READERS[60], READERS[70]
    with running(SMTPServer(Recorder())) as smtp:
        env = environment(SENDING, SETTINGS, smtp.settings())
        first = run("send", "issues/2026-01.yaml", "--recipients", "leden.csv", "--yes", cwd=sender, env=env)
        assert first.returncode == 0, output(first)
        token = {a.rcpts[0]: token_of(unsubscribe_link(a.data)) for a in smtp.recorder.arrivals}
        with Ledger.for_reading(sender / "newsletter.sqlite3") as ledger:
            (list_id,) = ledger.list_ids()
        with serving(web, environment(SENDING, SETTINGS)) as endpoint:
            pulling = {**env, "NEWSLETTER_SUPPRESSIONS_URL": f"{endpoint.base}{PATH}/suppressions"}
            assert endpoint.one_click(tokens.legacy_token(SECRET, list_id, old_reader)).status == 200
            assert endpoint.one_click(token[again]).status == 200
            pulled = run("suppress", "pull", cwd=sender, env=pulling)
            assert pulled.returncode == 0, output(pulled)
            assert "2 addresses added" in pulled.stdout, pulled.stdout

            back = run("suppress", "remove", again, cwd=sender, env=env)
            assert back.returncode == 0, output(back)
            assert endpoint.one_click(token[again]).status == 200  # leaves again
            second = run("suppress", "pull", cwd=sender, env=pulling)
            assert second.returncode == 0, output(second)
            assert "1 address added" in second.stdout, second.stdout

    with Ledger.for_reading(sender / "newsletter.sqlite3") as ledger:
        listed = {s.email: s.reason for s in ledger.suppressions()}
        counted = ledger.feedback_counts("2026-01")["unsubscribed"]
    assert listed == {old_reader: "unsubscribed", again: "unsubscribed"}
    assert counted == 2  # under the issue the sender last sent them, as status shows
    status = run("status", cwd=sender, env=environment(SENDING, SETTINGS))
    assert "2026-01: came back: 2 unsubscribed" in status.stdout, status.stdout
