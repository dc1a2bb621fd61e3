"""The HTML part as a mail client gets it, read once: its links, images, ids and head, with lines.

Python's own HTML parser is enough for what the preflight asks (no tree, no imaging library). Outlook's
conditional comments stay comments here, as they do in every client but Outlook.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Anchor:
    href: str | None
    line: int
    text: str = ""
    image_alt: str = ""  # the alt texts of images inside the link, which a screen reader reads as its text
    nested: bool = False

    @property
    def label(self) -> str:
        """What a reader sees of the link: its words, else its image's alt text."""
        return " ".join((self.text or self.image_alt).split())


@dataclass(frozen=True)
class Img:
    src: str
    line: int
    alt: str | None
    width: str | None
    height: str | None
    decorative: bool  # role="presentation" or aria-hidden="true": an empty alt is meant


@dataclass
class Page:
    anchors: list[Anchor] = field(default_factory=list)
    images: list[Img] = field(default_factory=list)
    ids: Counter[str] = field(default_factory=Counter)
    id_lines: dict[str, int] = field(default_factory=dict)
    lang: str | None = None
    title: str | None = None
    charset: bool = False


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._open: list[Anchor] = []
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs}
        line = self.getpos()[0]
        ident = a.get("id")
        if ident:
            self.page.ids[ident] += 1
            self.page.id_lines.setdefault(ident, line)
        if tag == "html":
            self.page.lang = a.get("lang") or None
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            content = (a.get("content") or "").lower()
            if "charset" in a or "charset=" in content:
                self.page.charset = True
        elif tag == "a":
            anchor = Anchor(a.get("href"), line, nested=bool(self._open))
            self.page.anchors.append(anchor)
            self._open.append(anchor)
        elif tag == "img":
            decorative = (a.get("role") or "") == "presentation" or (a.get("aria-hidden") or "") == "true"
            self.page.images.append(
                Img(a.get("src") or "", line, a.get("alt"), a.get("width"), a.get("height"), decorative)
            )
            for anchor in self._open:
                anchor.image_alt += a.get("alt") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            self._open.pop()
        elif tag == "title":
            self._in_title = False
            self.page.title = "".join(self._title).strip()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        for anchor in self._open:
            anchor.text += data


def read(html: str) -> Page:
    """The links, images, ids and head of an HTML document."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page
