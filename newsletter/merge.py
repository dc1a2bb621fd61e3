"""Merge fields: the per-recipient parts of an otherwise fixed email.

Authors write `{{ first_name }}` or `{{ first_name | default('lezer') }}` in any text of an issue, and
layouts place `{{ merge.unsubscribe_url }}`. Before the expensive pipeline runs, each such expression is
replaced by an opaque ASCII token that Markdown, Jinja2, MJML and premailer all pass through untouched
(no spaces, no punctuation: premailer percent-encodes spaces inside href values). After the pipeline the
finished HTML, text and subject are cut at the tokens into a `Plan`, which fills one recipient's values
with a single join: the expensive work runs once per issue, the merge once per recipient.

A field that stands in the address of a link (`href`, `src`) is data that must stay data. At the
start of the address (`[site]({{ website }})`) its value must itself be a link, https:// or mailto:
(`links.merged_link_problem`): the audience check skips a row whose value is not, and `resolve`
refuses it. Further in (`https://example.org/?id={{ id }}`) the value is percent-encoded, so that a
space, `&`, `#` or `:` in it cannot change where the link goes. `mark_links` tells the two apart in
the finished HTML and text, giving each such use a field of its own (`Field.where`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from newsletter.links import merged_link_problem

# `{{ name }}` or `{{ name | default('fallback') }}`, quotes single or double.
EXPRESSION = re.compile(
    r"""\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"""
    r"""(?:\|\s*default\(\s*(?P<q>['"])(?P<default>.*?)(?P=q)\s*\)\s*)?\}\}"""
)
ANY_BRACES = re.compile(r"\{\{.*?\}\}|\{\{|\}\}")
TOKEN = re.compile(r"NLMERGE(\d{1,6})X")

# Fields every recipient has, whatever the audience file holds.
BUILTIN_FIELDS = ("email", "first_name", "name", "unsubscribe_url", "view_url")
# Fields the Composer fills from the settings, never from the audience file.
TRUSTED_FIELDS = ("unsubscribe_url", "view_url")

# Where a field stands: in text, at the start of a link's address, or further in the address.
Where = Literal["text", "link", "url"]
# Left as they are inside an address: "@" keeps an email address readable and means nothing there.
URL_SAFE = "@"


@dataclass(frozen=True)
class Field:
    """One merge expression: the field's name and the fallback for an empty or missing value."""

    name: str
    default: str | None = None
    where: Where = "text"


class BadLink(ValueError):
    """A merge value at the start of a link is not a link."""

    def __init__(self, f: Field, value: str, problem: str) -> None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        super().__init__(f"{{{{ {f.name} }}}} is the address of a link, but {shown!r} is {problem}")
        self.field = f


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
    """The value of each field for one recipient: its own value, else the default, as its place
    needs it (see `place`).

    Raises KeyError naming the first field that has neither; the caller turns it into a MergeError
    that names the recipient. A built-in field (first_name, …) is never missing, only empty. Raises
    BadLink for a value at the start of a link that is not one.
    """
    values = []
    for f in fields:
        value = data.get(f.name) or ""
        if not value.strip():
            if f.default is None and f.name not in data and f.name not in BUILTIN_FIELDS:
                raise KeyError(f.name)
            value = f.default or ""
        if f.where != "text":
            value = place(f, value)
        values.append(value)
    return tuple(values)


def place(f: Field, value: str, *, strict: bool = True) -> str:
    """`value` as it may stand where `f` is: percent-encoded inside an address, checked at its start.

    A bad link raises BadLink, or with `strict` False (previews, the web archive) becomes "#".
    """
    if f.where == "url":
        return quote(value, safe=URL_SAFE)
    if f.where == "link" and f.name not in TRUSTED_FIELDS:
        problem = merged_link_problem(value)
        if problem is not None:
            if strict:
                raise BadLink(f, value, problem)
            return "#"
    return value


def link_problem(fields: tuple[Field, ...], data: Mapping[str, str]) -> str | None:
    """Why one recipient's values would make a bad link where `fields` stand, or None.

    For the audience check before a send: the row is skipped with this reason.
    """
    for f in fields:
        if f.where != "link" or f.name in TRUSTED_FIELDS:
            continue
        value = data.get(f.name) or ""
        if not value.strip():
            value = f.default or ""
        try:
            place(f, value)
        except BadLink as e:
            return str(e)
    return None


# An attribute whose value the mail client follows or loads: a link, an image, a form.
_ADDRESS_ATTRIBUTE = re.compile(r"""(?i)(\b(?:href|src|background|action|poster)\s*=\s*)("[^"]*"|'[^']*')""")
# An address written out in the plain text.
_TEXT_ADDRESS = re.compile(r"(?i)\b(?:https?://|mailto:)\S+")


def mark_links(html_text: str, tokens: Tokens) -> str:
    """The finished HTML with the tokens inside href/src values replaced by "link" or "url" fields."""

    def attribute(m: re.Match[str]) -> str:
        quoted = m[2]
        inner = quoted[1:-1]
        start = 1 + len(inner) - len(inner.lstrip())

        def token(t: re.Match[str]) -> str:
            where: Where = "link" if t.start() == start else "url"
            return _retoken(tokens, int(t[1]), where)

        return m[1] + TOKEN.sub(token, quoted)

    return _ADDRESS_ATTRIBUTE.sub(attribute, html_text)


def mark_text_links(text: str, tokens: Tokens) -> str:
    """The finished text with the tokens inside written-out addresses replaced by "url" fields."""

    def address(m: re.Match[str]) -> str:
        return TOKEN.sub(lambda t: _retoken(tokens, int(t[1]), "url"), m[0])

    return _TEXT_ADDRESS.sub(address, text)


def _retoken(tokens: Tokens, index: int, where: Where) -> str:
    f = tokens.fields[index]
    return tokens.token(Field(f.name, f.default, where))
