"""An issue and a layout in, a `Rendered` out: Jinja2 → MJML → HTML → inlined CSS, and plain text.

Runs once per issue. Merge fields are swapped for tokens before anything else runs and are cut out
again at the end (see `newsletter.model.merge`), so the per-recipient work is a join.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import mjml
from markupsafe import Markup
from premailer import Premailer
from pydantic import BaseModel

from newsletter.errors import RenderError
from newsletter.model import (
    Article,
    ArticleImage,
    ButtonBlock,
    Callout,
    Columns,
    Divider,
    Events,
    Image,
    ImageBlock,
    Intro,
    Issue,
    Link,
    Rendered,
)
from newsletter.model.links import merged_link_problem
from newsletter.model.merge import (
    EXPRESSION,
    TRUSTED_FIELDS,
    Field,
    Plan,
    Tokens,
    mark_links,
    mark_markup,
    mark_text_links,
)
from newsletter.reading.layouts import Layout
from newsletter.rendering import access, emailimage, markdown, unsubscribe
from newsletter.rendering.dates import format_date, format_month, issue_month
from newsletter.rendering.images import Images, Process, image_heights

# Longer titles are cut in browser tabs and flagged by HTML validators; the Subject header keeps it all.
TITLE_LIMIT = 70


class _MergeTokens:
    """`{{ merge.unsubscribe_url }}` in a template: the token of that field."""

    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._tokens.token(Field(name))


def _tokenized(value: Any, tokens: Tokens) -> Any:
    """`value` (an issue, a section, a text…) with every merge expression in its texts replaced by its
    token: a copy, made field by field in the order of the model, so the tokens are numbered as the
    file reads."""
    if isinstance(value, str):
        return tokens.replace(value)
    if isinstance(value, list):
        return [_tokenized(v, tokens) for v in value]
    if isinstance(value, BaseModel):
        # The texts were validated when the issue was read; a token changes no verdict.
        return value.model_copy(
            update={k: _tokenized(getattr(value, k), tokens) for k in type(value).model_fields}
        )
    return value


def page_title(subject: str, limit: int = TITLE_LIMIT) -> str:
    """The HTML <title>: the subject with merge fields at their fallback, cut at a word to `limit`
    characters with an ellipsis.

    The title shows in a browser tab (the web version, a saved message); it carries no reader's
    value, so its length is known when the issue is rendered. The Subject header keeps it all.
    """
    # A field without a fallback leaves nothing, and no comma before the rest.
    text = " ".join(EXPRESSION.sub(lambda m: m["default"] or "", subject).split()).lstrip(" ,;:")
    if len(text) <= limit:
        return text
    kept = ""
    for word in text.split(" "):
        longer = f"{kept} {word}" if kept else word
        if len(longer) + 1 > limit:
            break
        kept = longer
    kept = kept or text[: limit - 1]  # one word longer than the limit
    return kept.rstrip(" ,;:-\u2013\u2014") + "\u2026"


class _Inliner(Premailer):  # type: ignore[misc]
    """Premailer that adds width, align, bgcolor … attributes from the styles but keeps MJML's own.

    Premailer overwrites them: an image's `width:100%` style replaced MJML's width="100" attribute,
    and Outlook sizes images by that attribute alone.
    """

    def _style_to_basic_html_attributes(
        self,
        element: Any,
        style_content: str,
        force: bool = False,  # noqa: ARG002 - premailer passes force=True; never overwrite
    ) -> None:
        super()._style_to_basic_html_attributes(element, style_content, force=False)


def _inline_css(html: str) -> str:
    # strip_important=False: the kept media queries need their !important to win over inline styles.
    # allow_network=False: MJML's web-font <link>s must not be fetched.
    # cssutils would log one warning per mso- property without the raised level.
    inliner = _Inliner(
        html,
        allow_network=False,
        strip_important=False,
        keep_style_tags=False,
        remove_classes=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        align_floating_images=False,
    )
    try:
        out: str = inliner.transform(pretty_print=False)
    except Exception as e:  # noqa: BLE001 - premailer raises many kinds; all mean the same here
        raise RenderError(f"the CSS inliner refused the rendered HTML: {e}") from None
    # premailer drops MRML's lower-case doctype, which would put the page in quirks mode.
    if not out.lstrip().lower().startswith("<!doctype"):
        out = "<!DOCTYPE html>\n" + out
    return out


def render(
    issue: Issue,
    layout: Layout,
    *,
    slug: str,
    assets: Mapping[str, bytes] | None = None,
    asset_base_url: str | None = None,
    view_url: str | None = None,
    process: Process = emailimage.process,
    assets_folder: str = "",
) -> Rendered:
    """Render an issue once: HTML with inlined CSS, plain text and subject, ready to merge.

    `assets` holds the bytes of the issue's local images (`issues.read_assets`), which are made for
    email by `process` (a cache's, or `emailimage.process`); without `asset_base_url` they are
    embedded as inline parts, with it they are linked there. `assets_folder` (where the images are,
    e.g. issues) only names a file that cannot be used.
    """
    tokens = Tokens()
    merged: Issue = _tokenized(issue, tokens)
    strings = layout.config.strings_for(issue.language)
    images = Images(assets or {}, layout, asset_base_url, process=process, folder=assets_folder)

    def image_url(image: Image) -> str:
        return images.url(image.src)

    config = layout.config
    logo_url = images.url(config.logo.src, from_layout=True) if config.logo else None
    logo_dark_url = images.url(config.logo_dark, from_layout=True) if config.logo_dark else None
    month = issue_month(slug, issue.send_at)
    link_style = f"color:{layout.config.brand.accent};text-decoration:underline;"
    filters: dict[str, Callable[[Any], Any]] = {
        "markdown": lambda text: Markup(markdown.to_html(text, link_style)),  # noqa: S704 - raw HTML is off
        "date": lambda day: format_date(day, issue.language),
    }
    context = {
        "issue": merged,
        "slug": slug,
        "lang": issue.language,
        "s": strings,
        "brand": layout.config.brand,
        "fonts": layout.config.fonts,
        "logo": layout.config.logo,
        "logo_url": logo_url,
        "logo_dark_url": logo_dark_url,
        "dark": config.dark_brand(),
        "date_label": format_month(month, issue.language) if month else None,
        "wordmark": layout.config.wordmark or layout.config.organisation.name,
        "org": layout.config.organisation,
        "list_name": layout.config.list_name,
        "merge": _MergeTokens(tokens),
        "view_url": view_url,
        "image_url": image_url,
        "title": page_title(issue.subject),
        **access.context(merged, layout),
    }
    source = layout.render(context, filters)
    try:
        html = mjml.mjml2html(source, fonts={})
    except ValueError as e:
        raise RenderError(f"layout {layout.name!r} produced MJML that does not parse: {e}") from None
    html = images.resolve(html)
    html = access.finish(image_heights(_inline_css(html), images.sizes))
    html = mark_markup(mark_links(html, tokens), tokens)
    text = mark_text_links(plain_text(merged, layout, view_url, tokens), tokens)
    unsubscribe.check_link(layout, html, text, tokens)
    _check_link_defaults(tokens)
    return Rendered(
        slug=slug,
        language=issue.language,
        subject=Plan.compile(merged.subject),
        preheader=Plan.compile(merged.preheader),
        html=Plan.compile(html),
        text=Plan.compile(text),
        fields=tuple(tokens.fields),
        images=tuple(images.inline[k] for k in sorted(images.inline)),
        list_name=layout.config.list_name,
        view_url=view_url,
        linked=tuple(images.linked[k] for k in sorted(images.linked)),
    )


def _check_link_defaults(tokens: Tokens) -> None:
    """A default that stands as a link's address must be a link itself: refused before any send."""
    for f in tokens.fields:
        if f.where != "link" or f.default is None or f.key in TRUSTED_FIELDS:
            continue
        problem = merged_link_problem(f.default)
        if problem is not None:
            raise RenderError(
                f"{{{{ {f.name} | default('{f.default}') }}}} is the address of a link, but its default "
                f"is {problem}"
            )


def _heading(title: str, underline: str) -> str:
    return f"{title}\n{underline * min(len(title), 72)}"


def _link_line(link: Link | None, strings: Mapping[str, str], title: str) -> list[str]:
    # The title too, as a screen reader hears the HTML's link: "Lees meer: <title> <url>".
    return [f"{link.label or strings['read_more']}: {title} {link.url}"] if link else []


def _image_link(image: Image | None, strings: Mapping[str, str]) -> list[str]:
    """An article's or a column's image in the text: "[Image: caption]" if it has a caption, else
    "[alt]" if it is a link, then the link's address; nothing for a plain image without a caption."""
    if image is None:
        return []
    link = f" ({image.href})" if image.href else ""
    if isinstance(image, ArticleImage) and image.caption:
        return [f"[{strings['image']}: {markdown.to_text(image.caption)}]{link}"]
    return [f"[{image.alt}]{link}"] if link else []


def plain_text(issue: Issue, layout: Layout, view_url: str | None, tokens: Tokens) -> str:
    """The text part, written from the model: headings, paragraphs and every link in full."""
    s = layout.config.strings_for(issue.language)
    org = layout.config.organisation
    blocks: list[str] = []
    if view_url:
        blocks.append(f"{s['view_in_browser']}: {view_url}")
    blocks.append(_heading(layout.config.list_name, "="))
    renderers: dict[type, Callable[[Any], list[str]]] = {
        Intro: lambda x: ([_heading(x.title, "-")] if x.title else []) + [markdown.to_text(x.body)],
        Article: lambda x: [
            _heading(x.title, "-"),
            *([x.kicker] if x.kicker else []),
            markdown.to_text(x.body),
            *_image_link(x.image, s),
            *_link_line(x.link, s, x.title),
        ],
        Callout: lambda x: [
            _heading(x.title, "*"),
            markdown.to_text(x.body),
            *([f"{x.button.label}: {x.button.url}"] if x.button else []),
        ],
        ImageBlock: lambda x: [
            f"[{x.image.alt}]" + (f" ({x.image.href})" if x.image.href else ""),
            *([markdown.to_text(x.caption)] if x.caption else []),
        ],
        ButtonBlock: lambda x: [f"{x.label}: {x.url}"],
        Divider: lambda _: ["-" * 20],
        Columns: lambda x: [
            "\n\n".join(
                [
                    _heading(c.title, "-"),
                    markdown.to_text(c.body),
                    *_image_link(c.image, s),
                    *_link_line(c.link, s, c.title),
                ]
            )
            for c in x.columns
        ],
        Events: lambda x: [
            _heading(x.title or s["events_title"], "-"),
            "\n\n".join(
                "\n".join(
                    [
                        "- "
                        + ", ".join(p for p in (format_date(e.date, issue.language), e.time) if p)
                        + f": {e.title}",
                        *([f"  {e.place}"] if e.place else []),
                        *([f"  {e.link.label or s['read_more']}: {e.link.url}"] if e.link else []),
                    ]
                )
                for e in x.events
            ),
        ],
    }
    for section in issue.sections:
        blocks.extend(renderers[type(section)](section))
    footer = [org.name, *org.address]
    footer += [v for v in (org.phone, org.email, org.website) if v]
    blocks.append("-- \n" + "\n".join(footer))
    blocks.append(s["preferences_intro"])
    blocks.append(f"{s['unsubscribe']}: {tokens.token(Field('unsubscribe_url'))}")
    text = "\n\n".join(b.strip("\n") for b in blocks if b.strip())
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"
