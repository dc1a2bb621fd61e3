"""What keeps `newsletter dispatch` from doing harm when the ledger or the lock is not what it should be:
an old issue the ledger has no record of (a lost or restored ledger) is not sent but reported, another
organisation's issue under a slug the ledger holds is refused, and a dispatch lock held too long or by
a process that is gone is reported as possibly hung instead of "busy".

Against a real SMTP server on 127.0.0.1 and a real ledger file: the library (`dispatch.dispatch` with
`now=`) in process, and the command in a subprocess with `--now`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from command import Cli, logged, output, run, table_rows
from conftest import SUBJECT, audience_csv, copy_project, edit
from issue_files import copy_sample

from newsletter.composing.message import Envelope
from newsletter.delivering.dispatch import DispatchConfig, DispatchResult, dispatch
from newsletter.delivering.loop import Limiter, Options
from newsletter.ledger import Ledger
from newsletter.ledger.lock import lock_path
from newsletter.rendering.project import Project
from newsletter.sending.smtp import Security, SMTPSender

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

BRUSSELS = ZoneInfo("Europe/Brussels")
# Long ago on any machine that runs these tests: `status` compares with the real time.
SEND_AT = "2020-01-20T09:00"
T0 = dt.datetime(2020, 1, 20, 9, 0, tzinfo=BRUSSELS)
SECRET = "dispatch-guard-secret"
STAFF = "redactie@example.org"
ENVELOPE = Envelope(
    sender="POM Limburg <nieuwsbrief@example.org>",
    unsubscribe_url="https://example.org/uitschrijven?token={token}",
    secret=SECRET,
)


def audience(n: int, prefix: str = "lid") -> list[str]:
    return [f"{prefix}{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


def ready_issue(folder: Path, emails: list[str], slug: str = "2026-01", send_at: str = SEND_AT) -> Path:
    audience_csv(folder / "issues" / f"{slug}.csv", emails)
    return copy_sample(folder, slug, status="ready", send_at=send_at, audience=f"{slug}.csv")


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


# -- an old issue and the window ----------------------------------------------------------------------


def test_an_old_ready_issue_the_ledger_has_no_record_of_is_reported_not_sent_until_caught_up(
    cli: Cli,
) -> None:
    emails = audience(3)
    ready_issue(cli.folder, emails)
    recorder = cli.server.recorder

    late = cli.dispatch("2020-01-28T09:00")  # eight days after send_at
    assert late.returncode == 1, output(late)
    (line,) = logged(late, "skipped-old")
    assert line.endswith(
        "skipped-old 2026-01 send_at 2020-01-20 is more than 7 days ago and the ledger has no record of it: "
        "if it was never sent, run `newsletter dispatch --catch-up issues/2026-01.yaml`; if it was, "
        "restore the ledger backup"
    )
    assert "nothing is due" not in late.stdout
    assert recorder.connections == 0

    status = cli.run("status")
    assert status.returncode == 0, output(status)
    row = table_rows(status.stdout)["2026-01"]
    assert (row[1], row[2]) == ("missed", "2020-01-20 09:00")
    assert row[7].startswith("missed: more than 7 days past")

    caught_up = cli.dispatch("2020-01-28T09:00", "--catch-up", "issues/2026-01.yaml")
    assert caught_up.returncode == 0, output(caught_up)
    assert logged(caught_up, "start")
    assert recorder.copies() == Counter(emails)

    # From now on the ledger knows it: the next run has nothing to do and says nothing of it.
    after = cli.dispatch("2020-02-20T09:00")
    assert after.returncode == 0, output(after)
    assert after.stdout.rstrip().endswith("idle  nothing is due")
    assert table_rows(cli.run("status").stdout)["2026-01"][1] == "sent"
    assert recorder.copies() == Counter(emails)


def test_a_started_delivery_is_resumed_however_long_ago_its_send_at_was(cli: Cli) -> None:
    emails = audience(5)
    ready_issue(cli.folder, emails)
    first = cli.dispatch(SEND_AT, "--max", "2")
    assert first.returncode == 1, output(first)
    much_later = cli.dispatch("2020-03-01T09:00")
    assert much_later.returncode == 0, output(much_later)
    assert logged(much_later, "resume")
    assert not logged(much_later, "skipped-old")
    assert cli.server.recorder.copies() == Counter(emails)


def test_the_window_can_be_hours_and_a_wrongly_written_one_exits_2(cli: Cli) -> None:
    emails = audience(2)
    ready_issue(cli.folder, emails)
    hours = {"NEWSLETTER_DISPATCH_WINDOW": "48h"}
    late = cli.dispatch("2020-01-23T09:00", **hours)
    assert late.returncode == 1, output(late)
    assert "send_at 2020-01-20 is more than 2 days ago" in logged(late, "skipped-old")[0]
    in_time = cli.dispatch("2020-01-22T08:00", **hours)
    assert in_time.returncode == 0, output(in_time)
    assert cli.server.recorder.copies() == Counter(emails)

    for command in (("dispatch", "--now", SEND_AT), ("status",)):
        wrong = cli.run(*command, NEWSLETTER_DISPATCH_WINDOW="7")
        assert wrong.returncode == 2, output(wrong)
        assert wrong.stderr.splitlines() == [
            "error: NEWSLETTER_DISPATCH_WINDOW='7': write a number and a unit, d, h or m: e.g. 7d, 48h or 90m"
        ]


def test_catch_up_of_a_file_that_is_not_an_issue_file_exits_2_sending_nothing(cli: Cli) -> None:
    ready_issue(cli.folder, audience(2))
    result = cli.dispatch("2020-01-28T09:00", "--catch-up", "issues/2026-01.csv")
    assert result.returncode == 2, output(result)
    assert result.stderr.splitlines() == [
        "error: issues/2026-01.csv: --catch-up: not an issue file in issues/"
    ]
    assert cli.server.recorder.connections == 0


def test_catch_up_of_a_draft_or_a_future_issue_says_why_nothing_is_sent(cli: Cli) -> None:
    emails = audience(2)
    audience_csv(cli.folder / "issues" / "leden.csv", emails)
    copy_sample(cli.folder, "2026-01", status="draft", send_at=SEND_AT, audience="leden.csv")
    copy_sample(cli.folder, "2026-02", status="ready", send_at="2020-02-20T09:00", audience="leden.csv")
    result = cli.dispatch(
        "2020-01-28T09:00", "--catch-up", "issues/2026-01.yaml", "--catch-up", "issues/2026-02.yaml"
    )
    assert result.returncode == 1, output(result)
    draft, future = logged(result, "catch-up")
    assert draft.endswith(
        "--catch-up issues/2026-01.yaml: not sent, it is a draft: set `status: ready` to send it"
    )
    assert "--catch-up issues/2026-02.yaml: not sent, its send_at (2020-02-20" in future
    assert "has not come yet" in future
    assert cli.server.recorder.connections == 0


def test_another_organisations_issue_under_a_slug_the_ledger_holds_is_refused_and_the_rest_goes(
    cli: Cli, tmp_path: Path
) -> None:
    ours = audience(2)
    ready_issue(cli.folder, ours)
    assert cli.dispatch(SEND_AT).returncode == 0
    other = tmp_path / "andere-organisatie"
    copy_project(other)
    (other / "issues" / "2026-01.yaml").unlink()
    theirs, february = audience(2, "genk"), audience(2, "feb")
    edit(ready_issue(other, theirs), f'subject: "{SUBJECT}"', 'subject: "Nieuws uit Genk"')
    ready_issue(other, february, "2026-02")
    result = run("dispatch", "--now", SEND_AT, cwd=other, env=cli.env(NEWSLETTER_DB=str(cli.db)))
    assert result.returncode == 2, output(result)
    (line,) = logged(result, "error")
    assert " error 2026-01 the ledger already holds a delivery of 2026-01 from " in line
    assert "rename the file, e.g. 2026-01-b.yaml" in line
    assert cli.server.recorder.copies() == Counter(ours + february)


# -- another dispatch holds the lock ----------------------------------------------------------------


@dataclass
class Lib:
    """`dispatch.dispatch` in this process on the scratch project, with the lock held by `holder`."""

    folder: Path
    server: SMTPServer
    logged: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run(self, now: dt.datetime = T0, **changes: Any) -> DispatchResult:
        config = DispatchConfig(
            envelope=ENVELOPE,
            sender=SMTPSender("127.0.0.1", self.server.port, security=Security.NONE, timeout=20),
            options=Options(),
            limiter=Limiter(None),
            timezone=BRUSSELS,
        )
        for name, value in changes.items():
            setattr(config, name, value)
        self.logged.clear()
        ledger = Ledger(self.folder / "newsletter.sqlite3")
        try:
            return dispatch(
                Project(self.folder / "issues", self.folder / "layouts"),
                ledger,
                config,
                now=now,
                log=lambda event, data: self.logged.append((event, data)),
                sleep=lambda _: None,
            )
        finally:
            ledger.close()

    def events(self) -> list[str]:
        return [event for event, _ in self.logged]

    def message(self, event: str) -> str:
        (text,) = [str(data.get("message", "")) for e, data in self.logged if e == event]
        return text


@pytest.fixture
def lib(project_dir: Path, smtp_server: SMTPServer) -> Lib:
    return Lib(project_dir, smtp_server)


@pytest.fixture
def held(project_dir: Path) -> Iterator[Path]:
    """The dispatch lock, held by this process while the test runs; yields the lock file."""
    ledger = Ledger(project_dir / "newsletter.sqlite3")
    try:
        with ledger.lock("dispatch") as mine:
            assert mine
            yield lock_path(ledger.path, "dispatch")
    finally:
        ledger.close()


def claim(lock_file: Path, pid: int, ago: dt.timedelta) -> None:
    """Make the lock file say that `pid` has held it since `ago`, as an older holder's would."""
    since = (dt.datetime.now(dt.UTC) - ago).isoformat(timespec="seconds")
    lock_file.write_text(f"{pid}\n{since}\n{os.uname().nodename}\n", encoding="utf-8")


