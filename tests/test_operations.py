"""Delivery as operations really go: a server that refuses us as a whole with a thousand people due,
`systemctl stop`, a closed terminal, Ctrl-C pressed twice, and advice that is true afterwards.

The command runs in a subprocess against aiosmtpd on 127.0.0.1 and a real ledger file; signals go to
the real process. A run that hung would hit the subprocess timeout and fail the test.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from command import Cli, read, wait
from conftest import ROOT, SAMPLE, audience_csv, people
from issue_files import copy_sample

from newsletter.composing.message import Composer, Envelope
from newsletter.delivering.loop import Options, deliver
from newsletter.errors import SendError
from newsletter.ledger import Ledger
from newsletter.rendering.project import Project
from newsletter.sending.base import Reply
from newsletter.sending.memory import MemoryConnection, MemorySender

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "operations-test-secret"
DUE = 1000


def _audience(n: int) -> list[str]:
    return [f"lid{i:04d}@example.org" for i in range(1, n + 1)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.01)


def _statuses(cli: Cli) -> Counter[str]:
    return Counter(r.status for r in cli.rows())


def _sent(cli: Cli) -> set[str]:
    return {r.recipient.email for r in cli.rows() if r.status == "sent"}


def _command(cli: Cli, how: str) -> tuple[str, ...]:
    """`send` by hand or `dispatch` from cron, for the same ready issue and audience."""
    if how == "send":
        return ("send", ISSUE, "--recipients", "leden.csv", "--yes")
    return ("dispatch", "--now", "2026-01-20T09:30")


def _project(cli: Cli, emails: list[str]) -> None:
    """The sample issue, ready since 2026-01-20 09:00, with `emails` as its audience."""
    cli.recipients(emails)
    audience_csv(cli.folder / "issues" / "leden.csv", emails)
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")


FAULTS = ["wrong password", "untrusted certificate", "sender refused", "server down"]


@pytest.mark.parametrize("how", ["send", "dispatch"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_server_that_refuses_us_as_a_whole_ends_the_run_with_a_thousand_due(
    project_dir: Path, start_server: Callable[..., SMTPServer], fault: str, how: str
) -> None:
    server = start_server("plain" if fault in ("sender refused", "server down") else "starttls")
    emails = _audience(DUE)
    settings = {"NEWSLETTER_CONNECTIONS": "4"}
    if fault == "wrong password":
        settings["NEWSLETTER_SMTP_PASSWORD"] = "not-the-password"
    elif fault == "server down":
        settings["NEWSLETTER_SMTP_PORT"] = str(_closed_port())
    cli = Cli(project_dir, server, SECRET, dict(settings))
    ca_file = server.ca_file
    if fault == "untrusted certificate":
        server.ca_file = None  # the client is not told about the test CA
    if fault == "sender refused":
        server.recorder.fail_mail(553, "5.7.1 Sender address rejected: not owned by user", times=None)
    _project(cli, emails)

    result = cli.run(*_command(cli, how))
    said = result.stdout + result.stderr
    assert "Traceback" not in said
    expected = {
        "wrong password": "NEWSLETTER_SMTP_PASSWORD",
        "untrusted certificate": "certificate is not trusted",
        "sender refused": "NEWSLETTER_FROM",
        "server down": "cannot be reached",
    }[fault]
    assert expected in said
    # Our settings or their certificate: 2. A server that is down may be back later: 1.
    assert result.returncode == (1 if fault == "server down" else 2), said
    assert server.recorder.messages == []
    assert _statuses(cli) == Counter({"pending": DUE})

    # The lock went with the run: once the fault is gone the next run sends everyone exactly once.
    server.recorder.fail_mail(250, times=0)
    server.ca_file = ca_file
    cli.extra = {"NEWSLETTER_CONNECTIONS": "4"}
    again = cli.run(*_command(cli, how))
    assert again.returncode == 0, again.stdout + again.stderr
    assert server.recorder.copies() == Counter(emails)


def test_a_sender_refused_halfway_stops_the_run_and_the_ledger_holds_exactly_who_got_it(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    emails = _audience(600)
    cli = Cli(project_dir, smtp_server, SECRET, {"NEWSLETTER_CONNECTIONS": "4"})
    _project(cli, emails)
    recorder = smtp_server.recorder

    def refuse_from_300(arrival: Arrival) -> None:
        if arrival.number == 300:
            recorder.fail_mail(553, "5.7.1 Sender address rejected", times=None)

    recorder.on_arrival = refuse_from_300
    result = cli.run(*_command(cli, "send"))
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert "NEWSLETTER_FROM" in result.stderr
    got = set(recorder.copies())
    assert 300 <= len(got) < 600
    # Everything the server accepted is recorded; nobody is left in doubt.
    assert _sent(cli) == got
    assert _statuses(cli) == Counter({"sent": len(got), "pending": 600 - len(got)})
    assert f"{len(got)} of 600 have it" in result.stdout
    assert f"send to the {600 - len(got)} still due" in result.stdout

    recorder.on_arrival = None
    recorder.fail_mail(250, times=0)
    again = cli.run(*_command(cli, "send"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert recorder.copies() == Counter(emails)


@pytest.mark.parametrize("how", ["send", "dispatch"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_run_cleanly_and_a_rerun_sends_only_the_rest(
    project_dir: Path, smtp_server: SMTPServer, log: IO[str], stop: signal.Signals, how: str
) -> None:
    emails = _audience(400)
    cli = Cli(
        project_dir, smtp_server, SECRET, {"NEWSLETTER_CONNECTIONS": "2", "NEWSLETTER_RATE": "200/second"}
    )
    _project(cli, emails)
    recorder = smtp_server.recorder
    proc = cli.start(*_command(cli, how), output=log)

    def signal_at_50(arrival: Arrival) -> None:
        if arrival.number == 50:
            os.kill(proc.pid, stop)

    recorder.on_arrival = signal_at_50
    try:
        code = wait(proc)
    finally:
        proc.__exit__(None, None, None)
    said = read(log)
    assert code == 1, said
    assert "Traceback" not in said
    assert "stopping after the message each connection is on" in said
    got = recorder.copies()
    assert 50 <= len(got) < 400
    # Each connection finished the message it was on and recorded it: nothing in doubt.
    assert _sent(cli) == set(got)
    assert _statuses(cli) == Counter({"sent": len(got), "pending": 400 - len(got)})
    if how == "send":
        assert f"run the same command again to send to the {400 - len(got)} still due" in said

    recorder.on_arrival = None
    again = cli.run(*_command(cli, how))
    assert again.returncode == 0, again.stdout + again.stderr
    assert recorder.copies() == Counter(emails)


def test_a_second_ctrl_c_ends_at_once_and_only_the_messages_in_flight_are_resent(
    project_dir: Path, smtp_server: SMTPServer, log: IO[str]
) -> None:
    emails = _audience(300)
    cli = Cli(project_dir, smtp_server, SECRET, {"NEWSLETTER_CONNECTIONS": "2"})
    _project(cli, emails)
    recorder = smtp_server.recorder

    def hold_at_20(arrival: Arrival) -> None:
        if arrival.number == 20:
            recorder.hold()

    recorder.on_arrival = hold_at_20
    proc = cli.start(*_command(cli, "send"), output=log)
    try:
        # Both connections wait for the server's reply to the message they handed over.
        _wait_for(lambda: len(recorder.arrivals) >= 21, "both connections to hand over a message")
        os.kill(proc.pid, signal.SIGINT)
        _wait_for(lambda: "press Ctrl-C again" in read(log), "the first Ctrl-C to be acknowledged")
        os.kill(proc.pid, signal.SIGINT)
        code = wait(proc, timeout=10)
    finally:
        recorder.release()
        proc.__exit__(None, None, None)
    said = read(log)
    assert code == 128 + signal.SIGINT, said
    assert "Traceback" not in said
    assert "closed database" not in said
    in_flight = {r.recipient.email for r in cli.rows() if r.status == "sending"}
    assert 1 <= len(in_flight) <= 2

    recorder.on_arrival = None
    again = cli.run(*_command(cli, "send"))
    assert again.returncode == 0, again.stdout + again.stderr
    rows = {r.recipient.email: r for r in cli.rows()}
    copies = recorder.copies()
    assert set(copies) == set(emails)
    for email in emails:
        # The held messages were delivered when released: those in flight have two copies, same id.
        assert copies[email] == (2 if email in in_flight else 1), email
        assert set(recorder.message_ids(email)) == {rows[email].message_id}, email


def test_when_every_failure_is_final_the_advice_is_status_failed_not_a_rerun(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    emails = _audience(3)
    cli = Cli(project_dir, smtp_server, SECRET)
    _project(cli, emails)
    for email in emails[:2]:
        smtp_server.recorder.fail_rcpt(email, 550, times=None)
    result = cli.run(*_command(cli, "send"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed for good" in result.stdout
    assert "newsletter status --failed" in result.stdout
    assert "run the same command again" not in result.stdout


class _RefusingConnection(MemoryConnection):
    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        raise SendError("the server refuses the sender")


class _RefusingSender(MemorySender):
    def connect(self) -> MemoryConnection:
        return _RefusingConnection(self)


@pytest.mark.parametrize("connections", [1, 4])
def test_deliver_ends_when_every_connection_is_refused_with_a_thousand_due(
    tmp_path: Path, connections: int
) -> None:
    _, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    envelope = Envelope(
        sender="POM Limburg <nieuwsbrief@example.org>",
        unsubscribe_url="https://example.org/uitschrijven?token={token}",
        secret="s",
    )
    composer = Composer(rendered, envelope, date=dt.datetime.now(dt.UTC))
    ledger.start(
        rendered.slug,
        subject="s",
        content_hash="h",
        audience_source="t",
        recipients=people(DUE),
        now=dt.datetime.now(dt.UTC),
    )
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            deliver(composer, _RefusingSender(), ledger, options=Options(connections=connections))
        except SendError as e:
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "deliver hung after its workers stopped"
    assert [str(e) for e in outcome] == ["the server refuses the sender"]
    assert ledger.counts(rendered.slug).pending == DUE
    ledger.close()
