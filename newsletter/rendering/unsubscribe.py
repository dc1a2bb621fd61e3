"""Every email carries a working unsubscribe link in its body, in the HTML and in the plain text.

The List-Unsubscribe header is not enough: many readers never see the button a mail program builds
from it, and look for the link at the foot of the message. The base layout's footer places it
(`footer_links`: `<a href="{{ merge.unsubscribe_url }}">`); an override of the page or its footer
can drop it without noticing, so a rendered issue without one is refused before anyone gets it.

A link counts when its address starts with the `unsubscribe_url` merge field, which the Composer
fills per recipient with their own signed address; a written-out address would not know who clicked.
"""

from __future__ import annotations

import re

from newsletter.errors import LayoutError, RenderError
from newsletter.model.merge import TOKEN, Tokens
from newsletter.reading.layouts import Layout

FIELD = "unsubscribe_url"
# An <a> tag whose href value starts with a merge token (a quoted value may hold ">").
_ANCHOR_TOKEN = re.compile(
    r"""<a\s(?:[^>"']|"[^"]*"|'[^']*')*?\bhref\s*=\s*(["'])\s*NLMERGE(\d{1,6})X""", re.IGNORECASE
)


def check_link(layout: Layout, html: str, text: str, tokens: Tokens) -> None:
    """Refuse a rendered issue whose HTML has no link to the reader's unsubscribe address (LayoutError:
    the layout left it out), or whose text part does not write that address out (RenderError)."""
    if not any(tokens.fields[int(m[2])].key == FIELD for m in _ANCHOR_TOKEN.finditer(html)):
        raise LayoutError(
            f"{layout.path}: the email has no unsubscribe link, which every email must carry; put it "
            'back in the footer: <a href="{{ merge.unsubscribe_url }}">{{ s.unsubscribe }}</a> '
            "(the base page's footer_links block holds it: keep that block, or {{ super() }} in it)"
        )
    if not any(tokens.fields[int(m[1])].key == FIELD for m in TOKEN.finditer(text)):
        raise RenderError(
            f"layout {layout.name!r}: the plain-text part has no unsubscribe link, which every email "
            "must carry"
        )