def alerts(server: SMTPServer) -> list[Arrival]:
    return [a for a in server.recorder.messages if a.rcpts == (STAFF,)]


SINCE = r"since (\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d)"


def test_a_fresh_dispatch_lock_is_busy_naming_its_holder_and_exits_0(lib: Lib, held: Path) -> None:
    ready_issue(lib.folder, audience(2))
    result = lib.run(report_to=[STAFF])
    assert (result.exit_code, result.already_running) == (0, True)
    assert lib.events() == ["busy"]
    assert re.fullmatch(
        rf"another dispatch is running \(pid {os.getpid()} {SINCE}\); this one does nothing",
        lib.message("busy"),
    )
    assert lib.server.recorder.connections == 0


def test_a_dispatch_lock_held_longer_than_stale_after_is_an_error_and_mailed_once(
    lib: Lib, held: Path
) -> None:
    ready_issue(lib.folder, audience(2))
    pid = os.getpid()
    claim(held, pid, dt.timedelta(hours=7))

    within = lib.run(report_to=[STAFF])  # the default allows 12 hours
    assert (within.exit_code, lib.events()) == (0, ["busy"])

    stale = lib.run(report_to=[STAFF], stale_after=dt.timedelta(hours=6))
    assert (stale.exit_code, stale.already_running) == (1, True)
    assert lib.events() == ["error", "alert"]
    assert re.fullmatch(
        rf"dispatch has been running {SINCE} \(pid {pid}, 7 h\): it may be hung; check it with `ps {pid}`, "
        rf"stop it with `kill {pid}`; the next run resumes where it stopped\. "
        r"\(NEWSLETTER_LOCK_STALE_AFTER is 6 hours\)",
        lib.message("error"),
    ), lib.message("error")
    (alert,) = alerts(lib.server)
    assert alert.subject == f"Newsletter dispatch may be hung (pid {pid})"
    body = email.message_from_bytes(alert.data, policy=email.policy.default).get_body(("plain",))
    assert body is not None
    assert f"check it with `ps {pid}`" in str(body.get_content())

    # Cron runs again five minutes later: the same error and exit code, no second mail.
    again = lib.run(report_to=[STAFF], stale_after=dt.timedelta(hours=6))
    assert (again.exit_code, lib.events()) == (1, ["error"])
    assert len(alerts(lib.server)) == 1
    assert len(lib.server.recorder.messages) == 1  # the alert, no newsletter


