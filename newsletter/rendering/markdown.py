"""Markdown in issue texts, to email HTML and to plain text.

Raw HTML in a text is shown as text, never passed through: an issue file cannot smuggle a <script> or a
broken table into the email. The plain text comes from the same token stream, so every link is written
out and nothing is scraped back from HTML.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

_md = MarkdownIt("commonmark", {"html": False, "typographer": False, "linkify": False})
_md.disable(["image"])  # images are sections of their own, with required alt text

WIDTH = 72


# A heading in a text stands under its section's title (an h2): `#` becomes an h3, `##` an h4.
HEADING_SHIFT = 2
_HEADING_TAG = re.compile(r"<(/?)h([1-6])>")


def to_html(text: str, link_style: str = "") -> str:
    """CommonMark to HTML; links open in a new tab in webmail and take the layout's link colour."""
    html: str = _md.render(text).strip()
    if "<h" in html:  # raw HTML is off, so every such tag is a heading of the text
        html = _HEADING_TAG.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + HEADING_SHIFT, 6)}>", html)
    if link_style:
        html = html.replace("<a href=", f'<a style="{link_style}" target="_blank" href=')
    return html


def _inline_text(children: Sequence[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []  # (href, where its label starts in out)
    for tok in children:
        if tok.type in ("text", "code_inline", "html_inline"):
            out.append(tok.content)
        elif tok.type == "softbreak":
            out.append(" ")
        elif tok.type == "hardbreak":
            out.append("\n")
        elif tok.type == "link_open":
            links.append((str(tok.attrs.get("href", "")), len(out)))
        elif tok.type == "link_close" and links:
            href, start = links.pop()
            label = "".join(out[start:])
            shown = href.removeprefix("mailto:")
            # "label (https://…)", unless the label already is the address.
            if shown and shown != label:
                out.append(f" ({shown})")
    return "".join(out)


def _wrap(text: str, indent: str = "", first: str = "") -> str:
    lines = []
    for i, para_line in enumerate(text.split("\n")):
        lines.append(
            textwrap.fill(
                para_line,
                WIDTH,
                initial_indent=first if i == 0 else indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def to_text(text: str) -> str:
    """CommonMark to readable plain text: paragraphs wrapped at 72, lists with dashes, links written out."""
    blocks: list[tuple[bool, str]] = []  # (is a list item, text)
    numbers: list[int | None] = []  # per open list: None for bullets, else the last number used
    marker = ""
    list_ends: set[int] = set()  # blocks that end a list: a blank line after them, even before a list
    for tok in _md.parse(text):
        if tok.type == "bullet_list_open":
            numbers.append(None)
        elif tok.type == "ordered_list_open":
            numbers.append(int(tok.attrs.get("start", 1) or 1) - 1)
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            numbers.pop()
            if not numbers:
                list_ends.add(len(blocks) - 1)
        elif tok.type == "list_item_open":
            last = numbers[-1]
            if last is None:
                marker = "- "
            else:
                numbers[-1] = last + 1
                marker = f"{last + 1}. "
        elif tok.type == "inline":
            content = _inline_text(tok.children or [])
            lead = "  " * max(len(numbers) - 1, 0)
            if marker:
                blocks.append((True, _wrap(content, lead + " " * len(marker), lead + marker)))
                marker = ""
            else:
                indent = "  " * len(numbers)
                blocks.append((bool(numbers), _wrap(content, indent, indent)))
        elif tok.type in ("code_block", "fence"):
            blocks.append((False, tok.content.rstrip("\n")))
        elif tok.type == "hr":
            blocks.append((False, "-" * 20))
    out = ""
    previous_item = False
    for i, (is_item, block) in enumerate(blocks):
        if out:
            out += "\n" if is_item and previous_item and i - 1 not in list_ends else "\n\n"
        out += block
        previous_item = is_item
    return out
