"""Where in the issue file an address was written: the line and field of each link and image, so that
a finding about `https://…/oud` says `issues/2026-02.yaml:42 sections[3].link.url`.

Addresses in the email are the written ones with merge fields filled, so a written `{{ … }}` matches
anything; an address the issue never wrote came from the layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from newsletter.model import Image
from newsletter.reading.issues import LoadedIssue

Loc = tuple[str | int, ...]

_IN_TEXT = re.compile(r"(?:https?://|mailto:)[^\s)<>\]\"']+", re.IGNORECASE)
_EXPRESSION = re.compile(r"\{\{.*?\}\}")
_URL_FIELDS = frozenset({"url", "href"})


@dataclass(frozen=True)
class Place:
    pattern: re.Pattern[str]
    where: str


def _walk(value: Any, loc: Loc) -> Iterator[tuple[Loc, str, Any]]:
    """Every (location, field name, value) below `value`, in the order of the file."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            child = getattr(value, name)
            yield (*loc, name), name, child
            yield from _walk(child, (*loc, name))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield (*loc, i), "", child
            yield from _walk(child, (*loc, i))


def _where(loaded: LoadedIssue, loc: Loc) -> str:
    problem = loaded.problem(loc, "")
    line = f"{problem.file}:{problem.line}" if problem.line else problem.file
    return f"{line} {problem.field}"


def _pattern(written: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in _EXPRESSION.split(written.strip())]
    return re.compile(".*?".join(parts), re.DOTALL)


class Places:
    """The places of the links and images an issue file writes."""

    def __init__(self, loaded: LoadedIssue) -> None:
        self.loaded = loaded
        self.links: list[Place] = []
        self.images: list[tuple[str, str]] = []  # (src as written, where)
        for loc, name, value in _walk(loaded.issue, ()):
            if isinstance(value, Image):
                self.images.append((value.src, _where(loaded, (*loc, "src"))))
            if not isinstance(value, str):
                continue
            if name in _URL_FIELDS:
                self.links.append(Place(_pattern(value), _where(loaded, loc)))
            else:
                for found in _IN_TEXT.finditer(value):
                    written = found.group(0).rstrip(".,;:!?")
                    self.links.append(Place(_pattern(written), _where(loaded, loc)))

    def of_field(self, name: str) -> str:
        """Where a top-level field of the issue (subject, preheader) is written."""
        return _where(self.loaded, (name,))

    def of_link(self, url: str) -> str | None:
        """Where the issue writes `url`, or None if it does not (the layout does)."""
        return next((p.where for p in self.links if p.pattern.fullmatch(url)), None)

    def of_image(self, src: str, source: str | None) -> str | None:
        """Where the issue names the image at `src` (for a local one, made from its file `source`)."""
        for written, where in self.images:
            if written.strip() in (src, source):
                return where
        return None
