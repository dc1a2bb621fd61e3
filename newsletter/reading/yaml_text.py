"""YAML written by hand (issue files, layout.yaml): read within a size cap, composed by libyaml, refused
before anything expands when it uses anchors and aliases or nests absurdly deep, and located: the line
and column of every key by its path. Syntax mistakes are put in plain words by `yaml_words`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import yaml

from newsletter.reading import yaml_words
from newsletter.reading.yaml_lines import Explained, Mistake, Places, looks_like_key

Loc = tuple[str | int, ...]

# " #1" after a text: YAML starts a comment at " #" and drops the rest of the line, which was meant as
# text ("Nummer #1", "#POMLimburg"); a comment has a space after its "#" or more than one before it.
_HASHTAG = re.compile(r" #[^\s#]")  # a plain text ends on a non-space: right after it is " #word"

# A real issue is about 10 KB and a layout.yaml 2 KB; a megabyte is text pasted by mistake (an image
# as base64) or a file made to exhaust us. Refused before it is parsed.
MAX_BYTES = 1_000_000
# An issue goes six levels deep (sections[0].columns[1].image.src); the walk below and the constructor
# recurse, and libyaml alone would allow a thousand levels.
MAX_DEPTH = 24
# Each certain fix lets the reading go on to the next mistake, at the cost of reading the file again:
# at most 30 fixes, and no more rereading than 1 MB of text (a 100 KB file gets ten, an issue 30).
_MAX_FIXES = 30
_REREAD_BUDGET = MAX_BYTES

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[misc,valid-type]
    """libyaml's safe loader when present (ten times faster, same marks), dates left as text.

    YAML would turn `2026-02-30` into a date itself and fail without saying where; as text, the
    model parses it and the error names the field and its line.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }


class YamlTextError(Exception):
    """A file that cannot be read as YAML; `mistakes` says why, each with its line."""

    def __init__(self, mistakes: list[Mistake]) -> None:
        super().__init__("; ".join(m.message for m in mistakes))
        self.mistakes = mistakes


@dataclass
class Document:
    """A file's values, where each of them is, and the syntax mistakes read past on the way."""

    data: Any
    root: yaml.Node | None = None
    lines: dict[Loc, int] = field(default_factory=dict)  # 1-based line of each value (a scalar: its key's)
    duplicates: list[tuple[Loc, int]] = field(default_factory=list)
    mistakes: list[Mistake] = field(default_factory=list)

    def line(self, loc: Loc) -> int | None:
        """The line of the deepest part of `loc` that the file has (a missing key: its parent)."""
        while loc not in self.lines and loc:
            loc = loc[:-1]
        return self.lines.get(loc)

    def loc_at(self, line: int | None) -> Loc | None:
        """The deepest key on `line`, else the last key above it (a line of its text)."""
        if line is None:
            return None
        keys = [loc for loc, at in self.lines.items() if at <= line and loc and isinstance(loc[-1], str)]
        return max(keys, key=lambda loc: (self.lines[loc], len(loc))) if keys else None

    @cached_property
    def keys(self) -> dict[Loc, tuple[int, int]]:
        """The 1-based line and 0-based column of each key.

        Only messages about keys need them: worked out when first asked for, not on every read.
        """
        found: dict[Loc, tuple[int, int]] = {}
        todo: list[tuple[yaml.Node, Loc]] = [(self.root, ())] if self.root is not None else []
        while todo:
            node, loc = todo.pop()
            if isinstance(node, yaml.SequenceNode):
                todo.extend((item, (*loc, i)) for i, item in enumerate(node.value))
            elif isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    here = (*loc, str(key.value))
                    found.setdefault(here, (key.start_mark.line + 1, key.start_mark.column))
                    todo.append((value, here))
        return found

    def column(self, loc: Loc) -> int:
        """The column of the key at `loc` (0 when there is none)."""
        return self.keys.get(loc, (0, 0))[1]

    def key_column(self, loc: Loc) -> int | None:
        """Where the keys of the mapping at `loc` start."""
        node = self._node(loc)
        return (
            node.value[0][0].start_mark.column if isinstance(node, yaml.MappingNode) and node.value else None
        )

    def is_flow(self, loc: Loc) -> bool:
        """The mapping at `loc` is written as {key: value, …}."""
        node = self._node(loc)
        return isinstance(node, yaml.MappingNode) and bool(node.flow_style)

    def key_line(self, loc: Loc) -> int | None:
        """The line of the key at `loc` itself (`line` gives a nested block's first line instead)."""
        return self.keys[loc][0] if loc in self.keys else self.line(loc)

    def _node(self, loc: Loc) -> yaml.Node | None:
        node = self.root
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if str(k.value) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                return None
        return node


