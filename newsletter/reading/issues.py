"""Issue files: YAML text in, a validated `Issue` out, every mistake named by file, line and field.

`parse` is pure (text in, Issue out); `load` reads a file and checks that the files it names exist.
Reading the YAML (size cap, aliases, plain words for syntax mistakes) is `yaml_text`'s; which key
belongs where is `issue_keys`'.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from newsletter import model
from newsletter.errors import IssueError, Problem
from newsletter.model import SECTION_TYPES, Issue
from newsletter.reading.issue_keys import Schema, a_or_an
from newsletter.reading.yaml_text import Document, Loc, YamlTextError
from newsletter.reading.yaml_text import load as load_yaml
from newsletter.reading.yaml_text import read as read_yaml

SCHEMA = Schema(
    Issue,
    {
        Issue: "issue",
        model.Intro: "intro",
        model.Article: "article",
        model.Callout: "callout",
        model.ImageBlock: "image section",
        model.ButtonBlock: "button section",
        model.Divider: "divider",
        model.Columns: "columns section",
        model.Column: "column",
        model.Events: "events section",
        model.Event: "event",
    },
)
PLACES = SCHEMA.places()
ALT_TEXT = (
    "describe what the image shows, in a few words: screen readers read it out, and mail programs "
    'that block images show it in its place, e.g. alt: "Het panel op het podium in San Francisco"'
)


@dataclass(frozen=True)
class LoadedIssue:
    """An issue with where it came from: its slug (the file name) and its folder for local images."""

    issue: Issue
    slug: str
    path: Path
    lines: dict[Loc, int]

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at a field of this issue, with the line the field is on."""
        return _problem(str(self.path), self.lines, loc, message)

    def image_problem(self, src: str, message: str) -> Problem:
        """A problem at the first field that names the local image `src` (a file that is no image)."""
        data = self.issue.model_dump(mode="json", by_alias=True)
        loc = next((loc for loc, written in _image_srcs(data) if written == src), ("sections",))
        return self.problem(loc, message)

    @property
    def audience_file(self) -> Path | None:
        """The audience CSV the issue names with `audience:`, if it names one."""
        return audience_path(self.path, self.issue.audience) if self.issue.audience else None


def audience_path(issue_path: Path, audience: str) -> Path:
    """Where the audience file an issue names is: relative to the issue file, like its images."""
    return issue_path.parent / audience


def _problem(file: str, lines: dict[Loc, int], loc: Loc, message: str) -> Problem:
    here = loc
    while here not in lines and here:
        here = here[:-1]
    return Problem(file, lines.get(here), format_loc(loc), message)


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


def _is_alt(loc: Loc) -> bool:
    return loc[-2:] == ("image", "alt")


def _width_words(kind: str, ctx: dict[str, Any]) -> str:
    if kind == "less_than_equal":
        return (
            f"an image is at most {ctx['le']} pixels wide, the width of the email's body (it is sent at "
            "twice that for sharp screens); write a smaller `width:`, or leave it out to fill its place"
        )
    return f"an image is at least {ctx['ge']} pixels wide; write a larger `width:`, or leave it out"


def _message(error: Any, loc: Loc, data: Any, doc: Document) -> tuple[str, Loc | None]:
    """The words for one of pydantic's errors, and the location of a missing key that they explain."""
    kind = error["type"]
    if kind == "missing":
        if _is_alt(loc):
            return f"`alt:` is missing: {ALT_TEXT}", None
        noun = SCHEMA.noun(loc[:-1], data)
        whose = noun if noun.startswith("`") else a_or_an(noun)
        return f"`{loc[-1]}:` is missing; {whose} needs one", None
    if kind == "extra_forbidden":
        return SCHEMA.unknown(loc, data, doc)
    if kind == "union_tag_invalid":
        kinds = ", ".join(SECTION_TYPES)
        return f"unknown section type {error['input'].get('type')!r}; use one of {kinds}", None
    if kind in ("too_short", "too_long") and loc[-1:] == ("columns",):
        return "a columns section has exactly two columns", None
    if kind == "too_long" and loc[-1:] == ("sections",):
        return (
            f"an issue has at most {model.MAX_SECTIONS} sections; Gmail cuts off a long email anyway: "
            "split it over two issues"
        ), None
    if kind == "too_long" and loc[-1:] == ("events",):
        return f"an events section has at most {model.MAX_EVENTS} dates; split it in two", None
    if kind == "union_tag_not_found":
        return f"a section needs a type: one of {', '.join(SECTION_TYPES)}", None
    if kind.endswith("_type") and error["input"] is None and loc:
        if kind == "list_type":
            return (
                f"`{loc[-1]}:` is empty; put its items on the lines under it, each starting with `- `",
                None,
            )
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return (
                f"`{loc[-1]}:` is empty; put its keys on the lines under it, indented two more spaces",
                None,
            )
        return f"`{loc[-1]}:` is empty; write its text after the colon, or remove the line", None
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        given = "a list" if isinstance(error["input"], list) else "a single text"
        return f"must be a set of keys (`key: value` lines, indented under it), not {given}", None
    if kind == "list_type":
        return "must be a list: one item per line that starts with `- `, indented under it", None
    if kind in ("less_than_equal", "greater_than_equal") and loc[-2:] == ("image", "width"):
        return _width_words(kind, error["ctx"]), None
    message = str(error["msg"]).removeprefix("Value error, ")
    if _is_alt(loc) and message == "must not be empty":
        return f"`alt:` is empty: {ALT_TEXT}", None
    return message, None


