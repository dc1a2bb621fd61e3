"""The newsletter's data: an issue and its sections, a recipient, and a rendered issue.

These models are the contract of an issue file: unknown keys are errors, every image has alt text, and
text that ends up in a mail header cannot hold a line break.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from newsletter.model.links import is_issue_link, is_remote_image
from newsletter.model.merge import Field as MergeField
from newsletter.model.merge import Plan, check_expressions, html_values, place

Language = Literal["nl", "en", "fr", "de"]
LANGUAGES: tuple[Language, ...] = ("nl", "en", "fr", "de")


# A Markdown link [label](http://…) or <http://…> in a text.
_HTTP_IN_TEXT = re.compile(r"\]\(\s*<?(http://[^\s)>]+)|<(http://[^\s>]+)>", re.IGNORECASE)


def _text(value: str) -> str:
    problem = check_expressions(value)
    if problem:
        raise ValueError(problem)
    plain = _HTTP_IN_TEXT.search(value) if "ttp:" in value or "TTP:" in value else None
    if plain:
        link = plain.group(1) or plain.group(2)
        raise ValueError(
            f"the link {link} is a plain http:// link; write https://{link[7:]} "
            "(mail clients warn about http links)"
        )
    return value


def _nonempty_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return _text(value)


def _header_text(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must be one line: it becomes a mail header (use '>-' in YAML, or join the lines)")
    return _nonempty_text(value.strip())


def _url(value: str) -> str:
    value = value.strip()
    problem = check_expressions(value)
    if problem:
        raise ValueError(problem)
    bare = re.sub(r"\{\{.*?\}\}", "x", value)
    if bare.lower().startswith("http://"):
        # The README promises https: a plain http link makes mail clients and browsers warn the reader.
        raise ValueError(
            f"{value!r} is a plain http:// link; write https://{value[7:]} "
            "(mail clients warn about http links)"
        )
    if not is_issue_link(bare):
        raise ValueError(
            f"{value!r} is not a link; write a full address such as https://example.org/page "
            "or mailto:info@example.org"
        )
    return value


def _image_src(value: str) -> str:
    value = value.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*:", value, re.IGNORECASE):
        if not is_remote_image(value):
            raise ValueError(
                f"{value!r}: images must be https:// addresses or files beside the issue "
                "(mail clients block plain http images)"
            )
        return value
    if value.startswith("/") or "\\" in value or ".." in value.split("/"):
        raise ValueError(
            f"{value!r}: a local image is a path inside the issue's folder, such as images/photo.jpg"
        )
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_text)]
"""Markdown or plain text; may hold merge fields such as {{ first_name | default('reader') }}."""
Required = Annotated[str, AfterValidator(_nonempty_text)]
HeaderText = Annotated[str, AfterValidator(_header_text)]
Url = Annotated[str, AfterValidator(_url)]
ImageSrc = Annotated[str, AfterValidator(_image_src)]


# Far beyond a real issue (five to fifteen sections, an agenda of a few dates; Gmail cuts off an email
# after 102 KB anyway), and a bound on what one file can make us validate and render.
MAX_SECTIONS = 100
MAX_EVENTS = 100


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(Strict):
    """A link under an article, shown with the layout's "read more" text unless it has its own label."""

    url: Url
    label: HeaderText | None = None


class Button(Strict):
    label: HeaderText
    url: Url


class Image(Strict):
    """An image: an https address, or a file path relative to the issue file."""

    src: ImageSrc
    alt: Required = Field(description="What the image shows, for screen readers and blocked images.")
    width: int | None = Field(default=None, ge=16, le=600, description="Width in pixels; at most 600.")
    href: Url | None = None

    @property
    def is_local(self) -> bool:
        return not is_remote_image(self.src)


class ArticleImage(Image):
    """An article's image: above the title, or beside the text with `align`."""

    align: Literal["left", "right"] | None = Field(
        default=None,
        description=(
            "left or right: the image in one column beside the text on a desktop, above (left) or "
            "below (right) the text on a phone. Without it the image spans the article above its title."
        ),
    )
    caption: Text | None = Field(
        default=None, description="A line shown under the image (Markdown); also in the plain text."
    )


class Intro(Strict):
    """The opening words of the issue."""

    type: Literal["intro"]
    title: HeaderText | None = None
    body: Required


class Article(Strict):
    """A story: title, an optional kicker line, Markdown body, optional image and link."""

    type: Literal["article"]
    title: HeaderText
    kicker: HeaderText | None = Field(default=None, description="A subtitle line under the title.")
    body: Required
    image: ArticleImage | None = None
    link: Link | None = None


class Callout(Strict):
    """A coloured block with a short text and a button, e.g. a tip for the reader."""

    type: Literal["callout"]
    title: HeaderText
    body: Required
    button: Button | None = None


class ImageBlock(Strict):
    type: Literal["image"]
    image: Image
    caption: Text | None = None


class ButtonBlock(Strict):
    type: Literal["button"]
    label: HeaderText
    url: Url


class Divider(Strict):
    type: Literal["divider"]


