"""`newsletter suppress pull`, and the same pull before `send` and `dispatch`: the unsubscribes the
endpoint on another machine recorded come into this ledger before anything is sent, and a pull that
fails stops the send before its first message.

The endpoint's side is a stand-in on 127.0.0.1 made of the real pieces (tests/suppressions_endpoint.py):
the real credential check and a real ledger of its own. The sender is the real command in a
subprocess, against a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
import socket
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, logged, output
from issue_files import copy_sample

from newsletter.feedback.pull import Endpoint as PullEndpoint
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback

if TYPE_CHECKING:
    from collections.abc import Callable

    from smtp_server import SMTPServer
    from suppressions_endpoint import Endpoint

pytest_plugins = ["smtp_server", "suppressions_endpoint"]

ISSUE = "issues/2026-01.yaml"
SECRET = "endpoint-and-sender-share-this"  # suppressions_endpoint.SECRET
HELD = "nothing was sent: a late newsletter is better than mail to someone who left"


def _audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer, suppressions_endpoint: Endpoint) -> Cli:
    return Cli(
        project_dir, smtp_server, SECRET, extra={"NEWSLETTER_SUPPRESSIONS_URL": suppressions_endpoint.url}
    )


def _unsubscribe(endpoint: Endpoint, emails: list[str], at: dt.datetime | None = None) -> None:
    """Readers who pressed the unsubscribe button on the endpoint's machine."""
    moment = at or dt.datetime.now(dt.UTC)
    with Ledger(endpoint.db) as theirs:
        for email in emails:
            theirs.record(
                Feedback(
                    kind="unsubscribed",
                    email=email,
                    source="one-click",
                    at=moment,
                    issue="2025-12",
                    evidence=f"one-click {email}",
                )
            )