# A file with more is better fixed from the top; the rest would scroll past unread. Only those shown
# are put in words; the others are counted (a file can hold a hundred thousand unknown keys).
MAX_PROBLEMS = 100
_LOCATED = 10 * MAX_PROBLEMS  # pydantic's errors given a line, to find the first ones in the file


def _problems_from(error: ValidationError, data: Any, doc: Document, file: str) -> tuple[list[Problem], int]:
    """The problems of pydantic's errors in the order of the file, the first ones worded; and how many
    more there are."""
    errors = error.errors()
    located: list[tuple[int, Loc, Any]] = []
    for e in errors[:_LOCATED]:
        loc = _data_loc(tuple(e["loc"]), data)
        if not loc and "field" in e.get("ctx", {}):
            loc = (str(e["ctx"]["field"]),)  # a check of the whole issue that belongs to one field
        # An unknown key is at its own line, also when its value is a block below it.
        block = e["type"] == "extra_forbidden" and isinstance(e.get("input"), dict | list)
        located.append(((doc.key_line(loc) if block else doc.line(loc)) or 0, loc, e))
    located.sort(key=lambda x: x[0])
    found: list[tuple[Loc, str, Problem]] = []
    explained: set[Loc] = set()
    for line, loc, e in located[: MAX_PROBLEMS * 2]:
        message, missing = _message(e, loc, data, doc)
        if missing is not None:
            explained.add(missing)
        found.append((loc, e["type"], Problem(file, line or None, format_loc(loc), message)))
    # A key at the wrong indentation is one mistake, not also a key missing where it belongs.
    problems = [p for loc, kind, p in found if not (kind == "missing" and loc in explained)]
    return problems, len(errors) - len(found)


@dataclass(frozen=True)
class _Read:
    """An issue file's text read as far as it goes: its values, where they are, and what is wrong."""

    data: dict[str, Any]
    doc: Document
    issue: Issue | None
    problems: list[Problem]
    more: int  # mistakes beyond `problems`, counted but not worded


def _empty(file: str) -> IssueError:
    return IssueError([Problem(file, None, "", "the file is empty; copy an earlier issue to start")])


def _read(text: str, file: str) -> _Read:
    if not text.strip():
        raise _empty(file)
    try:
        doc = load_yaml(text, PLACES, "issue file")
    except YamlTextError as e:
        raise IssueError([Problem(file, m.line, "", m.message) for m in e.mistakes]) from None
    if doc.data is None:
        raise _empty(file)
    if not isinstance(doc.data, dict):
        raise IssueError(
            [Problem(file, 1, "", "an issue is a set of keys (subject:, preheader:, sections:, …)")]
        )
    problems = [Problem(file, m.line, format_loc(doc.loc_at(m.line) or ()), m.message) for m in doc.mistakes]
    shown = doc.duplicates[:MAX_PROBLEMS]
    problems += [Problem(file, line, format_loc(loc), "appears twice; keep one") for loc, line in shown]
    more = len(doc.duplicates) - len(shown)
    issue: Issue | None = None
    try:
        issue = Issue.model_validate(doc.data)
    except ValidationError as e:
        worded, uncounted = _problems_from(e, doc.data, doc, file)
        problems += worded
        more += uncounted
    return _Read(doc.data, doc, issue, problems, more)


