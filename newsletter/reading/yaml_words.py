"""libyaml's complaints about a hand-written file, in the words of the person who wrote it.

`explain` turns a YAML error into a sentence with the fix ("put the whole text in quotes: …") and, when
the fix is certain (quote a text, close a quote, line a key up with its neighbours), the text with that
line fixed, so that the rest of the file can be read and its other mistakes reported in the same run.
A fix edits lines in place: line numbers never move.
"""

from __future__ import annotations

import re

import yaml

from newsletter.reading.yaml_indent import indentation, missing_dash, text_not_indented
from newsletter.reading.yaml_lines import (
    BLOCK_SCALAR,
    Explained,
    Line,
    Mistake,
    Places,
    leading,
    looks_like_key,
    replaced,
    shown,
    skipped_lines,
    split,
)

TAB = (
    "indented with a tab; YAML only accepts spaces for indenting: replace the tab with spaces "
    '(most editors: "Convert indentation to spaces")'
)
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


def _double(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quoted(value: str) -> str:
    """`value` in the quotes that need no escapes, when it can be."""
    return f"'{value}'" if '"' in value and "'" not in value else _double(value)


def _quote(lines: list[str], i: int, parts: Line, why: str) -> Explained:
    fixed = lines[i][: parts.value_col] + _quoted(parts.value)
    return Explained(
        [Mistake(i + 1, f"{why}; put the whole text in quotes: {shown(fixed)}")],
        replaced(lines, i, fixed),
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
    parts = split(lines[i])
    if not parts.value or parts.value[0] not in "\"'" or _closing_quote(parts.value) is not None:
        return None
    quote = parts.value[0]
    fixed = lines[i].rstrip() + quote
    whose = f"the text of `{parts.key}:`" if parts.key else "this text"
    message = (
        f"the quote ({quote}) that opens {whose} is not closed; end the text with {quote}: {shown(fixed)}"
    )
    return Explained([Mistake(i + 1, message)], replaced(lines, i, fixed), i)


def _requote(lines: list[str], i: int, parts: Line) -> Explained | None:
    end = _closing_quote(parts.value)
    if end is None or not parts.value[end + 1 :].strip():
        return None
    quote = parts.value[0]
    # Quotes around the whole line were meant as YAML's; quotes around a part of it are text.
    body = parts.value[1:-1] if parts.value.endswith(quote) else parts.value
    if quote == '"':
        other, fixed_value = "single", "'" + body.replace("'", "''") + "'"
    else:
        other, fixed_value = "double", _double(body)
    fixed = lines[i][: parts.value_col] + fixed_value
    message = (
        f"the text of `{parts.key}:` starts with a quote, so YAML ends it at the next quote; to use "
        f"quotes inside a text, put the whole text in {other} quotes: {shown(fixed)}"
    )
    return Explained([Mistake(i + 1, message)], replaced(lines, i, fixed), i)


def hashtag(lines: list[str], i: int) -> Explained | None:
    """A text on line `i` with " #word" in it: YAML reads a comment from there and drops it."""
    parts = split(lines[i])
    if not parts.key or not parts.value:
        return None
    why = f'YAML reads " #" as the start of a comment and leaves out the rest of the text of `{parts.key}:`'
    return _quote(lines, i, parts, why)


def anchored_text(lines: list[str], i: int) -> Explained | None:
    """A text on line `i` that starts with &: meant as text, read by YAML as an anchor's name."""
    parts = split(lines[i])
    if not parts.key or not parts.value.startswith("&"):
        return None
    return _quote(lines, i, parts, f"a text that starts with & must be in quotes{_RESERVED['&']}")


def _missing_colon(lines: list[str], i: int, places: Places) -> Explained:
    parts = split(lines[i])
    known = {key for place in places.values() for key in place.keys}
    glued = re.match(r"([A-Za-z_][\w-]*):(\S.*)", parts.value)
    if glued and glued.group(1) in known:
        word, rest = glued.groups()
        fixed = lines[i][: parts.key_col] + f"{word}: {rest}"
        message = f"`{word}:` needs a space after its colon: {shown(fixed)}"
        return Explained([Mistake(i + 1, message)], replaced(lines, i, fixed), i)
    word, _, rest = parts.value.partition(" ")
    rest = rest.removeprefix("= ").removeprefix("=") if rest.startswith("=") else rest
    if word in known and rest:
        fixed = lines[i][: parts.key_col] + f"{word}: {rest}"
        message = f"`{word}` needs a colon after it: {shown(fixed)}"
        return Explained([Mistake(i + 1, message)], replaced(lines, i, fixed), i)
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


def _value_mistake(lines: list[str], at: int, parts: Line, problem: str, column: int) -> Explained | None:
    """A text after `key: ` that YAML reads as something else: a second key, a list, a reference."""
    value = parts.value
    if not parts.key or not value or BLOCK_SCALAR.fullmatch(value):
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
    skipped = skipped_lines(lines)
    tabbed = [i for i, line in enumerate(lines) if i not in skipped and "\t" in leading(line)]
    context = error.context_mark.line if error.context_mark else -1
    if tabbed and ("tab" in problem or at in tabbed or context in tabbed):
        return Explained([Mistake(i + 1, TAB) for i in tabbed])
    if "quoted scalar" in (error.context or "") and error.context_mark:
        found = unclosed_quote(lines, error.context_mark.line)
        if found:
            return found
    if found := _open_quote_above(lines, at, skipped):
        return found
    parts = split(lines[at])
    if found := _value_mistake(lines, at, parts, problem, mark.column if mark else 0):
        return found
    simple_key = (
        error.context_mark.line if "could not find expected ':'" in problem and error.context_mark else None
    )
    if found := text_not_indented(lines, at if simple_key is None else simple_key, skipped):
        return found
    if simple_key is not None:
        return _missing_colon(lines, simple_key, places)
    if found := missing_dash(lines, at, parts, skipped, places):
        return found
    if (parts.key or parts.dashes) and (found := indentation(lines, at, parts, places, skipped)):
        return found
    message = (
        "YAML cannot read the file from here: check the indentation, colons and quotes of this line and "
        f"the one above (the YAML reader says: {problem or error.context})"
    )
    return Explained([Mistake(at + 1, message)])
