"""What the doctor found: one line each, with what to change and where when something is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    OK = "ok"
    # Mail goes out, but some receivers will hide, delay or mistrust it; or a setting leaves a check
    # out that another part makes (no DKIM selector: the round trip still checks the signature).
    WARNING = "warning"
    # Receivers will refuse the mail, or the relay will not take it; or a check that decides it could
    # not be made at all (a DNS server that did not answer): a domain nobody checked is no pass.
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    area: str  # "DNS", "relay", "round trip"
    level: Level
    what: str  # what was found, e.g. "SPF of example.org does not include spf.protection.outlook.com"
    fix: str | None = None  # what to change and where; None for OK
    checked: bool = True  # False: the check could not be made (its lookup failed), so it says nothing

    @classmethod
    def ok(cls, area: str, what: str) -> Finding:
        return cls(area, Level.OK, what)

    @classmethod
    def warning(cls, area: str, what: str, fix: str) -> Finding:
        return cls(area, Level.WARNING, what, fix)

    @classmethod
    def error(cls, area: str, what: str, fix: str, *, checked: bool = True) -> Finding:
        return cls(area, Level.ERROR, what, fix, checked)
