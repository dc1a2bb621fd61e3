"""`newsletter dispatch`, the cron entry: every ready issue whose send_at has passed goes to everyone
exactly once, across runs, kills, limits, edits and a second dispatch started at the same moment.

Against a real SMTP server on 127.0.0.1 (tests/smtp_server.py) and a real ledger file: the library
(`dispatch.dispatch` with `now=`) in process, and the command in a subprocess with `--now`. No test
waits for a send time to come.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from command import Cli, logged, output, table_rows
from conftest import audience_csv, edit, ledger_rows
from issue_files import copy_sample

from newsletter.composing.message import Envelope
from newsletter.delivering.dispatch import DispatchConfig, DispatchResult, dispatch
from newsletter.delivering.loop import Limiter, Options
from newsletter.ledger import Ledger
from newsletter.rendering.project import Project
from newsletter.sending.smtp import Security, SMTPSender

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

BRUSSELS = ZoneInfo("Europe/Brussels")
SEND_AT = "2026-01-20T09:00"  # Brussels time, 08:00 UTC
T0 = dt.datetime(2026, 1, 20, 9, 0, tzinfo=BRUSSELS)
SENDER = "POM Limburg <nieuwsbrief@example.org>"
SECRET = "dispatch-test-secret"
ENVELOPE = Envelope(
    sender=SENDER,
    unsubscribe_url="https://example.org/uitschrijven?token={token}",
    secret=SECRET,
)
OLD_TITLE = "Spaas Kaarsen halveert zijn CO₂-uitstoot door over te stappen op het spoor"
NEW_TITLE = "Spaas Kaarsen rijdt voortaan over het spoor"
STAFF = "redactie@example.org"


def audience(n: int, prefix: str = "lid") -> list[str]:
    """n addresses, alternately at example.org and example.com."""
    return [f"{prefix}{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


def write_audience(folder: Path, emails: list[str], name: str = "leden.csv") -> None:
    audience_csv(folder / "issues" / name, emails)


def write_issue(
    folder: Path,
    slug: str = "2026-01",
    *,
    status: str = "ready",
    send_at: str | None = SEND_AT,
    audience_file: str = "leden.csv",
    title: str = OLD_TITLE,
    mistake: bool = False,
) -> Path:
    """The sample issue as issues/<slug>.yaml with the given status, send_at and audience."""
    path = copy_sample(folder, slug, status=status, send_at=send_at, audience=audience_file)
    edit(path, f"title: {OLD_TITLE}\n", f"title: {title}\n")
    if mistake:
        edit(path, "    kicker: Per rit", "    kicker_: Per rit")
    return path


def text_of(arrival: Arrival) -> str:
    message = email.message_from_bytes(arrival.data, policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def to(server: SMTPServer, address: str) -> list[Arrival]:
    return [a for a in server.recorder.messages if a.rcpts == (address,)]


# -- the library ---------------------------------------------------------------------------------


@dataclass
class Lib:
    """`dispatch.dispatch` in this process on the scratch project, sending to `server`."""

    folder: Path
    server: SMTPServer
    logged: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def config(self, **changes: Any) -> DispatchConfig:
        config = DispatchConfig(
            envelope=ENVELOPE,
            sender=SMTPSender("127.0.0.1", self.server.port, security=Security.NONE, timeout=20),
            options=Options(),
            limiter=Limiter(None),
            timezone=BRUSSELS,
        )
        for name, value in changes.items():
            setattr(config, name, value)
        return config

    def run(self, now: dt.datetime, **changes: Any) -> DispatchResult:
        self.logged.clear()
        ledger = Ledger(self.folder / "newsletter.sqlite3")
        try:
            return dispatch(
                Project(self.folder / "issues", self.folder / "layouts"),
                ledger,
                self.config(**changes),
                now=now,
                log=lambda event, data: self.logged.append((event, data)),
                sleep=lambda _: None,
            )
        finally:
            ledger.close()

    def events(self) -> list[str]:
        return [event for event, _ in self.logged]

    def messages(self, event: str) -> list[str]:
        return [str(data.get("message", "")) for e, data in self.logged if e == event]


@pytest.fixture
def lib(project_dir: Path, smtp_server: SMTPServer) -> Lib:
    return Lib(project_dir, smtp_server)


def test_nothing_is_sent_before_send_at_and_everyone_once_from_then_on(lib: Lib) -> None:
    emails = audience(5)
    write_audience(lib.folder, emails)
    write_issue(lib.folder)
    recorder = lib.server.recorder

    # 09:00 in Brussels is 08:00 UTC in January; `now` may be given in any zone.
    for early in (T0 - dt.timedelta(seconds=1), dt.datetime(2026, 1, 20, 7, 59, 59, tzinfo=dt.UTC)):
        result = lib.run(early)
        assert (result.exit_code, result.delivered, result.already_running) == (0, [], False)
        assert lib.logged == []
    assert recorder.connections == 0

    result = lib.run(dt.datetime(2026, 1, 20, 8, 0, tzinfo=dt.UTC))
    assert (result.exit_code, result.delivered) == (0, ["2026-01"])
    assert recorder.copies() == Counter(emails)
    assert lib.events()[0] == "start"
    assert lib.events()[-2:] == ["progress", "complete"]
    assert {r.status for r in ledger_rows(lib.folder)} == {"sent"}

    # Final: a later run has nothing to do.
    result = lib.run(T0 + dt.timedelta(days=3))
    assert (result.exit_code, result.delivered) == (0, [])
    assert lib.logged == []
    assert recorder.copies() == Counter(emails)


def test_a_draft_is_never_sent_even_when_its_send_at_has_passed(lib: Lib) -> None:
    write_audience(lib.folder, audience(3))
    write_issue(lib.folder, status="draft")
    write_issue(lib.folder, "2026-02", status="draft", send_at=None)
    result = lib.run(T0 + dt.timedelta(days=30))
    assert (result.exit_code, result.delivered) == (0, [])
    assert lib.logged == []
    assert lib.server.recorder.connections == 0
    assert ledger_rows(lib.folder) == []


def test_a_dispatch_while_another_holds_the_lock_does_nothing_and_exits_0(lib: Lib) -> None:
    write_audience(lib.folder, audience(3))
    write_issue(lib.folder)
    other = Ledger(lib.folder / "newsletter.sqlite3")
    try:
        with other.lock("dispatch") as mine:
            assert mine
            result = lib.run(T0)
    finally:
        other.close()
    assert (result.exit_code, result.already_running, result.delivered) == (0, True, [])
    assert lib.events() == ["busy"]
    assert "another dispatch is running" in lib.messages("busy")[0]
    assert lib.server.recorder.connections == 0

    # The lock is gone with its holder: the next run delivers.
    assert lib.run(T0).exit_code == 0
    assert len(lib.server.recorder.messages) == 3


def test_an_issue_someone_is_sending_by_hand_is_left_to_them_and_exits_0(lib: Lib) -> None:
    write_audience(lib.folder, audience(3))
    write_issue(lib.folder)
    other = Ledger(lib.folder / "newsletter.sqlite3")
    try:
        with other.lock("issue-2026-01") as mine:
            assert mine
            result = lib.run(T0)
    finally:
        other.close()
    assert result.exit_code == 0
    assert "busy" in lib.events()
    assert "being sent by another process" in lib.messages("busy")[0]
    assert lib.server.recorder.connections == 0
    assert lib.run(T0).exit_code == 0
    assert len(lib.server.recorder.messages) == 3


def test_an_issue_edited_after_its_delivery_started_is_not_resent_and_the_log_says_so(lib: Lib) -> None:
    emails = audience(5)
    write_audience(lib.folder, emails)
    write_issue(lib.folder)
    recorder = lib.server.recorder

    first = lib.run(T0, max_messages=2)
    assert first.exit_code == 1
    assert recorder.copies() == Counter(emails[:2])
    assert not lib.messages("warning")

    write_issue(lib.folder, title=NEW_TITLE)
    second = lib.run(T0 + dt.timedelta(hours=1))
    assert second.exit_code == 0
    (warning,) = lib.messages("warning")
    assert "2026-01 changed since its delivery started" in warning
    assert "resume" in lib.events()
    assert recorder.copies() == Counter(emails)
    texts = {a.rcpts[0]: text_of(a) for a in recorder.messages}
    for address in emails[:2]:
        assert OLD_TITLE in texts[address]
    for address in emails[2:]:
        assert NEW_TITLE in texts[address]
        assert OLD_TITLE not in texts[address]


def test_max_used_up_exactly_by_a_complete_delivery_exits_0(lib: Lib) -> None:
    write_audience(lib.folder, audience(3))
    write_issue(lib.folder)
    write_issue(lib.folder, "2026-02", status="draft")  # later in the folder, never sent
    result = lib.run(T0, max_messages=3)
    assert (result.exit_code, result.delivered) == (0, ["2026-01"])
    assert "max" not in lib.events()
    assert len(lib.server.recorder.messages) == 3


def test_max_is_shared_by_the_issues_of_one_run(lib: Lib) -> None:
    first, second = audience(2, "jan"), audience(3, "feb")
    write_audience(lib.folder, first, "januari.csv")
    write_audience(lib.folder, second, "februari.csv")
    write_issue(lib.folder, "2026-01", audience_file="januari.csv")
    write_issue(lib.folder, "2026-02", audience_file="februari.csv")
    write_issue(lib.folder, "2026-03", audience_file="februari.csv", send_at="2026-03-17T09:00")

    result = lib.run(T0, max_messages=1)
    assert (result.exit_code, result.delivered) == (1, ["2026-01"])
    assert ("max", "2026-02") in [(e, d.get("issue")) for e, d in lib.logged]
    assert lib.server.recorder.copies() == Counter(first[:1])

    result = lib.run(T0, max_messages=3)
    assert (result.exit_code, result.delivered) == (1, ["2026-01", "2026-02"])
    assert lib.server.recorder.copies() == Counter(first + second[:2])

    result = lib.run(T0)
    assert (result.exit_code, result.delivered) == (0, ["2026-02"])
    assert lib.server.recorder.copies() == Counter(first + second)


def test_times_recorded_in_a_run_across_the_end_of_summer_time_are_not_an_hour_off(lib: Lib) -> None:
    write_audience(lib.folder, audience(2))
    write_issue(lib.folder, send_at="2026-10-25T02:00")
    # A moment before Brussels turns 03:00 CEST back to 02:00 CET, i.e. 00:59:59.9999 UTC.
    now = dt.datetime(2026, 10, 25, 2, 59, 59, 999_900, tzinfo=BRUSSELS)
    assert lib.run(now).exit_code == 0
    ledger = Ledger(lib.folder / "newsletter.sqlite3")
    try:
        delivery = ledger.delivery("2026-01")
        recorded = [r.sent_at for r in ledger.rows("2026-01")]
    finally:
        ledger.close()
    assert delivery is not None
    assert delivery.finished_at is not None
    start = now.astimezone(dt.UTC)
    for moment in [
        delivery.started_at,
        delivery.finished_at,
        *(dt.datetime.fromisoformat(str(at)) for at in recorded),
    ]:
        assert start <= moment < start + dt.timedelta(minutes=10)


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def test_command_says_nothing_is_due_before_send_at_then_sends_everyone_once(cli: Cli) -> None:
    emails = audience(4)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    recorder = cli.server.recorder

    early = cli.dispatch("2026-01-20T08:59")
    assert early.returncode == 0, output(early)
    assert early.stdout.rstrip().endswith("idle  nothing is due")
    assert early.stderr == ""
    assert recorder.connections == 0

    due = cli.dispatch("2026-01-20T09:00")
    assert due.returncode == 0, output(due)
    assert recorder.copies() == Counter(emails)
    assert logged(due, "start")[0].endswith("start 2026-01 recipients=4")
    assert len(logged(due, "sent")) == 4
    assert logged(due, "complete")[0].endswith(
        "complete 2026-01 audience=4 sent=4 pending=0 unknown=0 failed=0 suppressed=0"
    )
    assert "nothing is due" not in due.stdout

    again = cli.dispatch("2026-01-20T09:05")
    assert again.returncode == 0, output(again)
    assert "nothing is due" in again.stdout
    assert logged(again, "sent") == []
    assert recorder.copies() == Counter(emails)


def test_a_killed_dispatch_run_again_gets_everyone_the_issue_exactly_once(cli: Cli, tmp_path: Path) -> None:
    emails = audience(150)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    recorder = cli.server.recorder
    victim: list[subprocess.Popen[str]] = []

    # Killed while the 20th message has arrived and the server has not answered it yet.
    def kill_at_20(arrival: Arrival) -> None:
        if arrival.number == 20:
            os.kill(victim[0].pid, signal.SIGKILL)

    recorder.on_arrival = kill_at_20
    with (tmp_path / "killed.log").open("w+", encoding="utf-8") as log:
        with cli.start("dispatch", "--now", SEND_AT, output=log, NEWSLETTER_RATE="40/second") as proc:
            victim.append(proc)
            try:
                code = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
        log.seek(0)
        assert code == -signal.SIGKILL, log.read()
    recorder.on_arrival = None
    before = len(recorder.messages)
    assert 20 <= before < 150
    in_doubt = recorder.arrivals[19].rcpts[0]
    assert {r.recipient.email: r.status for r in cli.rows()}[in_doubt] == "sending"

    again = cli.dispatch("2026-01-20T09:10")
    assert again.returncode == 0, output(again)
    assert logged(again, "resume")[0].endswith("resume 2026-01 recipients=150")
    assert logged(again, "complete")

    ledger_rows = {r.recipient.email: r for r in cli.rows()}
    assert {r.status for r in ledger_rows.values()} == {"sent"}
    copies = recorder.copies()
    assert set(copies) == set(emails)
    for address, row in ledger_rows.items():
        # Exactly once, unless the message was in doubt: then at most twice, the same message.
        assert copies[address] == 1 or (row.ambiguous == 1 and copies[address] == 2), address
        assert set(recorder.message_ids(address)) == {row.message_id}, address
    assert (copies[in_doubt], ledger_rows[in_doubt].ambiguous) == (2, 1)


def test_two_dispatches_started_together_one_delivers_the_other_says_so_and_exits_0(
    cli: Cli, tmp_path: Path
) -> None:
    emails = audience(10)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    recorder = cli.server.recorder
    # The server answers no message until one of the two has given up: their runs overlap.
    recorder.hold()
    args = ("dispatch", "--now", "2026-01-20T09:01")
    with (
        (tmp_path / "a.log").open("w+", encoding="utf-8") as log_a,
        (tmp_path / "b.log").open("w+", encoding="utf-8") as log_b,
    ):
        with cli.start(*args, output=log_a) as a, cli.start(*args, output=log_b) as b:
            try:
                deadline = time.monotonic() + 30
                while a.poll() is None and b.poll() is None:
                    assert time.monotonic() < deadline, "neither dispatch gave up"
                    time.sleep(0.02)
                recorder.release()
                codes = (a.wait(timeout=30), b.wait(timeout=30))
            finally:
                recorder.release()
                for proc in (a, b):
                    if proc.poll() is None:
                        proc.kill()
        logs = []
        for log in (log_a, log_b):
            log.seek(0)
            logs.append(log.read())
    assert codes == (0, 0), logs
    busy = [text for text in logs if "another dispatch is running" in text]
    assert len(busy) == 1, logs
    assert "busy" in busy[0]
    assert " sent " not in busy[0]
    assert "nothing is due" not in busy[0]
    (winner,) = [text for text in logs if text is not busy[0]]
    assert "complete 2026-01" in winner
    assert recorder.copies() == Counter(emails)
    assert recorder.connections == 1


def test_daily_limit_splits_a_delivery_over_two_days(cli: Cli) -> None:
    emails = audience(5)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    recorder = cli.server.recorder
    cap = {"NEWSLETTER_DAILY_LIMIT": "3"}

    day_1 = cli.dispatch("2026-01-20T09:00", **cap)
    assert day_1.returncode == 1, output(day_1)
    assert recorder.copies() == Counter(emails[:3])
    (progress,) = logged(day_1, "progress")
    assert "sent=3 pending=2" in progress
    assert "stopped=daily limit" in progress
    assert not logged(day_1, "complete")

    later_that_day = cli.dispatch("2026-01-20T17:00", **cap)
    assert later_that_day.returncode == 1, output(later_that_day)
    assert "stopped=daily limit" in later_that_day.stdout
    assert len(recorder.messages) == 3

    day_2 = cli.dispatch("2026-01-21T10:00", **cap)  # 25 hours after the first
    assert day_2.returncode == 0, output(day_2)
    assert logged(day_2, "complete")
    assert recorder.copies() == Counter(emails)


def test_max_stops_after_n_messages_and_the_next_run_continues(cli: Cli) -> None:
    emails = audience(5)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    recorder = cli.server.recorder

    first = cli.dispatch(SEND_AT, "--max", "2")
    assert first.returncode == 1, output(first)
    assert recorder.copies() == Counter(emails[:2])
    assert "stopped=limit" in logged(first, "progress")[0]

    second = cli.dispatch(SEND_AT, "--max", "2")
    assert second.returncode == 1, output(second)
    assert recorder.copies() == Counter(emails[:4])

    rest = cli.dispatch(SEND_AT)
    assert rest.returncode == 0, output(rest)
    assert len(logged(rest, "sent")) == 1
    assert recorder.copies() == Counter(emails)


def test_report_goes_to_report_to_once_when_the_delivery_completes(cli: Cli) -> None:
    emails = audience(4)
    refused = emails[2]
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    server = cli.server
    server.recorder.fail_rcpt(refused, 550, f"5.1.1 <{refused}>: User unknown", times=None)
    settings = {"NEWSLETTER_REPORT_TO": STAFF}

    partial = cli.dispatch(SEND_AT, "--max", "2", **settings)
    assert partial.returncode == 1, output(partial)
    assert to(server, STAFF) == []
    assert not logged(partial, "report")

    done = cli.dispatch("2026-01-20T09:10", **settings)
    assert done.returncode == 1, output(done)  # one address failed
    assert logged(done, "failed")[0].endswith(
        f"failed 2026-01 {refused} reply=550 5.1.1 <{refused}>: User unknown"
    )
    assert logged(done, "report")[0].endswith(f"report 2026-01 to={STAFF}")
    (report,) = to(server, STAFF)
    assert report.number == len(server.recorder.arrivals)  # after the last message of the issue
    assert report.subject == "Newsletter 2026-01: 3 sent, 1 failed"
    assert report.mail_from == "nieuwsbrief@example.org"
    body = text_of(report)
    for line in ("Audience:  4", "Sent:      3", "Failed:    1", "Unknown:   0"):
        assert line in body, body
    assert f"- {refused}: 550 5.1.1 <{refused}>: User unknown" in body
    for address in set(emails) - {refused}:
        assert address not in body
    assert server.recorder.copies() == Counter([*set(emails) - {refused}, STAFF])

    again = cli.dispatch("2026-01-21T09:00", **settings)
    assert again.returncode == 0, output(again)
    assert "nothing is due" in again.stdout
    assert len(to(server, STAFF)) == 1


def test_a_ready_issue_with_a_mistake_exits_2_naming_it_a_draft_with_one_is_ignored(cli: Cli) -> None:
    emails = audience(2)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    write_issue(cli.folder, "2026-02", mistake=True)
    write_issue(cli.folder, "2026-03", status="draft", mistake=True)

    result = cli.dispatch(SEND_AT)
    assert result.returncode == 2, output(result)
    (line,) = logged(result, "invalid")
    assert " invalid 2026-02 issues/2026-02.yaml:" in line
    assert "kicker_" in line
    assert "2026-03" not in result.stdout
    assert "Traceback" not in result.stderr
    # The other issue still went out.
    assert cli.server.recorder.copies() == Counter(emails)

    write_issue(cli.folder, "2026-02", status="draft", mistake=True)
    drafts = cli.dispatch(SEND_AT)
    assert drafts.returncode == 0, output(drafts)
    assert "nothing is due" in drafts.stdout
    assert "invalid" not in drafts.stdout


def test_json_prints_one_json_object_per_line_with_an_event(cli: Cli) -> None:
    emails = audience(3)
    write_audience(cli.folder, emails)
    write_issue(cli.folder)
    cli.server.recorder.fail_rcpt(emails[1], 550, times=None)

    early = cli.dispatch("2026-01-20T08:00", "--json")
    assert early.returncode == 0, output(early)
    (idle,) = [json.loads(line) for line in early.stdout.splitlines()]
    assert (idle["event"], idle["message"]) == ("idle", "nothing is due")

    result = cli.dispatch(SEND_AT, "--json", NEWSLETTER_REPORT_TO=STAFF)
    assert result.returncode == 1, output(result)
    lines = result.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert all(isinstance(e, dict) and isinstance(e["event"], str) for e in events)
    assert all(dt.datetime.fromisoformat(e["time"]).tzinfo is not None for e in events)
    assert [e["event"] for e in events] == [
        "start",
        "sent",
        "failed",
        "sent",
        "progress",
        "complete",
        "report",
    ]
    assert events[0] == {"time": events[0]["time"], "event": "start", "issue": "2026-01", "recipients": 3}
    assert events[2]["email"] == emails[1]
    assert events[2]["reply"].startswith("550 ")
    assert {k: events[4][k] for k in ("sent", "failed", "pending", "stopped")} == {
        "sent": 2,
        "failed": 1,
        "pending": 0,
        "stopped": None,
    }


def test_status_lists_draft_scheduled_incomplete_and_sent_issues(cli: Cli) -> None:
    write_audience(cli.folder, audience(2, "jan"), "januari.csv")
    write_audience(cli.folder, audience(3, "feb"), "februari.csv")
    # 2026-01 is the sample issue as it is: a draft.
    write_issue(cli.folder, "2026-02", audience_file="januari.csv", send_at="2026-02-17T09:00")
    write_issue(cli.folder, "2026-03", audience_file="februari.csv", send_at="2026-03-17T09:00+01:00")
    write_issue(cli.folder, "2099-01", send_at="2099-01-06T09:30")

    # 2026-02 is a month past its send_at: within a window that long it is still sent.
    sent = cli.dispatch("2026-03-20T09:00", "--max", "3", NEWSLETTER_DISPATCH_WINDOW="60d")
    assert sent.returncode == 1, output(sent)
    assert len(cli.server.recorder.messages) == 3

    result = cli.run("status")
    assert result.returncode == 0, output(result)
    table = table_rows(result.stdout)
    header = table.pop("issue")
    assert header == ["issue", "state", "when", "sent", "pending", "unknown", "failed", "subject"]
    assert list(table) == ["2026-01", "2026-02", "2026-03", "2099-01"]
    assert table["2026-01"][1:7] == ["draft", "-", "", "", "", ""]
    assert table["2099-01"][1:7] == ["scheduled", "2099-01-06 09:30", "", "", "", ""]
    # Stopped by --max and no run holds it: not "sending", and dispatch goes on with it by itself.
    assert table["2026-03"][1:8] == [
        "incomplete",
        "2026-03-17 09:00",
        "1/3",
        "2",
        "0",
        "0",
        "dispatch continues it at its next run",
    ]
    assert table["2026-02"][1] == "sent"
    assert table["2026-02"][2].startswith("2026-03-20 09:")  # when it was finished
    assert table["2026-02"][3:7] == ["2/2", "0", "0", "0"]
    assert table["2026-02"][7].startswith("Limburg op de internationale kaart")
