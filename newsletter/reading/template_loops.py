"""Templates that extend or include each other in a circle, found when the layout loads.

Jinja2 follows such a circle until Python's recursion limit, and the writer would see a
RecursionError traceback instead of the line to change. The natural mistake is an override that
extends its own name, `{% extends "sections/callout.mjml.j2" %}` in `sections/callout.mjml.j2`,
where `base/sections/callout.mjml.j2` was meant: a name without `base/` is the folder's own template
when it has one.

Only names written out are followed; an include whose name is computed (the page's
`"sections/" ~ section.type ~ ".mjml.j2"`) is left to the guard in `Layout.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import nodes

from newsletter.errors import LayoutError

# A tag that names a template: its keyword, and how a message says what it does.
_TAGS: dict[type[nodes.Node], tuple[str, str, str]] = {
    nodes.Extends: ("extends", "extends", "extend"),
    nodes.Include: ("include", "includes", "include"),
    nodes.Import: ("import", "imports", "import"),
    nodes.FromImport: ("from", "imports", "import"),
}


@dataclass(frozen=True)
class _Template:
    """A template as the loader finds it: the folder's own (`own`) or the base layout's."""

    name: str
    own: bool

    def __str__(self) -> str:
        return self.name if self.own else f"base/{self.name}"


@dataclass(frozen=True)
class _Reference:
    """A tag at `line` of `source` that names `written`, which the loader finds as `target`."""

    source: _Template
    line: int
    keyword: str
    written: str
    target: _Template

    def tag(self, name: str) -> str:
        if self.keyword == "from":
            return f'{{% from "{name}" import … %}}'
        if self.keyword == "import":
            return f'{{% import "{name}" as … %}}'
        return f'{{% {self.keyword} "{name}" %}}'

    @property
    def verb(self) -> str:
        return next(v for k, v, _ in _TAGS.values() if k == self.keyword)

    @property
    def action(self) -> str:
        return next(a for k, _, a in _TAGS.values() if k == self.keyword)


class _Graph:
    """The templates of a layout folder over the base layout, and the written-out names they use."""

    def __init__(
        self, env: jinja2.Environment, folder: Path, own: list[str], base_folder: Path, base: tuple[str, ...]
    ) -> None:
        self.env, self.folder, self.own, self.base_folder, self.base = env, folder, own, base_folder, base
        self._edges: dict[_Template, list[_Reference]] = {}

    def resolve(self, written: str) -> _Template | None:
        """The template the loader gives for `written`: `base/…` is the base's; any other name the
        folder's own if it has it, else the base's (None when neither has it: reported elsewhere)."""
        if written.startswith("base/"):
            name = written.removeprefix("base/")
            return _Template(name, own=False) if name in self.base else None
        if written in self.own:
            return _Template(written, own=True)
        return _Template(written, own=False) if written in self.base else None

    def edges(self, template: _Template) -> list[_Reference]:
        if template not in self._edges:
            file = (self.folder if template.own else self.base_folder) / template.name
            tree = self.env.parse(file.read_text(encoding="utf-8"), str(template), str(file))
            found = []
            for tag in tree.find_all(tuple(_TAGS)):
                name = getattr(tag, "template", None)
                if isinstance(name, nodes.Const) and isinstance(name.value, str):
                    target = self.resolve(name.value)
                    if target is not None:
                        keyword = _TAGS[type(tag)][0]
                        found.append(_Reference(template, tag.lineno, keyword, name.value, target))
            self._edges[template] = found
        return self._edges[template]

    def loop_from(self, start: _Template) -> list[_Reference] | None:
        """A circle of references back to `start`, the first found depth first, or None."""
        path: list[_Reference] = []
        seen: set[_Template] = set()

        def visit(template: _Template) -> list[_Reference] | None:
            for ref in self.edges(template):
                if ref.target == start:
                    return [*path, ref]
                if ref.target in seen:
                    continue
                seen.add(ref.target)
                path.append(ref)
                loop = visit(ref.target)
                path.pop()
                if loop is not None:
                    return loop
            return None

        return visit(start)


def check(
    env: jinja2.Environment, folder: Path, own: list[str], base_folder: Path, base: tuple[str, ...]
) -> None:
    """Refuse the folder's templates if one of them leads back to itself through `{% extends %}`,
    `{% include %}` or `{% import %}` (LayoutError at the tag that starts the circle)."""
    graph = _Graph(env, folder, own, base_folder, base)
    for name in own:
        loop = graph.loop_from(_Template(name, own=True))
        if loop is not None:
            raise LayoutError(_message(folder, loop, base))


def _message(folder: Path, loop: list[_Reference], base: tuple[str, ...]) -> str:
    first = loop[0]
    where = f"{folder / first.source.name}:{first.line}: {first.tag(first.written)}"
    if len(loop) == 1:
        what = f"{where} {first.verb} this same template, so it never ends"
    else:
        chain = ", which ".join(f"{r.verb} {r.target}" for r in loop[1:])
        what = f"{where} leads back to this template ({first.target} {chain}), so it never ends"
    if first.target.own and first.target.name in base:
        meant = f"base/{first.target.name}"
        return f"{what}; to {first.action} the base layout's, write {first.tag(meant)}"
    return f"{what}; take it out, or name a template that does not lead back here"
