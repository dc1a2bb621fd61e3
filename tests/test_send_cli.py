"""`newsletter send`, `status` and `suppress` as a person or cron runs them: in a subprocess, against a
real SMTP server on 127.0.0.1, in a scratch copy of the project."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from command import Cli, read, wait
from conftest import SUBJECT

from newsletter.composing import message

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "cli-test-secret"


def _audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.org" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _table_row(output: str, first: str) -> list[str]:
    """The cells of the row of a printed table that starts with `first`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


def _send(cli: Cli, *extra: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return cli.run("send", ISSUE, "--recipients", "leden.csv", *extra, **settings)


def test_dry_run_writes_eml_files_opens_no_socket_and_leaves_no_ledger(cli: Cli) -> None:
    emails = _audience(3)
    cli.recipients(emails)
    result = _send(cli, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "nothing was sent" in result.stdout
    files = sorted((cli.folder / "outbox" / "2026-01").glob("*.eml"))
    assert [f.name.split("-", 1)[1] for f in files] == [f"{e}.eml" for e in emails]
    assert message.parse(files[0].read_bytes())["Subject"] == SUBJECT
    assert cli.server.recorder.connections == 0
    assert not cli.db.exists()


def test_dry_run_outbox_setting_is_used(cli: Cli) -> None:
    cli.recipients(_audience(1))
    result = _send(cli, "--dry-run", NEWSLETTER_OUTBOX="build/mail")
    assert result.returncode == 0, result.stderr
    assert len(list((cli.folder / "build" / "mail" / "2026-01").glob("*.eml"))) == 1


def test_test_send_over_starttls_delivers_one_test_message_and_leaves_the_ledger_untouched(
    project_dir: Path, start_server: Callable[..., SMTPServer]
) -> None:
    server = start_server("starttls")
    cli = Cli(project_dir, server, SECRET)
    cli.recipients(_audience(5))
    result = _send(cli, "--test", "me@example.org")
    assert result.returncode == 0, result.stderr
    (message,) = server.recorder.messages
    assert message.rcpts == ("me@example.org",)
    assert message.subject == f"[TEST] {SUBJECT}"
    assert message.tls
    assert [(user, ok) for _, user, ok in server.recorder.logins] == [(server.username, True)]
    assert not cli.db.exists()


def test_test_team_sends_to_the_addresses_in_the_setting(cli: Cli) -> None:
    cli.recipients(_audience(3))
    result = _send(cli, "--test-team", NEWSLETTER_TEST_RECIPIENTS="me@example.org, collega@example.com")
    assert result.returncode == 0, result.stderr
    assert sorted(m.rcpts for m in cli.server.recorder.messages) == [
        ("collega@example.com",),
        ("me@example.org",),
    ]
    assert all(m.subject.startswith("[TEST] ") for m in cli.server.recorder.messages)
    assert not cli.db.exists()


def test_test_team_without_the_setting_says_which_to_set(cli: Cli) -> None:
    cli.recipients(_audience(3))
    result = _send(cli, "--test-team")
    assert result.returncode == 2
    assert "NEWSLETTER_TEST_RECIPIENTS" in result.stderr
    assert cli.server.recorder.connections == 0


def test_live_send_without_yes_and_without_a_terminal_exits_2_sending_nothing(cli: Cli) -> None:
    cli.recipients(_audience(3))
    result = _send(cli)
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert cli.server.recorder.connections == 0
    assert not cli.db.exists()


def test_live_send_with_yes_sends_to_everyone_and_status_shows_the_counts(cli: Cli) -> None:
    emails = _audience(4)
    cli.recipients(emails)
    result = _send(cli, "--yes")
    assert result.returncode == 0, result.stderr
    assert cli.server.recorder.copies() == Counter(emails)
    assert "this run: 4 sent, 0 failed" in result.stdout
    assert {r.status for r in cli.rows()} == {"sent"}

    overview = cli.run("status")
    assert overview.returncode == 0, overview.stderr
    row = _table_row(overview.stdout, "2026-01")
    assert (row[1], row[3]) == ("sent", "4/4")
    one = cli.run("status", ISSUE)
    assert one.returncode == 0, one.stderr
    assert _table_row(one.stdout, "2026-01")[:7] == ["2026-01", "4", "4", "0", "0", "0", "0"]

    # Run again: nobody gets a second copy.
    again = _send(cli, "--yes")
    assert again.returncode == 0, again.stderr
    assert "this run: 0 sent" in again.stdout
    assert cli.server.recorder.copies() == Counter(emails)

    # A test send afterwards goes out, and the ledger does not hear of it.
    before = cli.rows()
    test = _send(cli, "--test", "me@example.org")
    assert test.returncode == 0, test.stderr
    assert cli.server.recorder.copies() == Counter([*emails, "me@example.org"])
    assert cli.rows() == before


def test_refused_recipient_exits_1_and_status_failed_prints_it_as_csv(cli: Cli) -> None:
    emails = _audience(3)
    cli.recipients(emails)
    cli.server.recorder.fail_rcpt(emails[1], 550, "5.1.1 <lid002@example.org>: User unknown", times=None)
    result = _send(cli, "--yes")
    assert result.returncode == 1
    assert "failed: lid002@example.org: 550 5.1.1 <lid002@example.org>: User unknown" in result.stdout

    failed = cli.run("status", "--failed")
    assert failed.returncode == 0, failed.stderr
    rows = list(csv.reader(io.StringIO(failed.stdout)))
    assert rows == [
        ["issue", "email", "status", "attempts", "reply"],
        ["2026-01", "lid002@example.org", "failed", "1", "550 5.1.1 <lid002@example.org>: User unknown"],
    ]
    one = cli.run("status", ISSUE)
    assert "2026-01: failed: lid002@example.org: 550" in one.stdout

    # Final: the next run sends nobody anything and still reports the failure.
    again = _send(cli, "--yes")
    assert again.returncode == 1
    assert cli.server.recorder.copies() == Counter([emails[0], emails[2]])


def test_status_before_any_send_says_so(cli: Cli) -> None:
    result = cli.run("status", ISSUE)
    assert result.returncode == 0
    assert "nothing has been sent yet" in result.stdout
    failed = cli.run("status", "--failed")
    assert (failed.returncode, failed.stdout.splitlines()[0]) == (
        0,
        "nothing has been sent yet (no ledger at newsletter.sqlite3)",
    )
    assert not cli.db.exists()


def test_suppressed_address_is_not_sent_to(cli: Cli) -> None:
    emails = _audience(3)
    cli.recipients(emails)
    added = cli.run("suppress", "add", "LID003@example.org", "--reason", "unsubscribed")
    assert added.returncode == 0, added.stderr
    listed = cli.run("suppress", "list", "--csv")
    assert list(csv.reader(io.StringIO(listed.stdout)))[1][:2] == ["LID003@example.org", "unsubscribed"]
    result = _send(cli, "--yes")
    assert result.returncode == 0, result.stderr
    assert cli.server.recorder.copies() == Counter(emails[:2])
    removed = cli.run("suppress", "remove", "lid003@example.org")
    assert "removed" in removed.stdout


@pytest.mark.parametrize(
    ("args", "settings", "message"),
    [
        (("--recipients", "missing.csv", "--yes"), {}, "no such recipients file"),
        (("--recipients", "leden.csv", "--yes"), {"NEWSLETTER_RATE": "fast"}, "NEWSLETTER_RATE"),
        (("--recipients", "leden.csv", "--yes"), {"NEWSLETTER_SECRET": ""}, "NEWSLETTER_SECRET"),
        (("--recipients", "leden.csv", "--test", "not-an-address"), {}, "not a valid address"),
        (("--recipients", "no-email-column.csv", "--yes"), {}, "no email column"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(
    cli: Cli, args: tuple[str, ...], settings: dict[str, str], message: str
) -> None:
    cli.recipients(_audience(2))
    (cli.folder / "no-email-column.csv").write_text("naam;gemeente\nAn;Genk\n", encoding="utf-8")
    result = cli.run("send", ISSUE, *args, **settings)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert cli.server.recorder.connections == 0


def test_wrong_password_exits_2_naming_the_setting(
    project_dir: Path, start_server: Callable[..., SMTPServer]
) -> None:
    server = start_server("starttls")
    cli = Cli(project_dir, server, SECRET, {"NEWSLETTER_SMTP_PASSWORD": "wrong-one"})
    cli.recipients(_audience(2))
    result = _send(cli, "--yes")
    assert result.returncode == 2
    assert "NEWSLETTER_SMTP_PASSWORD" in result.stderr
    assert "wrong-one" not in result.stderr + result.stdout
    assert server.recorder.arrivals == []
    assert {r.status for r in cli.rows()} == {"pending"}


def test_untrusted_certificate_exits_2(project_dir: Path, start_server: Callable[..., SMTPServer]) -> None:
    server = start_server("starttls")
    server.ca_file = None  # the client is not told about the test CA
    cli = Cli(project_dir, server, SECRET)
    cli.recipients(_audience(1))
    result = _send(cli, "--yes")
    assert result.returncode == 2
    assert "certificate is not trusted" in result.stderr
    assert server.recorder.logins == []


def test_first_name_with_a_line_break_still_gets_the_issue_and_cannot_inject_headers(cli: Cli) -> None:
    (cli.folder / "leden.csv").write_text(
        'email;voornaam\r\nan@example.org;An\r\nevil@example.org;"Eve\r\nBcc: everyone@example.net"\r\n'
        "bert@example.org;Bert\r\n",
        encoding="utf-8",
    )
    result = _send(cli, "--yes")
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stderr
    assert cli.server.recorder.copies() == Counter(["an@example.org", "evil@example.org", "bert@example.org"])
    (eve,) = [a for a in cli.server.recorder.messages if a.rcpts == ("evil@example.org",)]
    head = eve.data.split(b"\r\n\r\n", 1)[0]
    assert not [line for line in head.split(b"\r\n") if line.lower().startswith(b"bcc")]
    assert message.parse(eve.data)["To"].addresses[0].display_name == "Eve Bcc: everyone@example.net"


def test_subject_with_a_newline_is_refused_by_validate_and_send(cli: Cli) -> None:
    original = (cli.folder / ISSUE).read_text(encoding="utf-8")
    bad = cli.folder / "issues" / "2026-02.yaml"
    bad.write_text(
        original.replace(f'subject: "{SUBJECT}"', 'subject: "Nieuws\\nBcc: everyone@example.net"'),
        encoding="utf-8",
    )
    result = cli.run("validate", str(bad.relative_to(cli.folder)))
    assert result.returncode == 2
    assert "2026-02.yaml:3: subject: " in result.stderr
    assert "must be one line" in result.stderr
    cli.recipients(_audience(1))
    send = cli.run("send", "issues/2026-02.yaml", "--recipients", "leden.csv", "--yes")
    assert send.returncode == 2
    assert cli.server.recorder.connections == 0


def test_rerun_after_kill_sends_only_the_rest(cli: Cli, log: IO[str]) -> None:
    emails = _audience(200)
    cli.recipients(emails)
    recorder = cli.server.recorder
    settings = {"NEWSLETTER_RATE": "50/second", "NEWSLETTER_CONNECTIONS": "2"}
    proc = cli.start("send", ISSUE, "--recipients", "leden.csv", "--yes", output=log, **settings)

    # Killed while the 30th message has arrived and its reply has not gone out yet.
    def kill_at_30(arrival: Arrival) -> None:
        if arrival.number == 30:
            os.kill(proc.pid, signal.SIGKILL)

    recorder.on_arrival = kill_at_30
    recorder.drop_after_data(nth=30, keep=True)
    try:
        assert wait(proc) == -signal.SIGKILL, read(log)
    finally:
        proc.__exit__(None, None, None)
    in_doubt = recorder.arrivals[29].rcpts[0]
    before = len(recorder.messages)
    assert 30 <= before < 200
    assert {r.status for r in cli.rows() if r.recipient.email == in_doubt} == {"sending"}

    result = _send(cli, "--yes", **{**settings, "NEWSLETTER_RATE": "200/second"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recovered from an interrupted run" in result.stdout

    rows = {r.recipient.email: r for r in cli.rows()}
    assert {r.status for r in rows.values()} == {"sent"}
    copies = recorder.copies()
    assert set(copies) == set(emails)
    for email, row in rows.items():
        if row.ambiguous == 0:
            assert copies[email] == 1, email
        else:
            assert 1 <= copies[email] <= 2, email
        assert set(recorder.message_ids(email)) == {row.message_id}, email
    assert copies[in_doubt] == 2
    assert rows[in_doubt].ambiguous == 1


def test_two_sends_of_the_same_issue_at_once_one_refuses_and_everyone_gets_it_once(
    cli: Cli, tmp_path: Path
) -> None:
    emails = _audience(10)
    cli.recipients(emails)
    recorder = cli.server.recorder
    # Nobody hears back from the server until one of the two has given up: their runs overlap.
    recorder.hold()
    with (tmp_path / "a.log").open("w+") as log_a, (tmp_path / "b.log").open("w+") as log_b:
        args = ("send", ISSUE, "--recipients", "leden.csv", "--yes")
        with cli.start(*args, output=log_a) as a, cli.start(*args, output=log_b) as b:
            deadline = time.monotonic() + 30
            while a.poll() is None and b.poll() is None:
                assert time.monotonic() < deadline, "neither send gave up"
                time.sleep(0.02)
            loser, winner = (a, b) if a.returncode is not None else (b, a)
            loser_log = read(log_a if loser is a else log_b)
            recorder.release()
            assert wait(winner) == 0, read(log_a if winner is a else log_b)
        assert loser.returncode == 2, loser_log
        assert "being sent by another process right now; nothing was sent" in loser_log
    assert recorder.copies() == Counter(emails)
    assert recorder.connections == 1


def test_rate_limit_holds_in_every_one_second_window_at_the_server(cli: Cli) -> None:
    emails = _audience(32)
    cli.recipients(emails)
    result = _send(cli, "--yes", NEWSLETTER_RATE="10/second", NEWSLETTER_CONNECTIONS="2")
    assert result.returncode == 0, result.stdout + result.stderr
    recorder = cli.server.recorder
    assert recorder.copies() == Counter(emails)
    assert recorder.connections == 2
    arrivals = sorted(a.at for a in recorder.messages)
    # At most 10 in any window of one second: the 1st and the 11th of any run are a second apart.
    closest = min(later - first for first, later in zip(arrivals, arrivals[10:], strict=False))
    assert closest >= 1.0, f"11 messages within {closest:.3f} s"
