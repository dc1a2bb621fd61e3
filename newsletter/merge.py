"""Merge fields: the per-recipient parts of an otherwise fixed email.

Authors write `{{ first_name }}` or `{{ first_name | default('lezer') }}` in any text of an issue, and
layouts place `{{ merge.unsubscribe_url }}`. Before the expensive pipeline runs, each such expression is
replaced by an opaque ASCII token that Markdown, Jinja2, MJML and premailer all pass through untouched
(no spaces, no punctuation: premailer percent-encodes spaces inside href values). After the pipeline the
finished HTML, text and subject are cut at the tokens into a `Plan`, which fills one recipient's values
with a single join: the expensive work runs once per issue, the merge once per recipient.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# `{{ name }}` or `{{ name | default('fallback') }}`, quotes single or double.
EXPRESSION = re.compile(
    r"""\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"""
    r"""(?:\|\s*default\(\s*(?P<q>['"])(?P<default>.*?)(?P=q)\s*\)\s*)?\}\}"""
)
ANY_BRACES = re.compile(r"\{\{.*?\}\}|\{\{|\}\}")
TOKEN = re.compile(r"NLMERGE(\d{1,6})X")

# Fields every recipient has, whatever the audience file holds.
BUILTIN_FIELDS = ("email", "first_name", "name", "unsubscribe_url", "view_url")


@dataclass(frozen=True)
class Field:
    """One merge expression: the field's name and the fallback for an empty or missing value."""

    name: str
    default: str | None = None


def check_expressions(text: str) -> str | None:
    """Why `text` holds a `{{ … }}` we cannot merge, or None when every one is well formed."""
    rest = EXPRESSION.sub("", text)
    bad = ANY_BRACES.search(rest)
    if bad is None:
        return None
    return (
        f"cannot understand merge field {bad.group(0)!r}; write {{{{ first_name }}}} or "
        f"{{{{ first_name | default('lezer') }}}}"
    )


@dataclass
class Tokens:
    """Hands out one token per distinct merge expression, in order of first use (deterministic)."""

    fields: list[Field] = field(default_factory=list)
    _index: dict[Field, int] = field(default_factory=dict)

    def token(self, f: Field) -> str:
        if f not in self._index:
            self._index[f] = len(self.fields)
            self.fields.append(f)
        return f"NLMERGE{self._index[f]}X"

    def replace(self, text: str) -> str:
        """`text` with every merge expression replaced by its token."""
        return EXPRESSION.sub(lambda m: self.token(Field(m["name"], m["default"])), text)


def escape_html(value: str) -> str:
    return html.escape(value, quote=True)


def keep(value: str) -> str:
    return value


@dataclass(frozen=True)
class Plan:
    """A finished text cut at its merge tokens: literal, field, literal, field, …, literal."""

    literals: tuple[str, ...]
    slots: tuple[int, ...]  # index into the field list, one per gap between literals

    @classmethod
    def compile(cls, text: str) -> Plan:
        parts = TOKEN.split(text)
        return cls(literals=tuple(parts[0::2]), slots=tuple(int(i) for i in parts[1::2]))

    def fill(self, values: tuple[str, ...], escape: Callable[[str], str] = keep) -> str:
        """The text with slot i replaced by `escape(values[slots[i]])`."""
        if not self.slots:
            return self.literals[0]
        out = [self.literals[0]]
        for slot, literal in zip(self.slots, self.literals[1:], strict=True):
            out.append(escape(values[slot]))
            out.append(literal)
        return "".join(out)


def resolve(fields: tuple[Field, ...], data: Mapping[str, str]) -> tuple[str, ...]:
    """The value of each field for one recipient: its own value, else the default.

    Raises KeyError naming the first field that has neither; the caller turns it into a MergeError
    that names the recipient. A built-in field (first_name, …) is never missing, only empty.
    """
    values = []
    for f in fields:
        value = data.get(f.name) or ""
        if not value.strip():
            if f.default is None and f.name not in data and f.name not in BUILTIN_FIELDS:
                raise KeyError(f.name)
            value = f.default or ""
        values.append(value)
    return tuple(values)
