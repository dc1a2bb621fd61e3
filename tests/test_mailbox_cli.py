"""`newsletter mailbox` and dispatch's mailbox pass as cron runs them, in a subprocess, against Dovecot
on 127.0.0.1: a summary in words, one line and exit 2 for whatever keeps the mailbox from being read
(nothing done), and a dispatch that sends all the same when the mailbox fails.

Until the classifier is wired into the command (`cli.mailbox._handler`), it acts on no message: these
tests see everything left alone. After that, `test_mailbox_reads_the_folder_...` should see the
bounces moved and the summary count them."""

from __future__ import annotations

import mailbox
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, logged, output
from conftest import audience_csv
from dovecot import needs_dovecot
from issue_files import copy_sample
from mailbox_mail import out_of_office, postfix_bounce, stray

if TYPE_CHECKING:
    from dovecot import Dovecot
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server", "dovecot"]

SECRET = "mailbox-test-secret"


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _nothing_listening() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, output(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def test_mailbox_without_a_mailbox_set_names_the_settings(cli: Cli) -> None:
    _one_error_line(cli.run("mailbox"), "NEWSLETTER_IMAP_HOST", "NEWSLETTER_MAILDIR")


@needs_dovecot
def test_mailbox_reads_the_folder_makes_the_processed_folder_and_says_what_it_found(
    cli: Cli, dovecot: Dovecot
) -> None:
    mail = [postfix_bounce("lid1@example.org", 1), out_of_office("reader@example.com", 1), stray(1)]
    dovecot.append(mail)
    before = dovecot.messages()
    result = cli.run("mailbox", **dovecot.settings())
    assert result.returncode == 0, output(result)
    assert result.stdout.startswith(f"3 messages in INBOX on 127.0.0.1:{dovecot.imaps_port}: ")
    assert "3 left alone" in result.stdout
    assert result.stderr == ""
    assert "Processed" in dovecot.folders()
    assert dovecot.messages() == before  # still there, still unseen
    again = cli.run("mailbox", **dovecot.settings("starttls"))
    assert again.returncode == 0, output(again)
    assert dovecot.messages() == before


@needs_dovecot
def test_mailbox_dry_run_creates_nothing(cli: Cli, dovecot: Dovecot) -> None:
    dovecot.append([stray(1)])
    result = cli.run("mailbox", "--dry-run", **dovecot.settings())
    assert result.returncode == 0, output(result)
    assert result.stdout.startswith("dry run, nothing recorded or moved: 1 message in INBOX")
    assert dovecot.folders() == ["INBOX"]
    assert not cli.db.exists()


@needs_dovecot
@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"NEWSLETTER_IMAP_PASSWORD": "wrong"}, ["login refused for 'bounces'", "NEWSLETTER_IMAP_PASSWORD"]),
        ({"NEWSLETTER_IMAP_CA_FILE": ""}, ["certificate is not trusted", "NEWSLETTER_IMAP_CA_FILE"]),
        ({"NEWSLETTER_IMAP_FOLDER": "Bounces"}, ["no folder 'Bounces'", "NEWSLETTER_IMAP_FOLDER", "INBOX"]),
        ({"NEWSLETTER_IMAP_SECURITY": "none"}, ["unencrypted", "NEWSLETTER_IMAP_PLAINTEXT_AUTH=allow"]),
        (
            {"NEWSLETTER_IMAP_SECURITY": "none", "NEWSLETTER_IMAP_PLAINTEXT_AUTH": "allow", "plain port": ""},
            ["offers STARTTLS", "NEWSLETTER_IMAP_SECURITY=starttls"],
        ),
        ({"plain port": ""}, ["does not speak TLS from the first byte", "NEWSLETTER_IMAP_SECURITY=starttls"]),
        ({"no server": ""}, ["Connection refused", "NEWSLETTER_IMAP_HOST", "NEWSLETTER_IMAP_PORT"]),
        ({"NEWSLETTER_IMAP_USERNAME": ""}, ["NEWSLETTER_IMAP_USERNAME"]),
        ({"NEWSLETTER_MAILDIR": "Maildir"}, ["not both"]),
    ],
    ids=[
        "login refused",
        "untrusted certificate",
        "no such folder",
        "no TLS refused",
        "no TLS where STARTTLS is offered",
        "TLS asked of the STARTTLS port",
        "server down",
        "no username",
        "IMAP and Maildir",
    ],
)
def test_a_mailbox_that_cannot_be_read_is_one_line_and_exit_2_with_nothing_done(
    cli: Cli, dovecot: Dovecot, settings: dict[str, str], says: list[str]
) -> None:
    dovecot.append([postfix_bounce("lid1@example.org", 1)])
    before = dovecot.messages()
    env = dovecot.settings()
    if settings.pop("plain port", None) is not None:
        env["NEWSLETTER_IMAP_PORT"] = str(dovecot.imap_port)
    if settings.pop("no server", None) is not None:
        env["NEWSLETTER_IMAP_PORT"] = str(_nothing_listening())
    env.update(settings)
    line = _one_error_line(cli.run("mailbox", **env), *says)
    assert dovecot.password not in line
    assert dovecot.folders() == ["INBOX"]
    assert dovecot.messages() == before


def test_mailbox_reads_a_maildir(cli: Cli) -> None:
    box = mailbox.Maildir(cli.folder / "Maildir", create=True)
    box.add(stray(1))
    box.add(stray(2))
    result = cli.run("mailbox", NEWSLETTER_MAILDIR="Maildir")
    assert result.returncode == 0, output(result)
    assert result.stdout.startswith("2 messages in Maildir Maildir: 2 left alone")
    assert (cli.folder / "Maildir" / ".Processed" / "cur").is_dir()
    assert len(list((cli.folder / "Maildir" / "new").iterdir())) == 2


def test_mailbox_names_a_missing_maildir(cli: Cli) -> None:
    _one_error_line(
        cli.run("mailbox", NEWSLETTER_MAILDIR="Maildir"), "NEWSLETTER_MAILDIR=Maildir: no such folder"
    )


def _ready_issue(cli: Cli, emails: list[str]) -> None:
    audience_csv(cli.folder / "issues" / "leden.csv", emails)
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")


@needs_dovecot
def test_dispatch_reads_the_mailbox_first_and_logs_what_it_found(cli: Cli, dovecot: Dovecot) -> None:
    emails = [f"lid{i:03d}@example.org" for i in range(1, 31)]
    _ready_issue(cli, emails)
    dovecot.append([stray(1)])
    result = cli.dispatch("2026-01-20T09:00", **dovecot.settings())
    assert result.returncode == 0, output(result)
    (line,) = logged(result, "mailbox")
    assert "1 message in INBOX" in line
    assert result.stdout.index(" mailbox ") < result.stdout.index(" start ")
    assert len(cli.server.recorder.messages) == 30


@needs_dovecot
def test_dispatch_sends_when_the_mailbox_fails_and_says_so_with_exit_1(cli: Cli, dovecot: Dovecot) -> None:
    emails = [f"lid{i:03d}@example.org" for i in range(1, 31)]
    _ready_issue(cli, emails)
    result = cli.dispatch("2026-01-20T09:00", **dovecot.settings(NEWSLETTER_IMAP_PASSWORD="wrong"))
    assert result.returncode == 1, output(result)
    (line,) = logged(result, "mailbox-failed")
    assert "login refused" in line
    assert "the suppression list is as it was" in line
    assert len(cli.server.recorder.messages) == 30
    assert logged(result, "complete")