def test_a_dispatch_lock_whose_process_is_gone_is_an_error_and_a_failed_alert_is_not_fatal(
    lib: Lib, held: Path
) -> None:
    ready_issue(lib.folder, audience(2))
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = int(done.stdout)
    claim(held, gone, dt.timedelta(minutes=10))
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unreachable = SMTPSender("127.0.0.1", closed, security=Security.NONE, timeout=5)

    result = lib.run(report_to=[STAFF], sender=unreachable)
    assert result.exit_code == 1
    assert lib.events() == ["error", "alert-failed"]
    assert re.fullmatch(
        rf"the dispatch lock is held, but its process {gone} {SINCE} is not running on this machine: another "
        rf"machine or container holds {re.escape(str(held))}, or a child of that process does; find it with "
        rf"`fuser -v {re.escape(str(held))}`\. Until it lets go, no dispatch sends anything",
        lib.message("error"),
    ), lib.message("error")
    assert lib.server.recorder.connections == 0


HUNG = """
import datetime as dt, os, sys, time
from pathlib import Path
from newsletter.ledger import Ledger
from newsletter.ledger.lock import lock_path
ledger = Ledger(Path(sys.argv[1]))
with ledger.lock("dispatch") as mine:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=int(sys.argv[2]))).isoformat(timespec="seconds")
    lock_path(ledger.path, "dispatch").write_text(f"{os.getpid()}\\n{since}\\n{os.uname().nodename}\\n")
    print("locked" if mine else "refused", flush=True)
    time.sleep(120)
"""


