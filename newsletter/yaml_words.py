"""libyaml's complaints about a hand-written file, in the words of the person who wrote it.

`explain` turns a YAML error into a sentence with the fix ("put the whole text in quotes: …") and, when
the fix is certain (quote a text, close a quote, line a key up with its neighbours), the text with that
line fixed, so that the rest of the file can be read and its other mistakes reported in the same run.
A fix edits lines in place: line numbers never move.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml


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


TAB = (
    "indented with a tab; YAML only accepts spaces for indenting: replace the tab with spaces "
    '(most editors: "Convert indentation to spaces")'
)
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_KEY = re.compile(r"[A-Za-z_][\w.-]*")
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*(\s+#.*)?")
# What a plain text cannot start with: YAML gives these characters a meaning of its own.
_RESERVED = {
    "*": " (YAML reads *word as a reference to another part of the file)",
    "&": " (YAML reads &word as a name for this part of the file)",
    "[": " (YAML reads [ … ] as a list)",
    "{": " (YAML reads { … } as a set of keys)",
    "!": " (YAML reads !word as a type)",
    "@": "",
    "`": "",
    "%": "",
    "|": "",
    ">": "",
    "?": "",
}


@dataclass(frozen=True)
class _Line:
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


def _split(line: str) -> _Line:
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
        return _Line(indent, tuple(dashes), key.group(), at, line[start:].rstrip(), start)
    return _Line(indent, tuple(dashes), None, at, line[at:].rstrip(), at)


def looks_like_key(line: str) -> bool:
    """The line starts with `key:` (after its indentation and any `- `)."""
    return _split(line).key is not None


def _skipped(lines: list[str]) -> set[int]:
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
        parts = _split(line)
        if _BLOCK_SCALAR.fullmatch(parts.value):
            opener = parts.key_col if parts.key else (parts.dashes[-1] if parts.dashes else parts.indent)
    return skipped


def _leading(line: str) -> str:
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


def _shown(line: str) -> str:
    line = line.strip()
    return line if len(line) <= 90 else line[:88] + "…" + line[-1]


def _replace(lines: list[str], i: int, new: str) -> str:
    return "\n".join([*lines[:i], new, *lines[i + 1 :]])


def _quoted(value: str) -> str:
    if '"' in value and "'" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote(lines: list[str], i: int, parts: _Line, why: str) -> Explained:
    fixed = lines[i][: parts.value_col] + _quoted(parts.value)
    return Explained(
        [Mistake(i + 1, f"{why}; put the whole text in quotes: {_shown(fixed)}")],
        _replace(lines, i, fixed),
        i,
    )


def _closing_quote(value: str) -> int | None:
    """Where the quote that opens `value` closes, or None when it stays open to the end of the line."""
    quote = value[0]
    i = 1
    while i < len(value):
        if quote == '"' and value[i] == "\\":
            i += 2
            continue
        if value[i] == quote:
            if quote == "'" and value.startswith("'", i + 1):
                i += 2  # '' is a quote inside a single-quoted text
                continue
            return i
        i += 1
    return None


def unclosed_quote(lines: list[str], i: int) -> Explained | None:
    """The quote opened on line `i` (0-based) is never closed on it: say so and close it."""
    parts = _split(lines[i])
    if not parts.value or parts.value[0] not in "\"'" or _closing_quote(parts.value) is not None:
        return None
    quote = parts.value[0]
    fixed = lines[i].rstrip() + quote
    whose = f"the text of `{parts.key}:`" if parts.key else "this text"
    message = (
        f"the quote ({quote}) that opens {whose} is not closed; end the text with {quote}: {_shown(fixed)}"
    )
    return Explained([Mistake(i + 1, message)], _replace(lines, i, fixed), i)


def _requote(lines: list[str], i: int, parts: _Line) -> Explained | None:
    end = _closing_quote(parts.value)
    if end is None or not parts.value[end + 1 :].strip():
        return None
    quote = parts.value[0]
    # Quotes around the whole line were meant as YAML's; quotes around a part of it are text.
    body = parts.value[1:-1] if parts.value.endswith(quote) else parts.value
    if quote == '"':
        other, fixed_value = "single", "'" + body.replace("'", "''") + "'"
    else:
        other, fixed_value = "double", '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'
    fixed = lines[i][: parts.value_col] + fixed_value
    message = (
        f"the text of `{parts.key}:` starts with a quote, so YAML ends it at the next quote; to use "
        f"quotes inside a text, put the whole text in {other} quotes: {_shown(fixed)}"
    )
    return Explained([Mistake(i + 1, message)], _replace(lines, i, fixed), i)


def anchored_text(lines: list[str], i: int) -> Explained | None:
    """A text on line `i` that starts with &: meant as text, read by YAML as an anchor's name."""
    parts = _split(lines[i])
    if not parts.key or not parts.value.startswith("&"):
        return None
    return _quote(lines, i, parts, f"a text that starts with & must be in quotes{_RESERVED['&']}")


