"""Do the issue's merge fields fit its audience? Checked before the first message, in every mode.

A field the issue uses without a fallback must come from a column of the audience file (or be one
every recipient has, `merge.BUILTIN_FIELDS`); names are compared as `merge.field_key` normalises
them. One that no column provides would otherwise fail at the first message. It is refused with the
line of the issue file that uses it, the columns there are, and the closest of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from newsletter.errors import IssueError, Problem
from newsletter.model import Rendered
from newsletter.model.merge import ALIASES, BUILTIN_FIELDS, EXPRESSION, Field, field_key, field_spelling
from newsletter.reading import issues
from newsletter.reading.issues import LoadedIssue
from newsletter.reading.recipients import Audience
from newsletter.reading.yaml_text import Loc


def check(loaded: LoadedIssue, rendered: Rendered, audience: Audience) -> None:
    """Raise IssueError, one problem per field, for each field without a fallback that the audience
    does not provide."""
    provided = {field_key(column) for column in audience.columns} | set(BUILTIN_FIELDS)
    missing: dict[str, Field] = {}
    for f in rendered.fields:
        if f.default is None and f.key not in provided:
            missing.setdefault(f.name, f)
    if not missing:
        return
    text = issues.read_text(loaded.path)
    raise IssueError([_problem(loaded, text, f, audience) for f in missing.values()])


def _problem(loaded: LoadedIssue, text: str, f: Field, audience: Audience) -> Problem:
    written = f"{{{{ {f.name} }}}}"
    columns = ", ".join(audience.columns)
    message = f"the audience {audience.source} has no such column (columns: {columns}); "
    fallback = f"{{{{ {f.name} | default('…') }}}}"
    guess = suggestion(f.name, audience.columns)
    if guess is None:
        message += f"add the column, or give the field a fallback: {fallback}"
    else:
        message += f"did you mean {{{{ {guess} }}}}? Or give it a fallback: {fallback}"
    line = used_on(loaded, text, f.name)
    if line is None:
        # Not in the issue file: a layout template places it as {{ merge.<name> }}.
        return Problem(f"layout {loaded.issue.layout}", None, f"{{{{ merge.{f.name} }}}}", message)
    return Problem(str(loaded.path), line, written, message)


def used_on(loaded: LoadedIssue, text: str, name: str) -> int | None:
    """The first line of the issue file where a value writes `{{ name }}` without a fallback, or None.

    The values come from the loaded issue, not the file's text, so a `# comment` never counts; a
    value is found by its key's line, and a block of text (`body: |`) searched from there down.
    """
    lines = text.splitlines()
    found = []
    for loc, value in _strings(loaded.issue.model_dump()):
        if not _writes(value, name):
            continue
        here = loc
        while here not in loaded.lines and here:
            here = here[:-1]
        start = loaded.lines.get(here, 1)
        below = (n for n in range(start, len(lines) + 1) if _writes(lines[n - 1], name))
        found.append(next(below, start))
    return min(found, default=None)


def _writes(text: str, name: str) -> bool:
    return any(m["name"] == name and m["default"] is None for m in EXPRESSION.finditer(text))


def _strings(value: object, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every text in an issue's data, with where it is (the keys and indexes leading to it)."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))


def suggestion(name: str, columns: tuple[str, ...]) -> str | None:
    """The field, as it can be written, that `name` most likely meant: a column or a built-in one."""
    # A dict, not a set: the columns' order decides between equally close ones.
    spellings = dict.fromkeys(field_spelling(c) for c in columns)
    spellings.update(dict.fromkeys(ALIASES))
    writable = [s for s in spellings if s.isidentifier()]
    close = difflib.get_close_matches(field_spelling(name), writable, n=1)
    return close[0] if close else None