class Column(Strict):
    """One side of a two-column pair: a short article."""

    title: HeaderText
    body: Required
    image: Image | None = None
    link: Link | None = None


class Columns(Strict):
    """Two short articles side by side on a desktop, one above the other on a phone."""

    type: Literal["columns"]
    columns: list[Column] = Field(min_length=2, max_length=2)


class Event(Strict):
    date: dt.date
    time: HeaderText | None = Field(default=None, description="Free text, e.g. 14:00 to 17:00.")
    title: HeaderText
    place: HeaderText | None = None
    link: Link | None = None


class Events(Strict):
    """A list of dates: what, when, where."""

    type: Literal["events"]
    title: HeaderText | None = None
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS)


Section = Annotated[
    Intro | Article | Callout | ImageBlock | ButtonBlock | Divider | Columns | Events,
    Field(discriminator="type"),
]
SECTION_TYPES = ("intro", "article", "callout", "image", "button", "divider", "columns", "events")


class Issue(Strict):
    """One issue of the newsletter, as written in an issue file."""

    subject: HeaderText
    preheader: HeaderText = Field(description="The line mail clients show after the subject.")
    language: Language
    layout: Required = Field(description="The name of a folder under layouts/.")
    audience: str | None = Field(default=None, description="Recipients CSV for this issue.")
    status: Literal["draft", "ready"] = "draft"
    send_at: dt.datetime | None = Field(
        default=None,
        description="When `newsletter dispatch` may send it, e.g. 2026-01-20T09:00 (NEWSLETTER_TIMEZONE).",
    )
    sections: list[Section] = Field(min_length=1, max_length=MAX_SECTIONS)

    @model_validator(mode="after")
    def _ready_needs_time(self) -> Issue:
        if self.status == "ready" and self.send_at is None:
            # `field` in the context lets the issue loader point at the status line.
            raise PydanticCustomError(
                "ready_without_send_at",
                "status is ready but send_at is missing: say when it may be sent",
                {"field": "status"},
            )
        return self

    def images(self) -> list[Image]:
        """Every image of the issue, in order."""
        found: list[Image] = []
        for s in self.sections:
            if isinstance(s, Article | ImageBlock) and s.image is not None:
                found.append(s.image)
            elif isinstance(s, Columns):
                found.extend(c.image for c in s.columns if c.image is not None)
        return found


def address_key(email: str) -> str:
    """The key an address is known by: in the ledger, on the suppression list, in a duplicate check,
    an unsubscribe token and a Message-ID. `An@Example.org` and `an@example.org` are one person.

    Changing it changes every token and Message-ID already sent, and unkeys the ledger's rows.
    """
    return email.lower()


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person to send to; `fields` holds the audience file's other columns for merging."""

    email: str
    first_name: str = ""
    name: str = ""
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """The address as the ledger and the suppression list know it (`address_key`)."""
        return address_key(self.email)

    def merge_data(self) -> dict[str, str]:
        data = dict(self.fields)
        data["email"] = self.email
        if self.first_name:
            data["first_name"] = self.first_name
        if self.name:
            data["name"] = self.name
        return data


# Who a render or a preview without an audience is for: a name and an address that read the same in
# every language an issue may be written in.
SAMPLE_RECIPIENT = Recipient(email="reader@example.org", first_name="Sam", name="Sam")


@dataclass(frozen=True)
class InlineImage:
    """A local image as readers get it, made for email: sent inside the message and referred to as
    cid:<cid>, or linked under the asset base address at `path`. The path is named by the content
    (images/photo-1a2b3c4d.jpg for images/photo.jpg), so that an address always means the same bytes;
    `source` is the original's path (the issue's `src`, or layouts/<name>/<src> for the layout's)."""

    cid: str
    filename: str
    content_type: str
    data: bytes
    path: str = ""
    source: str = ""


@dataclass(frozen=True)
class Rendered:
    """An issue rendered once: finished HTML and text, cut into plans for the per-recipient merge."""

    slug: str
    language: Language
    subject: Plan
    preheader: Plan
    html: Plan
    text: Plan
    fields: tuple[MergeField, ...]
    images: tuple[InlineImage, ...]
    list_name: str
    view_url: str | None = None
    # The local images linked under the asset base address instead (the files to publish there).
    linked: tuple[InlineImage, ...] = ()

    @property
    def link_fields(self) -> tuple[MergeField, ...]:
        """The fields that stand at the start of a link's address: each value must be a link."""
        return tuple(f for f in self.fields if f.where == "link")

    def values_for(self, data: Mapping[str, str]) -> tuple[str, ...]:
        """Each merge field's value from `data`, else its default, else empty (previews, the web);
        a value that is no link where a link's address starts becomes "#"."""
        return tuple(place(f, data.get(f.key) or f.default or "", strict=False) for f in self.fields)

    def sample_html(self, data: Mapping[str, str]) -> str:
        """The HTML with every merge field filled from `data` or its default."""
        return self.html.fill(html_values(self.fields, self.values_for(data)))
