"""A server that refuses us, not the reader (no login, no relaying, down), stops a send or a test with
exit 2 and one line saying what to fix, and leaves everyone pending; what the send prints next is a
command that helps. In a subprocess, against aiosmtpd on 127.0.0.1, with a few hundred recipients."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from command import Cli, output, status_rows
from issue_files import copy_sample

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "refusals-secret"
RELAY_REFUSALS = [
    (554, "5.7.1 <{rcpt}>: Relay access denied"),
    (550, "5.7.1 Unable to relay"),
    (550, "5.7.1 relaying denied"),
    (550, "5.7.1 not permitted to relay"),
    (550, "5.7.1 Client does not have permissions to send as this sender"),
]


class Refusal:
    """What the relay answers every RCPT TO with while `reply` is set, as one that does not relay for
    us does; "{rcpt}" in it stands for the address."""

    reply: tuple[int, str] | None = None


@pytest.fixture
def relay() -> Iterator[tuple[SMTPServer, Refusal]]:
    # Imported here, once pytest has loaded it as a plugin (see its docstring).
    from aiosmtpd.smtp import SMTP
    from smtp_server import Recorder, SMTPServer, running

    refusal = Refusal()

    class RelayRefusing(Recorder):
        async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
            self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
        ) -> str:
            if refusal.reply is not None:
                code, text = refusal.reply
                return f"{code} {text.format(rcpt=address)}"
            return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    with running(SMTPServer(RelayRefusing())) as server:
        yield server, refusal


def _people(n: int) -> list[str]:
    return [f"lid{i}@example.org" for i in range(1, n + 1)]


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error: ")]


def _statuses(cli: Cli) -> Counter[str]:
    return Counter(row.status for row in cli.rows())


def _cli(project_dir: Path, server: SMTPServer, people: int, **extra: str) -> Cli:
    cli = Cli(project_dir, server, SECRET, dict(extra))
    cli.recipients(_people(people))
    return cli


class _HangUp:
    """A port that accepts a connection and closes it at once, counting the connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


