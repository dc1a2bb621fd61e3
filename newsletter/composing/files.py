"""An issue as files a person opens: the HTML page, the plain text and the whole message (.eml), as
one reader receives them. `newsletter render` writes them to look at the issue without sending it.

A browser cannot show the message's inline images (cid: addresses) from a file, so they are written
beside it, in <slug>-images/, and the HTML file names them there; the .eml keeps them inline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from newsletter.composing.message import Composer, Envelope, parse
from newsletter.model import SAMPLE_RECIPIENT, Recipient, Rendered
from newsletter.rendering.size import html_size


@dataclass(frozen=True)
class RenderedFiles:
    """What was written, for whom, and how big the HTML is as Gmail counts it."""

    recipient: Recipient
    html: Path
    txt: Path
    images: tuple[Path, ...]
    eml: Path
    html_bytes: int

    def paths(self) -> dict[str, Path]:
        """The files by kind, in the order a person opens them."""
        return {"html": self.html, "txt": self.txt, "eml": self.eml}


def write_rendered_files(
    rendered: Rendered,
    envelope: Envelope,
    folder: Path,
    *,
    date: dt.datetime,
    recipient: Recipient = SAMPLE_RECIPIENT,
) -> RenderedFiles:
    """Write `folder`/<slug>.html, .txt and .eml: `recipient`'s message and its two parts.

    The parts are taken from the composed message rather than from the plans, so that the files show
    exactly what a mail program gets. Raises MergeError (nothing written) if the message cannot be
    composed for `recipient`.
    """
    outgoing = Composer(rendered, envelope, date=date).compose(recipient)
    message = parse(outgoing.data)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None, "a composed message always has an HTML part"
    assert text_part is not None, "a composed message always has a text part"
    html: str = html_part.get_content()
    text: str = text_part.get_content()
    folder.mkdir(parents=True, exist_ok=True)
    size = html_size(html)
    images: list[Path] = []
    if rendered.images:
        (folder / f"{rendered.slug}-images").mkdir(exist_ok=True)
    for image in rendered.images:
        # The content hash the cid starts with keeps a logo.png of the layout and one of the issue apart.
        name = f"{rendered.slug}-images/{image.cid.split('@')[0][:12]}-{image.filename}"
        (folder / name).write_bytes(image.data)
        images.append(folder / name)
        html = html.replace(f'"cid:{image.cid}"', f'"{quote(name)}"')
    files = RenderedFiles(
        recipient=recipient,
        html=folder / f"{rendered.slug}.html",
        txt=folder / f"{rendered.slug}.txt",
        images=tuple(images),
        eml=folder / f"{rendered.slug}.eml",
        html_bytes=size,
    )
    files.html.write_text(html, encoding="utf-8")
    # The text part keeps the wire's CRLF line ends; a file on disk gets the platform's own.
    files.txt.write_text(text.replace("\r\n", "\n"), encoding="utf-8")
    files.eml.write_bytes(outgoing.data)
    return files
