"""Issue files: YAML text in, a validated `Issue` out, every mistake named by file, line and field.

`parse` is pure (text in, Issue out); `load` reads a file and checks that its local images exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ValidationError

from newsletter import model
from newsletter.errors import IssueError, Problem
from newsletter.model import SECTION_TYPES, Issue

Loc = tuple[str | int, ...]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader when present (ten times faster, same marks), dates left as text.

    YAML would turn `2026-02-30` into a date itself and fail without saying where; as text, the
    model parses it and the error names the field and its line.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in getattr(yaml, "CSafeLoader", yaml.SafeLoader).yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True)
class LoadedIssue:
    """An issue with where it came from: its slug (the file name) and its folder for local images."""

    issue: Issue
    slug: str
    path: Path
    lines: dict[Loc, int]

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at a field of this issue, with the line the field is on."""
        here = loc
        while here not in self.lines and here:
            here = here[:-1]
        return Problem(str(self.path), self.lines.get(here), format_loc(loc), message)


def _known_keys() -> set[str]:
    keys: set[str] = set()
    for obj in vars(model).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            keys.update(obj.model_fields)
    return keys


KNOWN_KEYS = _known_keys()


class _Lines:
    """Where each value of a YAML document starts, by its path of keys and indexes."""

    def __init__(self) -> None:
        self.at: dict[Loc, int] = {}
        self.duplicates: list[tuple[Loc, int]] = []

    def walk(self, node: yaml.Node, loc: Loc = ()) -> None:
        self.at[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    self.duplicates.append(((*loc, name), key.start_mark.line + 1))
                seen.add(name)
                self.at[(*loc, name)] = key.start_mark.line + 1
                self.walk(value, (*loc, name))
                # A value's own line for nested blocks; a scalar stays on its key's line.
                if isinstance(value, yaml.ScalarNode):
                    self.at[(*loc, name)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, (*loc, i))

    def line(self, loc: Loc) -> int | None:
        """The line of the deepest part of `loc` that the file has (a missing key: its parent)."""
        while loc not in self.at and loc:
            loc = loc[:-1]
        return self.at.get(loc)


def _data_loc(pydantic_loc: Loc, data: Any) -> Loc:
    """Pydantic's location without the union tags it adds: sections.2.article.title → sections.2.title."""
    out: list[str | int] = []
    here = data
    for i, part in enumerate(pydantic_loc):
        # The tag pydantic adds for a discriminated union comes right after the section's index; the
        # section may have a key of the same name too (an `image` section has an `image` key).
        is_tag = i == 2 and pydantic_loc[0] == "sections" and isinstance(pydantic_loc[1], int)
        if is_tag and isinstance(here, dict) and part == here.get("type") and part in SECTION_TYPES:
            continue
        if isinstance(here, dict) and isinstance(part, str) and part not in here:
            out.append(part)
            here = None
            continue
        out.append(part)
        if isinstance(here, dict):
            here = here.get(part)
        elif isinstance(here, list) and isinstance(part, int) and part < len(here):
            here = here[part]
        else:
            here = None
    return tuple(out)


def format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _message(error: Any, loc: Loc) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(name, KNOWN_KEYS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "; remove it or check its spelling"
        return f"unknown key '{name}'{hint}"
    if kind == "union_tag_invalid":
        kinds = ", ".join(SECTION_TYPES)
        return f"unknown section type {error['input'].get('type')!r}; use one of {kinds}"
    if kind in ("too_short", "too_long") and loc[-1:] == ("columns",):
        return "a columns section has exactly two columns"
    if kind == "union_tag_not_found":
        return f"a section needs a type: one of {', '.join(SECTION_TYPES)}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _problems_from(error: ValidationError, data: Any, lines: _Lines, file: str) -> list[Problem]:
    problems = []
    for e in error.errors():
        loc = _data_loc(tuple(e["loc"]), data)
        if not loc and "field" in e.get("ctx", {}):
            loc = (str(e["ctx"]["field"]),)  # a check of the whole issue that belongs to one field
        problems.append(Problem(file, lines.line(loc), format_loc(loc), _message(e, loc)))
    return problems


def parse(text: str, file: str = "<issue>") -> Issue:
    """Validate an issue file's text; raise IssueError listing every mistake with its line."""
    return _parse(text, file)[0]


def _parse(text: str, file: str) -> tuple[Issue, _Lines]:
    if not text.strip():
        raise IssueError([Problem(file, None, "", "the file is empty; copy an earlier issue to start")])
    try:
        # One parse: the node tree gives the lines, the same tree the values.
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        # libyaml puts an error at the end of the file on the line after the last one.
        line = min(mark.line + 1, max(text.count("\n"), 1)) if mark else None
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise IssueError([Problem(file, line, "", f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as e:
        raise IssueError([Problem(file, None, "", f"not valid YAML: {e}")]) from None
    if node is None or data is None:
        raise IssueError([Problem(file, None, "", "the file is empty; copy an earlier issue to start")])
    if not isinstance(data, dict):
        return _fail(file, 1, "", "an issue is a set of keys (subject:, preheader:, sections:, …)")
    lines = _Lines()
    lines.walk(node)
    problems = [
        Problem(file, line, format_loc(loc), "appears twice; keep one") for loc, line in lines.duplicates
    ]
    try:
        issue = Issue.model_validate(data)
    except ValidationError as e:
        problems.extend(_problems_from(e, data, lines, file))
        problems.sort(key=lambda p: p.line or 0)
        raise IssueError(problems) from None
    if problems:
        raise IssueError(problems)
    return issue, lines


def _fail(file: str, line: int | None, field: str, message: str) -> tuple[Issue, _Lines]:
    raise IssueError([Problem(file, line, field, message)])


def read_text(path: Path) -> str:
    """A file's text as UTF-8, or an IssueError that says where the first bad byte is."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IssueError([Problem(str(path), None, "", "no such file")]) from None
    except IsADirectoryError:
        raise IssueError([Problem(str(path), None, "", "is a folder, not an issue file")]) from None
    except OSError as e:
        raise IssueError([Problem(str(path), None, "", f"cannot read it: {e.strerror}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise IssueError(
            [Problem(str(path), line, "", "is not UTF-8 text; save it as UTF-8 in your editor")]
        ) from None


def _image_locs(issue: Issue) -> Iterator[tuple[Loc, model.Image]]:
    for i, s in enumerate(issue.sections):
        if isinstance(s, model.Article | model.ImageBlock) and s.image is not None:
            yield ("sections", i, "image", "src"), s.image
        elif isinstance(s, model.Columns):
            for j, c in enumerate(s.columns):
                if c.image is not None:
                    yield ("sections", i, "columns", j, "image", "src"), c.image


def load(path: Path) -> LoadedIssue:
    """Read, parse and check an issue file, including that its local images exist."""
    text = read_text(path)
    issue, lines = _parse(text, str(path))
    loaded = LoadedIssue(issue=issue, slug=path.stem, path=path, lines=lines.at)
    problems = []
    folder = path.parent.resolve()
    for loc, image in _image_locs(issue):
        if not image.is_local:
            continue
        target = (folder / image.src).resolve()
        if not target.is_relative_to(folder):
            problem = "must stay inside the issue's folder"
        elif not target.is_file():
            problem = f"no image file {image.src!r} next to the issue"
        else:
            continue
        problems.append(loaded.problem(loc, problem))
    if problems:
        raise IssueError(problems)
    return loaded


def read_assets(loaded: LoadedIssue) -> dict[str, bytes]:
    """The bytes of every local image of an issue, by its `src`."""
    folder = loaded.path.parent
    return {image.src: (folder / image.src).read_bytes() for image in loaded.issue.images() if image.is_local}