def _raise_if(problems: list[Problem], more: int = 0) -> None:
    if not problems:
        return
    problems = sorted(problems, key=lambda p: p.line or 0)
    more += max(len(problems) - MAX_PROBLEMS, 0)
    problems = problems[:MAX_PROBLEMS]
    if more:
        message = f"and {more} more mistakes; fix these first, then validate again"
        problems.append(Problem(problems[0].file, None, "", message))
    raise IssueError(problems)


def parse(text: str, file: str = "<issue>") -> Issue:
    """Validate an issue file's text; raise IssueError listing every mistake with its line."""
    read = _read(text, file)
    _raise_if(read.problems, read.more)
    assert read.issue is not None
    return read.issue


def read_text(path: Path) -> str:
    """A file's text as UTF-8, or an IssueError that says where the first bad byte is."""
    try:
        return read_yaml(path, "an issue file")
    except YamlTextError as e:
        raise IssueError([Problem(str(path), m.line, "", m.message) for m in e.mistakes]) from None


def _image_srcs(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Every image `src` the file has, read from its values: also when other keys are wrong."""
    sections = data.get("sections")
    for i, section in enumerate(sections if isinstance(sections, list) else []):
        if not isinstance(section, dict):
            continue
        image = section.get("image")
        if isinstance(image, dict) and isinstance(image.get("src"), str):
            yield ("sections", i, "image", "src"), image["src"]
        columns = section.get("columns")
        for j, column in enumerate(columns if isinstance(columns, list) else []):
            image = column.get("image") if isinstance(column, dict) else None
            if isinstance(image, dict) and isinstance(image.get("src"), str):
                yield ("sections", i, "columns", j, "image", "src"), image["src"]


def _file_problems(
    path: Path, read: _Read, layouts: Collection[str] | None, audience: bool
) -> Iterator[tuple[Loc, str]]:
    """The files an issue names that are not there: its local images, its layout, its audience."""
    wrong = {p.field for p in read.problems}
    folder: Path | None = None
    for loc, src in _image_srcs(read.data):
        if format_loc(loc) in wrong or re.match(r"^[a-z][a-z0-9+.-]*:", src.strip(), re.IGNORECASE):
            continue
        folder = folder or path.parent.resolve()
        target = (folder / src.strip()).resolve()
        if not target.is_relative_to(folder):
            yield loc, "must stay inside the issue's folder"
        elif not target.is_file():
            yield loc, f"no image file {src.strip()!r} next to the issue"
    name = read.data.get("layout")
    if (
        layouts is not None
        and isinstance(name, str)
        and name.strip()
        and "layout" not in wrong
        and name not in layouts
    ):
        yield ("layout",), unknown_layout(name, layouts)
    file = read.data.get("audience")
    if audience and isinstance(file, str) and "audience" not in wrong:
        target = audience_path(path, file)
        if not target.is_file():
            yield (
                ("audience",),
                (
                    f"no audience file {file!r} next to the issue (looked for {target}); export the "
                    "audience there, or correct the name"
                ),
            )


def unknown_layout(name: str, known: Collection[str], root: Path | None = None) -> str:
    if not known:
        return f"unknown layout {name!r}; there are no layouts" + (f" in {root}" if root else "")
    return f"unknown layout {name!r}; choose one of: {', '.join(known)}"


def load(path: Path, *, layouts: Collection[str] | None = None, audience: bool = False) -> LoadedIssue:
    """Read, parse and check an issue file, including that the files it names exist: its local
    images, and with `layouts` its layout, with `audience` its audience file (only `validate` asks:
    a send may name another with --recipients)."""
    text = read_text(path)
    read = _read(text, str(path))
    problems = list(read.problems)
    for loc, message in _file_problems(path, read, layouts, audience):
        problems.append(_problem(str(path), read.doc.lines, loc, message))
    _raise_if(problems, read.more)
    assert read.issue is not None
    return LoadedIssue(issue=read.issue, slug=path.stem, path=path, lines=read.doc.lines)


def read_assets(loaded: LoadedIssue) -> dict[str, bytes]:
    """The bytes of every local image of an issue, by its `src`."""
    folder = loaded.path.parent
    return {image.src: (folder / image.src).read_bytes() for image in loaded.issue.images() if image.is_local}
