"""The lines of a hand-written YAML file taken apart (indentation, `- `, key, text), and what the
modules that explain its mistakes share: a mistake, the fix, the keys of each place, words for spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """One mistake in a file's text: its 1-based line (None: the file as a whole) and what to do."""

    line: int | None
    message: str


@dataclass(frozen=True)
class Place:
    """The keys a mapping may have, known by the key it is the value of ('' for the whole file)."""

    keys: frozenset[str]
    name: str  # "the issue", "the section": how a message names one such mapping
    item: bool  # its mappings are the items of a list (`- title: …`)


Places = Mapping[str, Place]


@dataclass(frozen=True)
class Explained:
    """The mistakes behind a YAML error, and the text with them fixed when the fix is certain."""

    mistakes: list[Mistake]
    text: str | None = None
    line: int | None = None  # the 0-based line the fix changed


_KEY = re.compile(r"[A-Za-z_][\w.-]*")
BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*(\s+#.*)?")
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class Line:
    """One line of a block-style YAML file, taken apart by its indentation, dashes and key."""

    indent: int  # columns of leading spaces
    dashes: tuple[int, ...]  # the columns of its `- ` list markers
    key: str | None
    key_col: int  # where its key, or its text after the dashes, starts
    value: str  # the text after `key: ` (or after the dashes when there is no key)
    value_col: int

    @property
    def colon(self) -> int:
        return self.key_col + len(self.key or "")


def split(line: str) -> Line:
    indent = len(line) - len(line.lstrip(" "))
    at = indent
    dashes: list[int] = []
    while line.startswith("-", at) and (at + 1 == len(line) or line[at + 1] in " \t"):
        dashes.append(at)
        at += 1
        while at < len(line) and line[at] == " ":
            at += 1
    key = _KEY.match(line, at)
    if (
        key
        and line.startswith(":", key.end())
        and (key.end() + 1 == len(line) or line[key.end() + 1] in " \t")
    ):
        start = key.end() + 1
        while start < len(line) and line[start] in " \t":
            start += 1
        return Line(indent, tuple(dashes), key.group(), at, line[start:].rstrip(), start)
    return Line(indent, tuple(dashes), None, at, line[at:].rstrip(), at)


def looks_like_key(line: str) -> bool:
    """The line starts with `key:` (after its indentation and any `- `)."""
    return split(line).key is not None


def skipped_lines(lines: list[str]) -> set[int]:
    """Lines that say nothing about the structure: blank, comments and the texts of `key: |` blocks."""
    skipped: set[int] = set()
    opener: int | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if opener is not None and (not stripped or len(line) - len(line.lstrip(" ")) > opener):
            skipped.add(i)
            continue
        opener = None
        if not stripped or stripped.startswith("#"):
            skipped.add(i)
            continue
        parts = split(line)
        if BLOCK_SCALAR.fullmatch(parts.value):
            opener = parts.key_col if parts.key else (parts.dashes[-1] if parts.dashes else parts.indent)
    return skipped


def leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def number(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def move(delta: int, target: int) -> str:
    """How to indent a line by `delta` columns to reach column `target`, in words."""
    if target == 0 and delta < 0:
        return "start it at the beginning of the line"
    spaces = "space" if abs(delta) == 1 else "spaces"
    if delta > 0:
        return f"indent it {number(delta)} more {spaces}"
    return f"indent it {number(-delta)} {spaces} less"


def shown(line: str) -> str:
    line = line.strip()
    return line if len(line) <= 90 else line[:88] + "…" + line[-1]


def replaced(lines: list[str], i: int, new: str) -> str:
    return "\n".join([*lines[:i], new, *lines[i + 1 :]])
