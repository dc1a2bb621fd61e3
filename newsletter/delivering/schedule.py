"""When issues are due. Pure: the current time is an argument, never read from a clock."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsletter.errors import ConfigError
from newsletter.model import Issue

DEFAULT_TIMEZONE = "Europe/Brussels"


def timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the database such as "Europe" (IsADirectoryError), or an unreadable file.
        raise ConfigError(
            f"NEWSLETTER_TIMEZONE={name!r} is not a known time zone; use e.g. {DEFAULT_TIMEZONE}"
        ) from None


def send_time(issue: Issue, tz: dt.tzinfo) -> dt.datetime | None:
    """The issue's `send_at` as an aware time; a time written without offset is read in `tz`."""
    if issue.send_at is None:
        return None
    if issue.send_at.tzinfo is None:
        return issue.send_at.replace(tzinfo=tz)
    return issue.send_at


def is_due(issue: Issue, now: dt.datetime, tz: dt.tzinfo) -> bool:
    """Only a `ready` issue whose send time has come is ever sent by the scheduler."""
    when = send_time(issue, tz)
    return issue.status == "ready" and when is not None and reached(when, now)


def reached(when: dt.datetime, now: dt.datetime) -> bool:
    """`when <= now` as instants. Python compares two times of the same zone by their wall clock,
    ignoring `fold`: 02:30 (summer time) would come after 02:10 (winter time) in the hour that
    repeats when the clocks go back."""
    return when.astimezone(dt.UTC) <= now.astimezone(dt.UTC)


def parse_time(text: str, tz: dt.tzinfo) -> dt.datetime:
    """An ISO 8601 time from the command line; without an offset it is local time in `tz`."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--now {text!r}: write an ISO time such as 2026-01-20T09:00") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


_UNITS = {
    "d": ("day", dt.timedelta(days=1)),
    "h": ("hour", dt.timedelta(hours=1)),
    "m": ("minute", dt.timedelta(minutes=1)),
}


def parse_duration(text: str, setting: str) -> dt.timedelta:
    """A whole number and a unit: '7d' (days), '48h' (hours) or '90m' (minutes)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text.lower())
    if not match or int(match[1]) < 1:
        raise ConfigError(f"{setting}={text!r}: write a number and a unit, d, h or m: e.g. 7d, 48h or 90m")
    return int(match[1]) * _UNITS[match[2]][1]


def describe(span: dt.timedelta) -> str:
    """'7 days', '48 hours', '1 hour', '90 minutes': the largest unit that divides the span."""
    for name, unit in _UNITS.values():
        if span >= unit and span % unit == dt.timedelta(0):
            count = span // unit
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{span.total_seconds():g} seconds"