@dataclass(frozen=True)
class _Level:
    """A level of indentation open at some line: a column where keys (or list dashes) start."""

    column: int
    line: int  # 0-based: the nearest line above with a key (or dash) there
    key: str | None  # that line's key at this column (None for a dash level)
    dash: bool
    text: str  # that line


def _levels(lines: list[str], at: int, skipped: set[int]) -> list[_Level]:
    """The levels open at line `at`, deepest first: each the nearest line above that is less indented
    than every line between."""
    levels: list[_Level] = []
    limit = 1 << 30
    for i in range(at - 1, -1, -1):
        if i in skipped or "\t" in _leading(lines[i]):
            continue
        parts = _split(lines[i])
        if parts.key is not None and parts.key_col < limit:
            levels.append(_Level(parts.key_col, i, parts.key, dash=False, text=lines[i]))
            limit = parts.key_col
        for column in reversed(parts.dashes):
            if column < limit:
                levels.append(_Level(column, i, None, dash=True, text=lines[i]))
                limit = column
        if limit == 0:
            break
    return levels


def _where(key: str, levels: list[_Level], k: int, places: Places) -> str | None:
    """What the key level `levels[k]` is, as the place `key` belongs to; None when `key` is no key there."""
    below = levels[k + 1 :]
    if not below:
        place = places.get("")
        return f"is a key of {place.name} as a whole" if place and key in place.keys else None
    if below[0].dash:
        item = below[0]
        opener = next((level for level in below[1:] if not level.dash), None)
        place = places.get(opener.key or "") if opener else None
        if place is None or key not in place.keys:
            return None
        first = _split(item.text)
        name = f"the {first.value}" if first.key == "type" and first.value else place.name
        return f"belongs to {name} that starts on line {item.line + 1}"
    opener = below[0]
    place = places.get(opener.key or "")
    if place is None or key not in place.keys:
        return None
    return f"belongs under `{opener.key}:` (line {opener.line + 1})"


def _shift(lines: list[str], at: int, delta: int, column: int) -> str:
    """The text with line `at` moved by `delta` columns, and with it the lines after it that are
    indented further when they are its value (after `key:` or `key: |`) or its list item's keys."""
    out = list(lines)
    parts = _split(lines[at])
    own = not parts.dashes and parts.value and not _BLOCK_SCALAR.fullmatch(parts.value)
    i = at
    while i < len(lines) and not (own and i > at):
        line = lines[i]
        if i > at and line.strip() and len(line) - len(line.lstrip(" ")) <= column:
            break
        if line.strip():
            out[i] = " " * delta + line if delta > 0 else line[min(-delta, len(_leading(line))) :]
        i += 1
    return "\n".join(out)


def _indentation(
    lines: list[str], at: int, parts: _Line, places: Places, skipped: set[int]
) -> Explained | None:
    """A key or a `-` that lines up with nothing above it: the level it belongs to, and it moved there."""
    levels = _levels(lines, at, skipped)
    column = parts.dashes[0] if parts.dashes else parts.key_col
    candidates = [(k, level) for k, level in enumerate(levels) if level.dash == bool(parts.dashes)]
    if not candidates or any(level.column == column for _, level in candidates):
        return None

    def nearest(candidate: tuple[int, _Level]) -> tuple[int, int]:
        return abs(candidate[1].column - column), -candidate[1].column

    if parts.dashes or not parts.key:
        _, level = min(candidates, key=nearest)
        how = move(level.column - column, level.column)
        message = f"this `-` does not line up with the `-` on line {level.line + 1}: {how}"
    else:
        fitting = [(k, level) for k, level in candidates if _where(parts.key, levels, k, places)]
        k, level = min(fitting or candidates, key=nearest)
        where = _where(parts.key, levels, k, places) if fitting else None
        first = (
            f"`{parts.key}` {where}" if where else f"`{parts.key}:` does not line up with the keys above it"
        )
        like = f"`{level.key}:`" if where else f"`{level.key}:` on line {level.line + 1}"
        how = move(level.column - column, level.column)
        message = f"{first}: {how}{', like ' if how.startswith('start') else ', to line up with '}{like}"
    return Explained([Mistake(at + 1, message)], _shift(lines, at, level.column - column, column), at)


