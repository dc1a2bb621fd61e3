"""What the preflight found: one finding per thing looked at, with its level, its place and the fix.

A finding is an error when readers would meet the problem (a dead link, an image without alt text, an
email Gmail clips, no way to unsubscribe): `newsletter check` then exits 1. A warning is listed and
does not stop a send; an ok says what was looked at, so that a clean report shows it was looked at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


# The areas in the order a report lists them.
AREAS = ("links", "images", "size", "inbox", "unsubscribe", "structure", "spam")


@dataclass(frozen=True)
class Finding:
    """One thing looked at: `what` was found `where` (a link, its place in the issue file), and `fix`."""

    area: str
    level: Level
    what: str
    where: str = ""
    fix: str = ""

    @classmethod
    def ok(cls, area: str, what: str, where: str = "") -> Finding:
        return cls(area, Level.OK, what, where)

    @classmethod
    def warning(cls, area: str, what: str, where: str = "", fix: str = "") -> Finding:
        return cls(area, Level.WARNING, what, where, fix)

    @classmethod
    def error(cls, area: str, what: str, where: str = "", fix: str = "") -> Finding:
        return cls(area, Level.ERROR, what, where, fix)

    def line(self) -> str:
        """The finding as one line of a report: what, where, and what to do."""
        parts = [self.what]
        if self.where:
            parts.append(f"at {self.where}")
        text = " ".join(parts)
        return f"{text}: {self.fix}" if self.fix else text

    def as_dict(self) -> dict[str, str]:
        return {
            "area": self.area,
            "level": self.level.value,
            "what": self.what,
            "where": self.where,
            "fix": self.fix,
        }


@dataclass
class Report:
    """Every finding of one preflight, and whether the links were asked over the network."""

    findings: list[Finding] = field(default_factory=list)
    online: bool = False

    def add(self, found: Iterable[Finding]) -> None:
        self.findings.extend(found)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.WARNING]

    def by_area(self) -> list[tuple[str, list[Finding]]]:
        """The findings grouped by area, in the order of AREAS, errors first within each."""
        order = {Level.ERROR: 0, Level.WARNING: 1, Level.OK: 2}
        grouped: list[tuple[str, list[Finding]]] = []
        known = [*AREAS, *sorted({f.area for f in self.findings} - set(AREAS))]
        for area in known:
            found = sorted((f for f in self.findings if f.area == area), key=lambda f: order[f.level])
            if found:
                grouped.append((area, found))
        return grouped

    def summary(self) -> str:
        errors, warnings = len(self.errors), len(self.warnings)
        return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"

    def as_dict(self) -> dict[str, object]:
        return {
            "online": self.online,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "summary": self.summary(),
            "areas": [{"area": a, "findings": [f.as_dict() for f in fs]} for a, fs in self.by_area()],
        }
