"""Where each image of a rendered issue is found by the mail client, and the file it finds there.

An https image is linked as it is. A local one (beside the issue, or the layout's logo) is made for
email (`emailimage`) at twice the width it is shown at, then embedded as an inline part (cid:) or,
with an asset base address, linked under it at a path named by its content (`published_path`). The
width shown is what MJML computed for the placement (the full column, a column, beside the text, or
the image's own `width`), so the templates ask `image_url()` for a placeholder, and the placeholders
are resolved in MJML's output: one processing per file, at the widest place it is shown.
"""

from __future__ import annotations

import hashlib
import html as html_module
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from newsletter.errors import RenderError
from newsletter.model import InlineImage
from newsletter.model.links import is_remote_image
from newsletter.reading.layouts import Layout
from newsletter.rendering import emailimage
from newsletter.rendering.emailimage import ImageProblem, Processed

Process = Callable[[bytes, int], Processed]
"""(original bytes, most pixels wide) → the email version: `emailimage.process`, or a cache's."""

# A scheme of our own that MJML and the CSS inliner copy as it is.
_PLACEHOLDER = "newsletter-image:"
_PLACED = re.compile(re.escape(_PLACEHOLDER) + r"(\d+)")
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\ssrc="([^"]*)"')
_WIDTH = re.compile(r'\swidth="(\d+)"')
# Where MJML says nothing of a width (a layout's own <img>): the email's body width.
BODY_WIDTH = 600


class ImageFileError(RenderError):
    """A local image that cannot be made for email: its `src` as written, whether the layout names it
    (its logo) or the issue, and why; `Project.render` puts it at the line that names it."""

    def __init__(self, name: str, src: str, from_layout: bool, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.src, self.from_layout, self.reason = src, from_layout, reason


@dataclass(frozen=True)
class _Wanted:
    src: str
    from_layout: bool
    data: bytes


class Images:
    """The local images a render asks for, and after `resolve` their addresses and files."""

    def __init__(
        self,
        issue_assets: Mapping[str, bytes],
        layout: Layout,
        asset_base_url: str | None,
        *,
        process: Process = emailimage.process,
        folder: str = "",
    ) -> None:
        self.issue_assets = issue_assets
        self.layout = layout
        self.base = asset_base_url.rstrip("/") if asset_base_url else None
        self.process = process
        self.folder = folder  # the issue's folder, to name a file in a message
        self._wanted: list[_Wanted] = []
        self.inline: dict[str, InlineImage] = {}  # by cid
        self.linked: dict[str, InlineImage] = {}  # by path under the asset base
        self.sizes: dict[str, tuple[int, int]] = {}  # by the address in the HTML: width, height

    def url(self, src: str, *, from_layout: bool = False) -> str:
        """What a template writes as the image's src: the address, or a placeholder for `resolve`."""
        if is_remote_image(src):
            return src
        data = (self.layout.assets if from_layout else self.issue_assets).get(src)
        if data is None:
            if self.base:
                return f"{self.base}/{quote(self._path(src, from_layout))}"
            raise RenderError(f"image {src!r} was not loaded; load the issue with issues.load()")
        wanted = _Wanted(src, from_layout, data)
        if wanted not in self._wanted:
            self._wanted.append(wanted)
        return f"{_PLACEHOLDER}{self._wanted.index(wanted)}"

    def _path(self, src: str, from_layout: bool) -> str:
        return f"layouts/{self.layout.name}/{src}" if from_layout else src

    def _name(self, wanted: _Wanted) -> str:
        if wanted.from_layout:
            return str(self.layout.path / wanted.src)
        return posixpath.join(self.folder, wanted.src) if self.folder else wanted.src

    def resolve(self, html: str) -> str:
        """MJML's output with every placeholder replaced by the image's address; each image is
        processed once, for the widest place it is shown."""
        widths: dict[int, int] = {}
        for tag in _IMG.finditer(html):
            src, width = _SRC.search(tag[0]), _WIDTH.search(tag[0])
            placed = _PLACED.fullmatch(src[1]) if src else None
            if placed is None:
                continue
            # MJML puts an image that fills a phone's width in a cell of this class.
            cell = html[html.rfind("<td", 0, tag.start()) : tag.start()]
            fluid = "mj-full-width-mobile" in cell
            shown = emailimage.target_width(int(width[1]) if width else BODY_WIDTH, fluid_on_mobile=fluid)
            index = int(placed[1])
            widths[index] = max(widths.get(index, 0), shown)
        urls = [
            self._place(wanted, widths.get(i, emailimage.target_width(BODY_WIDTH)))
            for i, wanted in enumerate(self._wanted)
        ]
        return _PLACED.sub(lambda m: urls[int(m[1])], html) if urls else html

    def _place(self, wanted: _Wanted, max_width: int) -> str:
        try:
            made = self.process(wanted.data, max_width)
        except ImageProblem as e:
            raise ImageFileError(self._name(wanted), wanted.src, wanted.from_layout, str(e)) from None
        digest = hashlib.sha256(made.data).hexdigest()
        source = self._path(wanted.src, wanted.from_layout)
        path = published_path(source, made.extension, digest)
        image = InlineImage(
            f"{digest[:20]}@newsletter",
            # The name a reader's mail program saves the image under: the original's, as it is now.
            f"{posixpath.basename(source).rpartition('.')[0] or posixpath.basename(source)}.{made.extension}",
            made.content_type,
            made.data,
            path,
            source,
        )
        if self.base:
            url = f"{self.base}/{quote(path)}"
            self.linked[path] = image
        else:
            url = f"cid:{image.cid}"
            self.inline[image.cid] = image
        if made.size is not None:
            self.sizes[url] = made.size
        return url


def published_path(path: str, extension: str, digest: str) -> str:
    """Where a processed image is published: its original's path with 8 hex digits of the processed
    bytes' SHA-256 and the extension of what it is now (images/phone.jpg → images/phone-1a2b3c4d.jpg).

    The bytes depend on where the image is shown (full width, beside the text) and a new photo may
    be saved under last month's name: named by content, an address never changes its bytes, so an
    upload for this issue never replaces an image of an issue already sent.
    """
    directory, slash, name = path.rpartition("/")
    stem = name.rpartition(".")[0] or name
    return f"{directory}{slash}{stem}-{digest[:8]}.{extension}"


def image_heights(html: str, sizes: Mapping[str, tuple[int, int]]) -> str:
    """Every image's height attribute: in proportion to its width where the file's size is known,
    else none.

    MJML writes height="auto", which is no valid height; Outlook for Windows sizes an image by its
    attributes alone, and other clients keep the image's place while it loads. The inline style
    height:auto still lets an image shrink with a phone's screen.
    """

    def fix(m: re.Match[str]) -> str:
        tag = m[0]
        if ' height="auto"' not in tag:
            return tag
        src, width = _SRC.search(tag), _WIDTH.search(tag)
        size = sizes.get(html_module.unescape(src[1])) if src else None
        if size is None or width is None:
            return tag.replace(' height="auto"', "", 1)
        height = max(1, round(int(width[1]) * size[1] / size[0]))
        return tag.replace(' height="auto"', f' height="{height}"', 1)

    return _IMG.sub(fix, html) if ' height="auto"' in html else html
