"""When an issue is due: `send_at` read in NEWSLETTER_TIMEZONE or with its own offset, only `ready`
issues, the `--now` of `newsletter dispatch`, and the settings and issue mistakes that stop it.

The clock is always an argument (`now=`, `--now`); nothing here waits for a time to come.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from command import SENDING, environment, run
from conftest import SAMPLE, audience_csv
from issue_files import copy_sample

from newsletter.delivering.schedule import DEFAULT_TIMEZONE, is_due, parse_time, send_time, timezone
from newsletter.errors import ConfigError, IssueError
from newsletter.model import Issue
from newsletter.reading import issues

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

BRUSSELS = ZoneInfo("Europe/Brussels")


def write_issue(folder: Path, slug: str, *, status: str = "ready", send_at: str | None = None) -> Path:
    """A copy of the sample issue with the given status and send_at (none if None), for leden.csv."""
    return copy_sample(folder, slug, status=status, send_at=send_at, audience="leden.csv")


def load(folder: Path, *, status: str = "ready", send_at: str | None = None) -> Issue:
    return issues.load(write_issue(folder, "2026-02", status=status, send_at=send_at)).issue


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


# -- send_at -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send_at", "expected", "offset"),
    [
        ("2026-01-20T09:00", utc(2026, 1, 20, 8, 0), 1),  # winter time, CET
        ("2026-07-20T09:00", utc(2026, 7, 20, 7, 0), 2),  # summer time, CEST
        ("2026-03-29T09:00", utc(2026, 3, 29, 7, 0), 2),  # the first day of summer time
        ("2026-10-25T09:00", utc(2026, 10, 25, 8, 0), 1),  # the first day of winter time
        ("2026-01-20 09:00:00", utc(2026, 1, 20, 8, 0), 1),  # a YAML timestamp without a zone
    ],
)
def test_send_at_without_offset_is_read_in_brussels_time_winter_and_summer(
    tmp_path: Path, send_at: str, expected: dt.datetime, offset: int
) -> None:
    issue = load(tmp_path, send_at=send_at)
    when = send_time(issue, timezone(DEFAULT_TIMEZONE))
    assert when is not None
    assert when.utcoffset() == dt.timedelta(hours=offset)
    assert when.astimezone(dt.UTC) == expected
    assert (when.hour, when.minute) == (9, 0)


def test_send_at_without_offset_follows_the_timezone_setting(tmp_path: Path) -> None:
    issue = load(tmp_path, send_at="2026-01-20T09:00")
    new_york = timezone("America/New_York")
    assert send_time(issue, new_york) == utc(2026, 1, 20, 14, 0)
    assert not is_due(issue, utc(2026, 1, 20, 13, 59), new_york)
    assert is_due(issue, utc(2026, 1, 20, 14, 0), new_york)


@pytest.mark.parametrize(
    ("send_at", "expected"),
    [
        ("2026-01-20T09:00+05:00", utc(2026, 1, 20, 4, 0)),
        ("2026-07-20T09:00:00+05:00", utc(2026, 7, 20, 4, 0)),  # a YAML timestamp with a zone
        ("2026-07-20T09:00Z", utc(2026, 7, 20, 9, 0)),
        ("2026-01-20T09:00-03:30", utc(2026, 1, 20, 12, 30)),
    ],
)
def test_send_at_with_an_offset_is_taken_as_given_whatever_the_timezone_setting(
    tmp_path: Path, send_at: str, expected: dt.datetime
) -> None:
    issue = load(tmp_path, send_at=send_at)
    for tz in (BRUSSELS, ZoneInfo("Asia/Tokyo"), dt.UTC):
        when = send_time(issue, tz)
        assert when is not None
        assert when.astimezone(dt.UTC) == expected
        assert not is_due(issue, expected - dt.timedelta(seconds=1), tz)
        assert is_due(issue, expected, tz)


# -- due -----------------------------------------------------------------------------------------


def test_a_ready_issue_is_due_from_its_send_at_on(tmp_path: Path) -> None:
    issue = load(tmp_path, send_at="2026-01-20T09:00")
    assert not is_due(issue, dt.datetime(2026, 1, 20, 8, 59, 59, tzinfo=BRUSSELS), BRUSSELS)
    assert is_due(issue, dt.datetime(2026, 1, 20, 9, 0, tzinfo=BRUSSELS), BRUSSELS)
    assert is_due(issue, dt.datetime(2026, 2, 20, 9, 0, tzinfo=BRUSSELS), BRUSSELS)
    # `now` in any zone is the same moment.
    assert not is_due(issue, utc(2026, 1, 20, 7, 59), BRUSSELS)
    assert is_due(issue, utc(2026, 1, 20, 8, 0), BRUSSELS)


def test_only_ready_issues_are_due_a_draft_never_is(tmp_path: Path) -> None:
    draft = load(tmp_path, status="draft", send_at="2026-01-20T09:00")
    assert send_time(draft, BRUSSELS) is not None
    assert not is_due(draft, dt.datetime(2030, 1, 1, tzinfo=BRUSSELS), BRUSSELS)
    no_time = load(tmp_path, status="draft")
    assert send_time(no_time, BRUSSELS) is None
    assert not is_due(no_time, dt.datetime(2030, 1, 1, tzinfo=BRUSSELS), BRUSSELS)


def test_due_compares_moments_in_the_hour_that_repeats_when_summer_time_ends(tmp_path: Path) -> None:
    # On 25 October 2026 Brussels goes from 03:00 CEST back to 02:00 CET: 02:00-03:00 happens twice.
    issue = load(tmp_path, send_at="2026-10-25T02:30")  # the first 02:30, CEST: 00:30 UTC
    first_0210 = dt.datetime(2026, 10, 25, 2, 10, tzinfo=BRUSSELS)  # 00:10 UTC
    second_0210 = dt.datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=BRUSSELS)  # 01:10 UTC
    assert second_0210.astimezone(dt.UTC) == utc(2026, 10, 25, 1, 10)
    assert not is_due(issue, first_0210, BRUSSELS)
    assert is_due(issue, second_0210, BRUSSELS)


def test_a_ready_issue_without_send_at_cannot_be_loaded(tmp_path: Path) -> None:
    with pytest.raises(IssueError) as caught:
        load(tmp_path, status="ready", send_at=None)
    (problem,) = caught.value.problems
    assert (problem.field, problem.message) == (
        "status",
        "status is ready but send_at is missing: say when it may be sent",
    )


# -- time zones and --now ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Europe/Brusels", "Mars/Olympus", "Europe", "Europe/", "", "../UTC", "CEST"]
)
def test_an_unknown_time_zone_is_a_config_error_naming_the_setting(name: str) -> None:
    with pytest.raises(ConfigError, match="NEWSLETTER_TIMEZONE") as caught:
        timezone(name)
    assert repr(name) in str(caught.value)
    assert DEFAULT_TIMEZONE in str(caught.value)


@pytest.mark.parametrize("name", ["Europe/Brussels", "UTC", "America/New_York", "Etc/GMT-2"])
def test_known_time_zones_are_accepted(name: str) -> None:
    assert timezone(name).key == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-20T09:00", utc(2026, 1, 20, 8, 0)),  # local time in the setting's zone
        ("2026-07-20T09:00", utc(2026, 7, 20, 7, 0)),
        ("2026-01-20T09:00:30", utc(2026, 1, 20, 8, 0, 30)),
        ("2026-01-20 09:00", utc(2026, 1, 20, 8, 0)),
        ("2026-01-20", utc(2026, 1, 19, 23, 0)),  # midnight
        ("2026-01-20T09:00Z", utc(2026, 1, 20, 9, 0)),
        ("2026-01-20T09:00+00:00", utc(2026, 1, 20, 9, 0)),
        ("2026-01-20T09:00-05:00", utc(2026, 1, 20, 14, 0)),
    ],
)
def test_now_is_an_iso_time_read_in_the_timezone_unless_it_has_an_offset(
    text: str, expected: dt.datetime
) -> None:
    moment = parse_time(text, BRUSSELS)
    assert moment.tzinfo is not None
    assert moment == expected


@pytest.mark.parametrize("text", ["tomorrow", "20-01-2026 09:00", "2026-01-20T25:00", "2026-13-01", "09:00"])
def test_now_that_is_not_an_iso_time_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--now") as caught:
        parse_time(text, BRUSSELS)
    assert repr(text) in str(caught.value)


# -- the command ---------------------------------------------------------------------------------


def newsletter(folder: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return run(
        *args, cwd=folder, env=environment(SENDING, NEWSLETTER_SECRET="schedule-test-secret", **settings)
    )


def test_validate_refuses_a_ready_issue_without_send_at_naming_its_line(project_dir: Path) -> None:
    write_issue(project_dir, "2026-02", status="ready", send_at=None)
    write_issue(project_dir, "2026-03", status="draft", send_at=None)
    write_issue(project_dir, "2026-04", status="ready", send_at="2026-04-21T09:00")
    audience_csv(project_dir / "issues" / "leden.csv", ["an@example.org"])  # validate checks it is there
    result = newsletter(
        project_dir, "validate", "issues/2026-02.yaml", "issues/2026-03.yaml", "issues/2026-04.yaml"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    line = next(n for n, text in enumerate(SAMPLE.read_text().splitlines(), 1) if text == "status: draft")
    assert (
        f"error: issues/2026-02.yaml:{line}: status: status is ready but send_at is missing: "
        "say when it may be sent"
    ) in result.stderr
    assert "ok: issues/2026-03.yaml" in result.stdout
    assert "status draft" in result.stdout
    assert "ok: issues/2026-04.yaml" in result.stdout
    assert "status ready" in result.stdout
    assert "2026-03" not in result.stderr
    assert "2026-04" not in result.stderr


@pytest.mark.parametrize("command", [("dispatch",), ("status",)])
@pytest.mark.parametrize("name", ["Europe/Brusels", "Europe"])
def test_an_unknown_timezone_setting_exits_2_naming_it(
    project_dir: Path, command: tuple[str, ...], name: str
) -> None:
    result = newsletter(project_dir, *command, NEWSLETTER_TIMEZONE=name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"NEWSLETTER_TIMEZONE={name!r} is not a known time zone" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project_dir / "newsletter.sqlite3").exists()


def test_dispatch_with_a_now_that_is_not_a_time_exits_2_and_sends_nothing(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    write_issue(project_dir, "2026-02", send_at="2026-01-20T09:00")
    (project_dir / "issues" / "leden.csv").write_text("email\nan@example.org\n", encoding="utf-8")
    result = newsletter(project_dir, "dispatch", "--now", "next monday", **smtp_server.settings())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--now 'next monday': write an ISO time such as 2026-01-20T09:00" in result.stderr
    assert smtp_server.recorder.connections == 0


def test_dispatch_reads_a_send_at_without_offset_in_the_timezone_setting(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    write_issue(project_dir, "2026-02", send_at="2026-01-20T09:00")  # 14:00 UTC in New York in January
    (project_dir / "issues" / "leden.csv").write_text(
        "email\nan@example.org\nbert@example.com\n", encoding="utf-8"
    )
    settings = {"NEWSLETTER_TIMEZONE": "America/New_York", **smtp_server.settings()}
    early = newsletter(project_dir, "dispatch", "--now", "2026-01-20T14:59+01:00", **settings)
    assert early.returncode == 0, early.stdout + early.stderr
    assert "nothing is due" in early.stdout
    assert smtp_server.recorder.connections == 0

    on_time = newsletter(project_dir, "dispatch", "--now", "2026-01-20T15:00+01:00", **settings)
    assert on_time.returncode == 0, on_time.stdout + on_time.stderr
    assert smtp_server.recorder.copies() == Counter(["an@example.org", "bert@example.com"])