def _missing_colon(lines: list[str], i: int, places: Places) -> Explained:
    parts = _split(lines[i])
    word, _, rest = parts.value.partition(" ")
    known = {key for place in places.values() for key in place.keys}
    if word in known and rest:
        fixed = lines[i][: parts.key_col] + f"{word}: {rest}"
        return Explained(
            [Mistake(i + 1, f"`{word}` needs a colon after it: {_shown(fixed)}")],
            _replace(lines, i, fixed),
            i,
        )
    message = (
        "this line is not `key: value` nor part of a text above it: is a colon missing, or is its "
        "indentation wrong?"
    )
    return Explained([Mistake(i + 1, message)])


def _open_quote_above(lines: list[str], at: int, skipped: set[int]) -> Explained | None:
    """The first quote opened on a line up to `at` and left open over a line that looks like a key."""
    at = min(at, len(lines) - 1)
    key_below = [False] * (at + 1)  # a line after i, up to `at`, looks like a key
    for i in range(at - 1, -1, -1):
        key_below[i] = key_below[i + 1] or looks_like_key(lines[i + 1])
    for i in range(at + 1):
        if i not in skipped and (i == at or key_below[i]) and (found := unclosed_quote(lines, i)):
            return found
    return None


def _value_mistake(lines: list[str], at: int, parts: _Line, problem: str, column: int) -> Explained | None:
    """A text after `key: ` that YAML reads as something else: a second key, a list, a reference."""
    value = parts.value
    if not parts.key or not value or _BLOCK_SCALAR.fullmatch(value):
        return None
    if "mapping values are not allowed" in problem and column > parts.colon:
        if ": " in value:
            why = f'the text of `{parts.key}:` has a colon followed by a space (": ")'
        else:
            why = f"the text of `{parts.key}:` ends with a colon"
        return _quote(lines, at, parts, why + ", which YAML takes for the start of another key")
    if value[0] in "\"'" and column > parts.value_col:
        return _requote(lines, at, parts)
    if column < parts.value_col:
        return None
    if value.startswith("{{"):
        why = "a text that starts with a merge field ({{ … }}) must be in quotes"
    elif value.startswith("- "):
        why = "a text that starts with '- ' must be in quotes (YAML reads it as a list)"
    elif value[0] in _RESERVED:
        why = f"a text that starts with {value[0]} must be in quotes{_RESERVED[value[0]]}"
    else:
        return None
    return _quote(lines, at, parts, why)


def explain(text: str, error: yaml.MarkedYAMLError, places: Places) -> Explained:
    """What the writer of `text` did wrong, in their words, and the text fixed where that is certain."""
    lines = text.split("\n")
    mark = error.problem_mark or error.context_mark
    at = min(mark.line, len(lines) - 1) if mark else 0
    while at > 0 and at >= len(lines) - 2 and not lines[at].strip():
        at -= 1  # libyaml puts the end of the file on the line after the last one
    problem = error.problem or ""
    skipped = _skipped(lines)
    tabbed = [i for i, line in enumerate(lines) if i not in skipped and "\t" in _leading(line)]
    context = error.context_mark.line if error.context_mark else -1
    if tabbed and ("tab" in problem or at in tabbed or context in tabbed):
        return Explained([Mistake(i + 1, TAB) for i in tabbed])
    if "quoted scalar" in (error.context or "") and error.context_mark:
        found = unclosed_quote(lines, error.context_mark.line)
        if found:
            return found
    if found := _open_quote_above(lines, at, skipped):
        return found
    parts = _split(lines[at])
    if found := _value_mistake(lines, at, parts, problem, mark.column if mark else 0):
        return found
    if "could not find expected ':'" in problem and error.context_mark:
        return _missing_colon(lines, error.context_mark.line, places)
    if (parts.key or parts.dashes) and (found := _indentation(lines, at, parts, places, skipped)):
        return found
    message = (
        "YAML cannot read the file from here: check the indentation, colons and quotes of this line and "
        f"the one above (the YAML reader says: {problem or error.context})"
    )
    return Explained([Mistake(at + 1, message)])