def _too_big(line: int, kind: str) -> Mistake:
    """`kind` is the file's kind as the caller names it ("an issue file", "layout file")."""
    passes = f"the file passes {MAX_BYTES // 1_000_000} MB here"
    if "layout" in kind:
        # A layout's only image is its logo, which is a file in the layout's folder.
        return Mistake(
            line,
            f"{passes}, far more than a layout file (about 2 KB); if an image was pasted in, save it "
            "as a file in the layout's folder and name it under logo: with src:",
        )
    return Mistake(
        line,
        f"{passes}, far more than a newsletter's text (about 10 KB); if an image was pasted in, save "
        "it as a file of its own and name it with src:",
    )


def read(path: Path, kind: str) -> str:
    """A file's text as UTF-8 (a byte order mark is fine), never more than MAX_BYTES of it."""
    try:
        with path.open("rb") as file:
            # Sized from the file, as read_bytes() does: a read of MAX_BYTES would first allocate all
            # of it. Something without a size (a pipe) or that grew is read on up to the cap.
            size = os.fstat(file.fileno()).st_size
            raw = file.read(min(size, MAX_BYTES) + 1)
            if size < len(raw) <= MAX_BYTES:
                raw += file.read(MAX_BYTES + 1 - len(raw))
    except FileNotFoundError:
        raise YamlTextError([Mistake(None, "no such file")]) from None
    except IsADirectoryError:
        raise YamlTextError([Mistake(None, f"is a folder, not {kind}")]) from None
    except OSError as e:
        raise YamlTextError([Mistake(None, f"cannot read it: {e.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise YamlTextError([_too_big(raw[:MAX_BYTES].count(b"\n") + 1, kind)])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise YamlTextError([Mistake(line, "is not UTF-8 text; save it as UTF-8 in your editor")]) from None


class _Refused(Exception):
    def __init__(self, mistake: Mistake) -> None:
        self.mistake = mistake


class _Walk:
    """One pass over the composed nodes: lines and columns by path, duplicate keys, and the checks
    that must come before the values are built."""

    def __init__(self, text: str, doc: Document, what: str) -> None:
        self.text = text
        self.doc = doc
        self.what = what
        self.seen: set[int] = set()
        self.ampersand = "&" in text  # else no text can start with one: a check saved per value
        self.hashtag = _HASHTAG.search(text) is not None
        self.hashtags: list[int] = []  # 0-based lines of texts cut short by a #word
        self.open_quotes: list[int] = []  # 0-based lines of quoted texts that seem never closed
        self.anchors: list[tuple[int, int]] = []  # texts that start with &: 0-based line, index

    def node(self, node: yaml.Node, loc: Loc, depth: int) -> None:
        """Record `node` at `loc` and walk what it holds; scalars are handled inline (most nodes are)."""
        if depth > MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} levels deep, far deeper than any {self.what} needs"
            raise _Refused(Mistake(node.start_mark.line + 1, message + "; check the indentation"))
        doc, seen, text = self.doc, self.seen, self.text
        start = node.start_mark
        doc.lines[loc] = start.line + 1
        if self.ampersand and text.startswith("&", start.index):
            raise _Refused(self.anchor(start.line + 1, start.index))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                # libyaml composes an alias as the very node it names: a node met twice is an alias,
                # found here before anything is expanded, so "a billion laughs" costs no more than
                # its own text. Refused outright, not counted against a bound: a hand-written issue
                # never needs them, a refusal has no limit to tune, and an error in a shared text
                # would name only one of the places it stands.
                if id(item) in seen:
                    raise _Refused(self.alias())
                seen.add(id(item))
                if isinstance(item, yaml.ScalarNode):
                    doc.lines[(*loc, i)] = item.start_mark.line + 1
                    if item.style or self.ampersand or self.hashtag:
                        self._scalar(item)
                else:
                    self.node(item, (*loc, i), depth + 1)
            return
        if not isinstance(node, yaml.MappingNode):
            return
        names: set[str] = set()
        for key, value in node.value:
            if id(value) in seen:
                raise _Refused(self.alias())
            seen.add(id(value))
            name = str(key.value)
            here = (*loc, name)
            mark = key.start_mark
            if name in names:
                doc.duplicates.append((here, mark.line + 1))
            names.add(name)
            if isinstance(value, yaml.ScalarNode):
                doc.lines[here] = mark.line + 1  # a scalar is on its key's line
                if value.style or self.ampersand or self.hashtag:
                    self._scalar(value)
            else:
                self.node(value, here, depth + 1)  # a nested block: its own first line

    def _scalar(self, node: yaml.ScalarNode) -> None:
        start = node.start_mark
        if self.ampersand and self.text.startswith("&", start.index):
            self.anchors.append((start.line, start.index))
        if self.hashtag and not node.style and _HASHTAG.match(self.text, node.end_mark.index):
            self.hashtags.append(start.line)
        if node.style in ('"', "'") and node.end_mark.line > start.line:
            self._quoted_lines(start.line, node.end_mark.line)

    def _quoted_lines(self, first: int, last: int) -> None:
        """A quoted text over several lines whose next lines look like keys: its closing quote is missing."""
        if self.open_quotes:
            return  # one is fixed per reading; the next reading finds the next
        if any(looks_like_key(line) for line in self.lines[first + 1 : last + 1]):
            self.open_quotes.append(first)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def alias(self) -> Mistake:
        line, name = _first_alias(self.text)
        return Mistake(
            line,
            f"anchors and aliases (&{name} / *{name}) are not used in {self.what}s; write the text out "
            "in full where you need it",
        )

    def anchor(self, line: int, index: int) -> Mistake:
        """An anchored list or mapping: refused with the alias that uses it, if there is one."""
        if _first_alias(self.text)[0] is not None:
            return self.alias()
        name = re.match(r"&([^\s,\[\]{}]*)", self.text[index:])
        return Mistake(
            line, f"anchors (&name) are not used in {self.what}s; remove &{name.group(1) if name else ''}"
        )


def _first_alias(text: str) -> tuple[int | None, str]:
    """Where the first *alias is, and its name (walking events: an alias is one event, nothing expands)."""
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            return (event.start_mark.line + 1 if event.start_mark else None), str(event.anchor)
    return None, "name"


def load(text: str, places: Places, what: str) -> Document:
    """Read `text` as YAML; raise YamlTextError when it cannot be read, with every mistake found.

    A syntax mistake whose fix is certain is fixed in place and the reading goes on, so that one run
    reports it and every mistake after it; the Document carries those mistakes, to be reported.
    """
    if len(text) > MAX_BYTES:
        raise YamlTextError([_too_big(text[:MAX_BYTES].count("\n") + 1, what)])
    mistakes: list[Mistake] = []
    fixed: set[int] = set()
    fixes = max(1, min(_MAX_FIXES, _REREAD_BUDGET // max(len(text), 1)))
    for _ in range(fixes):
        doc = Document(data=None)
        loader = Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                doc.mistakes = mistakes
                return doc
            doc.root = node
            walk = _Walk(text, doc, what)
            walk.node(node, (), 0)
            explained = _fixable(text, walk)
            if explained is None:
                doc.data = loader.construct_document(node)
                doc.mistakes = mistakes
                return doc
        except _Refused as refused:
            raise YamlTextError([*mistakes, refused.mistake]) from None
        except yaml.MarkedYAMLError as e:
            explained = yaml_words.explain(text, e, places)
        except yaml.YAMLError as e:
            raise YamlTextError([*mistakes, Mistake(None, f"not valid YAML: {e}")]) from None
        finally:
            loader.dispose()
        if explained.line in fixed:
            break  # a fix that did not help: its first message stands
        mistakes.extend(explained.mistakes)
        if explained.text is None or explained.line is None:
            break
        fixed.add(explained.line)
        text = explained.text
    raise YamlTextError(mistakes)


def _fixable(text: str, walk: _Walk) -> Explained | None:
    """The first mistake the walk found that parses but would not mean what its writer meant."""
    if not walk.open_quotes and not walk.anchors and not walk.hashtags:
        return None
    lines = text.split("\n")
    for line in walk.open_quotes:
        if explained := yaml_words.unclosed_quote(lines, line):
            return explained
    for line in walk.hashtags:
        if explained := yaml_words.hashtag(lines, line):
            return explained
    for line, index in walk.anchors:
        # `title: &Co nieuws` would lose "&Co" silently: YAML reads it as the name of the text.
        if explained := yaml_words.anchored_text(lines, line):
            return explained
        raise _Refused(walk.anchor(line + 1, index))
    return None