def test_a_hung_dispatch_is_reported_by_the_next_one_with_exit_1_and_a_mail(cli: Cli) -> None:
    ready_issue(cli.folder, audience(2))
    with subprocess.Popen(
        [sys.executable, "-c", HUNG, str(cli.db), "3"], stdout=subprocess.PIPE, text=True
    ) as hung:
        try:
            assert hung.stdout is not None
            assert hung.stdout.readline().strip() == "locked"
            busy = cli.dispatch(SEND_AT, NEWSLETTER_REPORT_TO=STAFF)
            assert busy.returncode == 0, output(busy)
            assert f"another dispatch is running (pid {hung.pid} since " in logged(busy, "busy")[0]
            stale = cli.dispatch(SEND_AT, NEWSLETTER_REPORT_TO=STAFF, NEWSLETTER_LOCK_STALE_AFTER="90m")
        finally:
            hung.kill()
    assert stale.returncode == 1, output(stale)
    (line,) = logged(stale, "error")
    assert f"(pid {hung.pid}, 3 h): it may be hung; check it with `ps {hung.pid}`" in line
    assert "(NEWSLETTER_LOCK_STALE_AFTER is 90 minutes)" in line
    assert logged(stale, "alert")[0].endswith(f"alert to={STAFF}")
    assert [a.rcpts for a in cli.server.recorder.messages] == [(STAFF,)]
