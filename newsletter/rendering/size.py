"""How big an email's HTML is, weighed against the size at which Gmail clips it.

Gmail shows the first 102 KB of a message's HTML and hides the rest behind "View entire message",
the footer with its unsubscribe link among it. `validate`, `render` and the preview all report this
one figure, so that they agree.
"""

from __future__ import annotations

from newsletter.model import Rendered

GMAIL_CLIP_BYTES = 102 * 1024


def html_size(html: str | Rendered) -> int:
    """The bytes Gmail weighs against GMAIL_CLIP_BYTES: an HTML part as a reader gets it (decoded,
    in UTF-8), or a rendered issue's HTML with every merge field empty, before anyone's name is in it.
    """
    if isinstance(html, Rendered):
        html = html.html.fill(("",) * len(html.fields))
    return len(html.encode("utf-8"))