def test_a_test_send_to_a_server_that_hangs_up_tries_once_and_exits_2(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = _cli(project_dir, smtp_server, 2)
    hang_up = _HangUp()
    try:
        result = cli.run(
            "send", ISSUE, "--recipients", "leden.csv", "--test", "me@example.org",
            NEWSLETTER_SMTP_PORT=str(hang_up.port),
        )  # fmt: skip
    finally:
        hang_up.close()
    assert result.returncode == 2, output(result)
    assert hang_up.accepted == 1  # a real send retries; a test says at once that it did not go
    (line,) = _errors(result.stderr)
    assert line.startswith(
        f"error: the mail server cannot be reached (cannot connect to 127.0.0.1:{hang_up.port}"
    )
    assert line.endswith("; the test was not sent")
    assert f"sending a test to me@example.org through 127.0.0.1:{hang_up.port}…" in result.stdout


@pytest.mark.parametrize("how", ["--test", "real"])
def test_a_server_that_wants_a_login_says_which_settings_and_leaves_everyone_pending(
    project_dir: Path, start_server: Callable[..., SMTPServer], how: str
) -> None:
    server = start_server("starttls")
    server.username = server.password = None  # the settings name no account
    cli = _cli(project_dir, server, 300)
    args = ("--test", "me@example.org") if how == "--test" else ("--yes",)
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", *args)
    assert result.returncode == 2, output(result)
    assert "Traceback" not in output(result)
    (line,) = _errors(result.stderr)
    assert line.startswith("error: the mail server requires a login")
    assert "530 5.7.0 Authentication required" in line
    assert line.endswith(": set NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD")
    assert "refuses the sender" not in line
    assert server.recorder.arrivals == []
    if how == "real":
        assert _statuses(cli) == Counter({"pending": 300})


@pytest.mark.parametrize(("code", "text"), RELAY_REFUSALS)
def test_relay_denied_stops_the_send_with_everyone_pending_and_a_rerun_sends_each_once(
    project_dir: Path, relay: tuple[SMTPServer, Refusal], code: int, text: str
) -> None:
    server, refusal = relay
    recorder = server.recorder
    refusal.reply = (code, text)
    cli = _cli(project_dir, server, 300)
    people = _people(300)

    test = cli.run("send", ISSUE, "--recipients", "leden.csv", "--test", "me@example.org")
    assert test.returncode == 2, output(test)
    (line,) = _errors(test.stderr)
    assert f"127.0.0.1:{server.port}" in line
    assert str(code) in line
    assert "failed:" not in output(test)

    refused = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert refused.returncode == 2, output(refused)
    (line,) = _errors(refused.stderr)
    if "send as" in text:
        assert "does not let this account send as the sender" in line
        assert (
            "check that NEWSLETTER_FROM (and NEWSLETTER_BOUNCE_ADDRESS, the envelope sender, when set)"
            in line
        )
    else:
        assert "refuses to relay our mail" in line
        assert "log in (set NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD)" in line
        assert "ask the mail admin to allow this host" in line
    assert "rerun would not help" not in output(refused)
    assert _statuses(cli) == Counter({"pending": 300})

    refusal.reply = None  # the mail admin allowed this host
    fixed = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert fixed.returncode == 0, output(fixed)
    assert recorder.copies() == Counter(people)
    assert _statuses(cli) == Counter({"sent": 300})


def test_relay_denied_stops_dispatch_with_everyone_pending_and_the_next_run_sends_each_once(
    project_dir: Path, relay: tuple[SMTPServer, Refusal]
) -> None:
    server, refusal = relay
    recorder = server.recorder
    refusal.reply = RELAY_REFUSALS[0]
    cli = _cli(project_dir, server, 300)
    copy_sample(cli.folder, "2026-01", send_at="2026-01-20T09:00", audience="../leden.csv")

    refused = cli.dispatch("2026-01-20T09:05")
    assert refused.returncode == 2, output(refused)
    assert "Relay access denied" in refused.stdout
    assert "ask the mail admin to allow this host" in refused.stdout
    assert _statuses(cli) == Counter({"pending": 300})
    assert recorder.messages == []

    refusal.reply = None
    fixed = cli.dispatch("2026-01-20T09:10")
    assert fixed.returncode == 0, output(fixed)
    assert recorder.copies() == Counter(_people(300))


def test_a_daily_limit_reached_says_when_the_next_can_go_not_to_run_it_again(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = _cli(
        project_dir, smtp_server, 400, NEWSLETTER_DAILY_LIMIT="100", NEWSLETTER_TIMEZONE="Europe/Brussels"
    )
    first = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert first.returncode == 1, output(first)
    assert len(smtp_server.recorder.messages) == 100
    oldest = min(dt.datetime.fromisoformat(row.sent_at) for row in cli.rows() if row.sent_at)
    free = (oldest + dt.timedelta(days=1)).astimezone(ZoneInfo("Europe/Brussels"))
    expected = (
        f"the daily limit of 100 is reached; 300 still due: the next can go from {free:%Y-%m-%d %H:%M}, "
        "or let dispatch continue"
    )
    assert expected in first.stdout

    again = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert again.returncode == 1, output(again)
    assert len(smtp_server.recorder.messages) == 100  # a rerun sends nobody
    assert expected in again.stdout
    assert "run the same command again" not in output(again)


def test_a_dry_run_with_nobody_due_says_who_is_left_and_the_command_that_helps(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = _cli(project_dir, smtp_server, 300)
    for email in _people(300)[:3]:
        smtp_server.recorder.fail_rcpt(email, 550, "5.1.1 User unknown")  # once: a later retry works
    assert cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes").returncode == 1

    dry = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run")
    assert dry.returncode == 0, output(dry)
    assert "no messages written" in dry.stdout
    assert "KB each" not in dry.stdout
    assert (
        "nobody is due: 3 were refused for good: once the cause is fixed, "
        "newsletter send issues/2026-01.yaml --recipients leden.csv --retry-failed"
    ) in dry.stdout
    assert "--test you@example.org" not in dry.stdout

    retry = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run", "--retry-failed")
    assert retry.returncode == 0, output(retry)
    assert "3 messages written" in retry.stdout
    (next_line,) = [line for line in retry.stdout.splitlines() if line.startswith("next: ")]
    assert next_line.endswith(
        "then newsletter send issues/2026-01.yaml --recipients leden.csv --retry-failed"
    )

    assert cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", "--retry-failed").returncode == 0
    done = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run")
    assert "nobody is due: everyone still on the list has it" in done.stdout


def _status_notes(cli: Cli) -> dict[str, str]:
    """The last cell (the note) of each row of `status`."""
    return {slug: cells[-1] for slug, cells in status_rows(cli).items()}


def test_status_tells_a_command_that_continues_a_send_with_recipients_from_the_command_line(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = _cli(project_dir, smtp_server, 300)
    stopped = cli.run("send", ISSUE, "--recipients", "leden.csv", "--limit", "100", "--yes")
    assert stopped.returncode == 1, output(stopped)

    note = _status_notes(cli)["2026-01"]
    command = "newsletter send issues/2026-01.yaml --recipients leden.csv"
    assert note == f"to continue: {command}"
    resumed = cli.run(*command.split()[1:], "--yes")
    assert resumed.returncode == 0, output(resumed)
    assert smtp_server.recorder.copies() == Counter(_people(300))