def _listed(cli: Cli) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(cli.run("suppress", "list", "--csv").stdout))
    return {row["email"]: row for row in rows}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_pulled_unsubscribes_are_merged_and_then_skipped_by_a_send_of_300(
    cli: Cli, suppressions_endpoint: Endpoint
) -> None:
    emails = _audience(300)
    cli.recipients(emails)
    _unsubscribe(suppressions_endpoint, emails[10:35])

    pulled = cli.run("suppress", "pull")
    assert pulled.returncode == 0, output(pulled)
    assert pulled.stdout == "25 addresses added to the suppression list from 127.0.0.1\n"
    listed = _listed(cli)
    assert set(listed) == set(emails[10:35])
    row = listed[emails[10]]
    assert (row["reason"], row["source"], row["issue"]) == (
        "unsubscribed",
        "one-click (pulled from 127.0.0.1)",
        "2025-12",
    )

    # Ten more leave on the other machine; the send fetches them itself before it counts.
    _unsubscribe(suppressions_endpoint, emails[200:210], dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    sent = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert sent.returncode == 0, output(sent)
    assert "10 addresses added to the suppression list from 127.0.0.1" in sent.stdout
    assert "recipients: will send to 265 now (of 300: 35 suppressed, 0 already have it" in sent.stdout
    left = set(emails[10:35] + emails[200:210])
    assert cli.server.recorder.copies() == Counter(e for e in emails if e not in left)
    assert Counter(r.status for r in cli.rows()) == Counter(sent=265, skipped=35)


def test_until_is_kept_so_the_next_pull_asks_from_there_and_nothing_new_changes_nothing(
    cli: Cli, suppressions_endpoint: Endpoint
) -> None:
    first_at = dt.datetime(2026, 1, 21, 10, 0, tzinfo=dt.UTC)
    _unsubscribe(suppressions_endpoint, ["an@example.org", "bert@example.com"], first_at)

    first = cli.run("suppress", "pull")
    assert first.returncode == 0, output(first)
    assert "2 addresses added" in first.stdout
    second = cli.run("suppress", "pull")
    assert second.returncode == 0, output(second)
    assert second.stdout == "nothing new for the suppression list from 127.0.0.1\n"
    until = "2026-01-21T10:00:00.000+00:00"
    assert suppressions_endpoint.asked == ["", until]
    with Ledger(cli.db) as ledger:
        assert ledger.note(PullEndpoint(suppressions_endpoint.url, SECRET).note) == until

    _unsubscribe(suppressions_endpoint, ["carla@example.org"], first_at + dt.timedelta(hours=2))
    third = cli.run("suppress", "pull")
    assert third.stdout == "1 address added to the suppression list from 127.0.0.1\n"
    assert suppressions_endpoint.asked[-1] == until
    fourth = cli.run("suppress", "pull")
    assert "nothing new" in fourth.stdout
    assert suppressions_endpoint.asked[-1] == "2026-01-21T12:00:00.000+00:00"
    assert set(_listed(cli)) == {"an@example.org", "bert@example.com", "carla@example.org"}


def test_a_wrong_secret_is_one_line_and_the_send_does_not_start(
    cli: Cli, suppressions_endpoint: Endpoint
) -> None:
    emails = _audience(300)
    cli.recipients(emails)
    _unsubscribe(suppressions_endpoint, emails[:5])
    wrong = {"NEWSLETTER_SECRET": "not-the-endpoints-secret"}

    pulled = cli.run("suppress", "pull", **wrong)
    assert pulled.returncode == 2
    assert pulled.stderr == (
        f"error: NEWSLETTER_SUPPRESSIONS_URL={suppressions_endpoint.url}: the endpoint refused the "
        "credential (401): NEWSLETTER_SECRET differs from the endpoint's (or the clock of one of the two "
        "machines is more than 5 minutes off)\n"
    )

    for extra in (("--yes",), ("--dry-run",)):
        sent = cli.run("send", ISSUE, "--recipients", "leden.csv", *extra, **wrong)
        assert sent.returncode == 2, output(sent)
        (line,) = sent.stderr.splitlines()
        url = suppressions_endpoint.url
        assert line.startswith(
            f"error: could not fetch the unsubscribes from NEWSLETTER_SUPPRESSIONS_URL={url}: "
            "the endpoint refused the credential (401)"
        )
        assert line.endswith(HELD)
    assert cli.server.recorder.connections == 0
    assert not (cli.folder / "outbox" / "2026-01").exists()
    with Ledger(cli.db) as ledger:
        assert ledger.delivery("2026-01") is None
        assert ledger.suppressions() == []
    assert suppressions_endpoint.answers == [401, 401, 401]


def test_the_endpoint_down_stops_the_send_and_a_test_send_does_not_pull(cli: Cli) -> None:
    cli.recipients(_audience(300))
    down = {"NEWSLETTER_SUPPRESSIONS_URL": f"http://127.0.0.1:{_free_port()}/uitschrijven/suppressions"}

    pulled = cli.run("suppress", "pull", **down)
    assert pulled.returncode == 2
    assert "(connection refused): is the endpoint running?" in pulled.stderr
    sent = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", **down)
    assert sent.returncode == 2, output(sent)
    assert len(sent.stderr.splitlines()) == 1
    assert sent.stderr.rstrip().endswith(HELD)
    assert "connection refused" in sent.stderr
    assert cli.server.recorder.connections == 0

    # A test goes to staff, not to readers: it needs no list of who left.
    tested = cli.run("send", ISSUE, "--recipients", "leden.csv", "--test", "redactie@example.org", **down)
    assert tested.returncode == 0, output(tested)
    assert cli.server.recorder.copies() == Counter(["redactie@example.org"])


def test_dispatch_with_a_failing_pull_sends_nothing_and_says_so_then_sends_once_it_works(
    cli: Cli, suppressions_endpoint: Endpoint
) -> None:
    emails = _audience(300)
    cli.recipients(emails, name="issues/leden.csv")
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")
    _unsubscribe(suppressions_endpoint, emails[:12])

    held = cli.dispatch("2026-01-20T09:05", NEWSLETTER_SECRET="not-the-endpoints-secret")
    assert held.returncode == 2, output(held)
    (failed,) = logged(held, "pull-failed")
    assert "the endpoint refused the credential (401)" in failed
    assert failed.endswith(HELD)
    assert logged(held, "held")[0].split(" ", 2)[2].startswith("2026-01 not sent in this run")
    assert logged(held, "start") == []
    assert cli.server.recorder.connections == 0

    sent = cli.dispatch("2026-01-20T09:10")
    assert sent.returncode == 0, output(sent)
    assert logged(sent, "pulled")[0].endswith("12 addresses added to the suppression list from 127.0.0.1")
    assert cli.server.recorder.copies() == Counter(emails[12:])


def test_an_answer_that_is_no_list_of_suppressions_is_one_line(
    cli: Cli, suppressions_endpoint: Endpoint
) -> None:
    suppressions_endpoint.mode = "html"
    pulled = cli.run("suppress", "pull")
    assert pulled.returncode == 2
    assert pulled.stderr == (
        f"error: NEWSLETTER_SUPPRESSIONS_URL={suppressions_endpoint.url}: the answer is not JSON but "
        "text/html: is this the endpoint's address, e.g. https://nieuws.example.org/uitschrijven/suppressions?\n"
    )


def test_a_certificate_nobody_trusts_is_one_line(cli: Cli, start_endpoint: Callable[..., Endpoint]) -> None:
    untrusted = start_endpoint(tls=True)
    pulled = cli.run("suppress", "pull", NEWSLETTER_SUPPRESSIONS_URL=untrusted.url)
    assert pulled.returncode == 2
    (line,) = pulled.stderr.splitlines()
    assert line.startswith(
        f"error: NEWSLETTER_SUPPRESSIONS_URL={untrusted.url}: the endpoint's certificate is not trusted ("
    )
    assert "Traceback" not in pulled.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "http://nieuws.example.org/uitschrijven/suppressions",
            "must be an https:// address (the readers' addresses travel over it)",
        ),
        ("nieuws.example.org/uitschrijven/suppressions", "is not a web address with a host"),
        ("https://user:pw@nieuws.example.org/x", "write it without a user name or password"),
    ],
)
def test_a_suppressions_url_that_cannot_be_used_is_refused_before_anything(
    cli: Cli, value: str, message: str
) -> None:
    cli.recipients(_audience(3))
    for args in (("suppress", "pull"), ("send", ISSUE, "--recipients", "leden.csv", "--yes")):
        result = cli.run(*args, NEWSLETTER_SUPPRESSIONS_URL=value)
        assert result.returncode == 2, output(result)
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: NEWSLETTER_SUPPRESSIONS_URL")
        assert message in line
        assert "pw@" not in line  # a password in it is not printed
    assert cli.server.recorder.connections == 0


