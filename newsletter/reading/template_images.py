"""The images a layout's own templates write must say what they show: an `<mj-image>` or `<img>`
without an `alt` attribute is refused when the layout loads, naming the template and its line.

Without one, MJML writes alt="" and the finished HTML gets alt="" too (`access.finish`), which tells
a screen reader to pass over the image: a logo or a photo would vanish unannounced, and `check`
could only guess that an empty alt was meant. So the template decides: alt="what it shows", or
alt="" for an image that is decoration only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from newsletter.errors import LayoutError

# A tag's attributes may hold Jinja expressions and tags, even with a ">" inside them.
_TAG = re.compile(r"<(mj-image|img)\b((?:\{\{.*?\}\}|\{%.*?%\}|[^>])*)>", re.IGNORECASE | re.DOTALL)
_ALT = re.compile(r"(?:^|[\s\"'}%])alt\s*=", re.IGNORECASE)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
# <mj-image> in <mj-attributes> sets the default attributes of every image; it is no image itself.
_DEFAULTS = re.compile(r"<mj-attributes\b.*?</mj-attributes>", re.IGNORECASE | re.DOTALL)


def _blanked(text: str, pattern: re.Pattern[str]) -> str:
    """`text` with what `pattern` finds replaced by spaces, its line ends kept (lines stay where they are)."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)


def without_alt(text: str) -> list[tuple[int, str]]:
    """The line and tag name of every image in a template's `text` that has no alt attribute."""
    text = _blanked(_blanked(text, _COMMENT), _DEFAULTS)
    return [
        (text.count("\n", 0, m.start()) + 1, m[1].lower())
        for m in _TAG.finditer(text)
        if not _ALT.search(m[2])
    ]


def check(folder: Path, templates: Iterable[str]) -> None:
    """Raise LayoutError for the first image without alt in the templates `templates` of `folder`."""
    for name in templates:
        try:
            text = (folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the loader says what is wrong with such a file when it compiles it
        for line, tag in without_alt(text):
            raise LayoutError(
                f'{folder / name}:{line}: this <{tag}> has no alt attribute; write alt="what it shows" '
                'for screen readers and blocked images, or alt="" if it is decoration only'
            )
