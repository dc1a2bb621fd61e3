"""How big an email is: its HTML weighed against the size at which Gmail clips it, and the whole
message and its images against what readers and mail servers bear.

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


# A photo made for email (1104 px wide, JPEG quality 84) weighs 100 to 300 KB; past that it is full of
# fine detail (foliage, gravel, noise) or a graphic that is mostly picture: worth a crop. Twice the
# HTML's size past Gmail's clip, per image: a reader on a phone waits for every one of them.
HEAVY_IMAGE_BYTES = 300 * 1024
# Each reader's copy: a message of 1 MB to 2,000 readers is 2 GB through the mail server, counted
# against its daily volume, and some mailboxes still refuse or delay big mail.
HEAVY_MESSAGE_BYTES = 1024 * 1024


def message_size(rendered: Rendered) -> int:
    """About the bytes of one reader's message: the HTML and text parts and the embedded images, in
    base64 (4 bytes for 3, and a line end every 76)."""
    images = sum(len(image.data) * 4 // 3 * 78 // 76 for image in rendered.images)
    text = len(rendered.text.fill(("",) * len(rendered.fields)).encode("utf-8"))
    return html_size(rendered) + text + images + 2048  # headers and MIME boundaries


def image_warnings(rendered: Rendered) -> list[str]:
    """What to change about the issue's local images, as they go out: one line each."""
    lines = []
    for image in (*rendered.images, *rendered.linked):
        name = image.source or image.path
        if image.content_type == "image/svg+xml":
            lines.append(f"{name} is an SVG, which Gmail and Outlook do not show: export it as PNG or JPEG")
        elif len(image.data) > HEAVY_IMAGE_BYTES:
            lines.append(
                f"{name} still weighs {len(image.data) // 1024} KB made for email (over "
                f"{HEAVY_IMAGE_BYTES // 1024} KB): crop it to what matters, or show it smaller (width:)"
            )
    size = message_size(rendered)
    if size > HEAVY_MESSAGE_BYTES:
        lines.append(
            f"each message weighs {size // 1024} KB with its {len(rendered.images)} images (over "
            f"{HEAVY_MESSAGE_BYTES // 1024} KB): use fewer, or link them with NEWSLETTER_ASSET_BASE_URL"
        )
    return lines
