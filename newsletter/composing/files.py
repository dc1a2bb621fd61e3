"""An issue as files a person opens: the HTML page, the plain text and the whole message (.eml), as
one reader receives them. `newsletter render` writes them to look at the issue without sending it.

A browser cannot show an email's cid: parts, so the page's local images are written beside it, made
for email as readers get them, in <slug>_files/ (as a browser saves a page), and the page links them
there; the .eml embeds them (or links the asset host, as the message does).
"""

from __future__ import annotations

import datetime as dt
import html as html_module
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from newsletter.composing.message import Composer, Envelope, parse
from newsletter.model import SAMPLE_RECIPIENT, Recipient, Rendered
from newsletter.rendering.size import html_size


@dataclass(frozen=True)
class RenderedFiles:
    """What was written, for whom, how big the HTML is as Gmail counts it, and the whole message with
    the images it embeds."""

    recipient: Recipient
    html: Path
    txt: Path
    eml: Path
    html_bytes: int
    eml_bytes: int = 0
    embedded: int = 0  # images inside the message
    linked: int = 0  # images linked under the asset base address

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
    files = RenderedFiles(
        recipient=recipient,
        html=folder / f"{rendered.slug}.html",
        txt=folder / f"{rendered.slug}.txt",
        eml=folder / f"{rendered.slug}.eml",
        html_bytes=html_size(html),
        eml_bytes=len(outgoing.data),
        embedded=len(rendered.images),
        linked=len(rendered.linked),
    )
    html = _images_beside(rendered, html, folder, f"{rendered.slug}_files")
    files.html.write_text(html, encoding="utf-8")
    # The text part keeps the wire's CRLF line ends; a file on disk gets the platform's own.
    files.txt.write_text(text.replace("\r\n", "\n"), encoding="utf-8")
    files.eml.write_bytes(outgoing.data)
    return files


def message_size(
    rendered: Rendered, envelope: Envelope, *, date: dt.datetime, recipient: Recipient = SAMPLE_RECIPIENT
) -> int:
    """The bytes of `recipient`'s whole message as it goes to the mail server: its headers, the HTML
    and text parts as encoded and the embedded images in base64; what `render` writes as the .eml.
    `validate` and `render` both report this figure."""
    return len(Composer(rendered, envelope, date=date).compose(recipient).data)


def _images_beside(rendered: Rendered, html: str, folder: Path, name: str) -> str:
    """`html` with each local image linked from `folder`/`name`/, where its file is written."""
    for image in (*rendered.images, *rendered.linked):
        target = folder / name / image.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(image.data)
        relative = html_module.escape(f"{name}/{quote(image.path)}")
        if image in rendered.images:
            html = html.replace(f'="cid:{image.cid}"', f'="{relative}"')
        else:
            # The message links the path percent-encoded (a space, an é); written as it is too, by
            # someone's own template.
            written = {html_module.escape(quote(image.path)), html_module.escape(image.path)}
            address = "|".join(re.escape("/" + w) for w in written)
            # `relative` is percent-encoded: no backslash that re.sub would take for a group.
            html = re.sub(f'="[^"]*(?:{address})"', f'="{relative}"', html)
    return html
