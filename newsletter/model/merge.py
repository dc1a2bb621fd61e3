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

A field matches an audience column as a person means it: `field_key` is the one normalisation of
both names (case, accents and punctuation do not count, and the usual names of the address, first
name and name columns in our users' languages are one field), so `{{ voornaam }}` and
`{{ first_name }}` both fill from a `Voornaam` column.

A value with a line break (Excel's Alt+Enter in an address cell) keeps it: in the HTML text as
`<br>`, in the plain text as a line break. Inside a tag or the document's head (an `alt`, the
`<title>`), where `<br>` would show as written, the break stays whitespace (`mark_markup`); in a header
it becomes a space (`headers.clean`).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from newsletter.model.links import merged_link_problem

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

# The names people give the columns every recipient has, as Excel or a CRM exports them: each list is
# one field. Written as people write them; `field_key` compares them as it compares every name.
ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "e-mailadres", "emailadres", "email address", "mail", "courriel"),
    "first_name": ("first_name", "firstname", "first name", "voornaam", "prénom", "vorname"),
    "name": ("name", "naam", "full_name", "full name", "nom", "volledige naam"),
}
_NOT_WORD = re.compile(r"[^0-9a-z_]+")


def field_spelling(name: str) -> str:
    """`name` as a merge field can be written: lower case, accents dropped ("Prénom" → "prenom"),
    each run of other characters one "_" ("Lid sinds" → "lid_sinds")."""
    plain = unicodedata.normalize("NFKD", name.strip().casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return _NOT_WORD.sub("_", plain).strip("_")


_ALIAS = {field_spelling(alias): key for key, aliases in ALIASES.items() for alias in aliases}


def field_key(name: str) -> str:
    """The one normalisation of a column header and of a merge field's name: two names are the same
    field when their keys are equal ("Voornaam", "VOORNAAM", "first_name" and "Prénom" are all
    "first_name"; "E-mail" is "email"; "Gemeente" is "gemeente")."""
    spelled = field_spelling(name)
    return _ALIAS.get(spelled, spelled)


# Where a field stands: in text, at the start of a link's address, further in the address, or inside
# a tag or the head of the HTML (where markup such as <br> would show as written).
Where = Literal["text", "link", "url", "markup"]
# Left as they are inside an address: "@" keeps an email address readable and means nothing there.
URL_SAFE = "@"


@dataclass(frozen=True)
class Field:
    """One merge expression: the field's name as written, the fallback for an empty or missing value,
    and `key`, the name the audience's values are found by (`field_key`)."""

    name: str
    default: str | None = None
    where: Where = "text"
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Once per expression at render time: the per-recipient merge only looks the key up.
        object.__setattr__(self, "key", field_key(self.name))


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
        f"{{{{ first_name | default('reader') }}}}"
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


def escape_html_text(value: str) -> str:
    """`value` escaped for the text of an HTML element, a line break in it kept as `<br>`."""
    escaped = html.escape(value, quote=True)
    return escaped.replace("\n", "<br>\n") if "\n" in escaped else escaped


def html_escape(f: Field) -> Callable[[str], str]:
    """How a value of `f` is escaped in the HTML: as element text (line breaks as `<br>`), or, in a
    tag or the head, as it is with only the markup characters escaped."""
    return escape_html_text if f.where == "text" else escape_html


def html_values(fields: tuple[Field, ...], values: tuple[str, ...]) -> tuple[str, ...]:
    """Each value escaped for where its field stands in the HTML: fill the HTML plan with these."""
    return tuple(html_escape(f)(v) for f, v in zip(fields, values, strict=True))


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
        value = data.get(f.key) or ""
        if not value.strip():
            if f.default is None and f.key not in data and f.key not in BUILTIN_FIELDS:
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
    if f.where == "link" and f.key not in TRUSTED_FIELDS:
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
        if f.where != "link" or f.key in TRUSTED_FIELDS:
            continue
        value = data.get(f.key) or ""
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


# A tag with its attributes (a quoted value may hold ">"), and where the document's body starts.
_TAG = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")
_BODY = re.compile(r"(?i)<body\b")


def mark_markup(html_text: str, tokens: Tokens) -> str:
    """The finished HTML with the text tokens inside a tag or the head replaced by "markup" fields.

    Run after `mark_links`. A "text" field then stands only in the text of an element, where a line
    break in its value may become `<br>`; in an attribute or the `<title>` it would show as written.
    """

    def retoken(t: re.Match[str]) -> str:
        index = int(t[1])
        return _retoken(tokens, index, "markup") if tokens.fields[index].where == "text" else t[0]

    body = _BODY.search(html_text)
    start = body.start() if body else 0
    head = TOKEN.sub(retoken, html_text[:start])
    return head + _TAG.sub(lambda m: TOKEN.sub(retoken, m[0]), html_text[start:])


def _retoken(tokens: Tokens, index: int, where: Where) -> str:
    f = tokens.fields[index]
    return tokens.token(Field(f.name, f.default, where))