def test_suppress_pull_without_the_setting_says_which_to_set(cli: Cli) -> None:
    result = cli.run("suppress", "pull", NEWSLETTER_SUPPRESSIONS_URL="")
    assert result.returncode == 2
    assert result.stderr.startswith("error: set NEWSLETTER_SUPPRESSIONS_URL to the endpoint's suppressions")


def test_a_dispatch_held_by_a_failing_pull_tells_the_staff_once_a_day(
    cli: Cli, suppressions_endpoint: Endpoint
) -> None:
    emails = _audience(300)
    cli.recipients(emails, name="issues/leden.csv")
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")
    staff = {"NEWSLETTER_SECRET": "not-the-endpoints-secret", "NEWSLETTER_REPORT_TO": "redactie@example.org"}
    for minute in ("05", "10"):
        held = cli.dispatch(f"2026-01-20T09:{minute}", **staff)
        assert held.returncode == 2, output(held)
        assert logged(held, "pull-failed")
    (alert,) = cli.server.recorder.messages  # the issue itself went to nobody
    assert alert.rcpts == ("redactie@example.org",)
    assert alert.subject == "Newsletter held: the unsubscribes cannot be fetched"
    body = email.message_from_bytes(alert.data, policy=email.policy.default).get_body()
    assert body is not None
    assert "refused the credential (401)" in body.get_content()
