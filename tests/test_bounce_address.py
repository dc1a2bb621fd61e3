"""NEWSLETTER_BOUNCE_ADDRESS: the envelope sender (MAIL FROM) of every message, tagged per message with
{token} (VERP), while the From header stays NEWSLETTER_FROM; in a real send, a test send and the dry
run's files alike, against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output

from newsletter.composing import message
from newsletter.composing.tokens import message_tag, tag_in_address
from newsletter.ledger import Ledger

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
TEMPLATE = "bounces+{token}@example.org"
FROM = "POM Limburg <nieuwsbrief@example.org>"


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    cli = Cli(project_dir, smtp_server, "verp-test-secret", extra={"NEWSLETTER_BOUNCE_ADDRESS": TEMPLATE})
    cli.recipients([f"lid{i:03d}@example.org" for i in range(1, 201)])
    return cli


def test_each_message_goes_out_from_its_own_tagged_bounce_address_and_the_from_header_is_unchanged(
    cli: Cli,
) -> None:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert result.returncode == 0, output(result)
    arrivals = cli.server.recorder.messages
    assert len(arrivals) == 200
    tags = set()
    with Ledger(cli.db) as ledger:
        for arrival in arrivals:
            (rcpt,) = arrival.rcpts
            assert arrival.mail_from == f"bounces+{message_tag(arrival.message_id)}@example.org"
            assert message.parse(arrival.data)["From"] == FROM
            # What the mailbox reads back from a bounce to that address finds the reader again.
            tag = tag_in_address(TEMPLATE, arrival.mail_from)
            assert tag is not None
            assert ledger.find_tag(tag) == ("2026-01", rcpt)
            tags.add(tag)
    assert len(tags) == 200


def test_a_bounce_address_without_token_is_the_envelope_sender_of_every_message(cli: Cli) -> None:
    result = cli.run(
        "send", ISSUE, "--recipients", "leden.csv", "--yes", NEWSLETTER_BOUNCE_ADDRESS="bounces@example.org"
    )
    assert result.returncode == 0, output(result)
    assert {a.mail_from for a in cli.server.recorder.messages} == {"bounces@example.org"}


def test_a_test_send_uses_the_tagged_bounce_address_too(cli: Cli) -> None:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--test", "me@example.org")
    assert result.returncode == 0, output(result)
    (arrival,) = cli.server.recorder.messages
    assert arrival.mail_from == f"bounces+{message_tag(arrival.message_id)}@example.org"
    assert message.parse(arrival.data)["From"] == FROM


def test_the_dry_runs_files_name_the_envelope_sender_in_a_return_path_line(cli: Cli) -> None:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run")
    assert result.returncode == 0, output(result)
    files = sorted((cli.folder / "outbox" / "2026-01").glob("*.eml"))
    assert len(files) == 200
    for file in files[:20]:
        parsed = message.parse(file.read_bytes())
        assert file.read_bytes().startswith(b"Return-Path: <bounces+")
        assert parsed["Return-Path"] == f"<bounces+{message_tag(parsed['Message-ID'])}@example.org>"
        assert parsed["From"] == FROM
    assert cli.server.recorder.connections == 0


def test_without_a_bounce_address_the_dry_run_names_the_from_address(cli: Cli) -> None:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run", NEWSLETTER_BOUNCE_ADDRESS="")
    assert result.returncode == 0, output(result)
    first = min((cli.folder / "outbox" / "2026-01").glob("*.eml"))
    assert message.parse(first.read_bytes())["Return-Path"] == f"<{parseaddr(FROM)[1]}>"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("bounces@{token}.example.org", "{token} belongs before the @"),
        ("Bounces <bounces@example.org>", "only the address, without a name"),
        ("bounces", "is not an address"),
        ("b+{token}+{token}@example.org", "write {token} once"),
        ("a-very-long-local-part-for-the-bounces-{token}@example.org", "longer than 64 characters"),
    ],
)
def test_a_bounce_address_that_is_none_is_refused_before_anything_is_sent(
    cli: Cli, value: str, says: str
) -> None:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", NEWSLETTER_BOUNCE_ADDRESS=value)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "NEWSLETTER_BOUNCE_ADDRESS" in line
    assert says in line
    assert cli.server.recorder.connections == 0
    assert not cli.db.exists()
