"""How big an email is: its HTML weighed against the size at which Gmail clips it, and the whole
message and its images against what readers and mail servers bear.

Gmail shows the first 102 KB of a message's HTML and hides the rest behind "View entire message",
the footer with its unsubscribe link among it. `validate`, `render` and the preview all report this
one figure, so that they agree. The whole message is weighed by composing it
(`composing.files.message_size`), and every size is printed by `kilobytes`.
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


def kilobytes(size: int) -> str:
    """A size as every command prints it: whole kilobytes of 1024 bytes, rounded (544 KB)."""
    return f"{size / 1024:.0f} KB"


def image_warnings(rendered: Rendered, message_bytes: int) -> list[str]:
    """What to change about the issue's local images, as they go out, and about the weight of each
    reader's message (`message_bytes`, from composing.files.message_size): one line each."""
    lines = []
    for image in (*rendered.images, *rendered.linked):
        name = image.source or image.path
        if image.content_type == "image/svg+xml":
            lines.append(f"{name} is an SVG, which Gmail and Outlook do not show: export it as PNG or JPEG")
        elif len(image.data) > HEAVY_IMAGE_BYTES:
            lines.append(
                f"{name} still weighs {kilobytes(len(image.data))} made for email (over "
                f"{kilobytes(HEAVY_IMAGE_BYTES)}): {_lighter(image.content_type)}"
            )
    if message_bytes > HEAVY_MESSAGE_BYTES:
        lines.append(
            f"each message weighs {kilobytes(message_bytes)} with its {len(rendered.images)} images (over "
            f"{kilobytes(HEAVY_MESSAGE_BYTES)}): use fewer, or link them with NEWSLETTER_ASSET_BASE_URL"
        )
    return lines


def _lighter(content_type: str) -> str:
    # Only an animated GIF goes out as a GIF (a still one is made PNG or JPEG), and it goes as it is:
    # `width:` shows it smaller but sends every frame at full size.
    if content_type == "image/gif":
        return (
            "an animated GIF goes out as it is, so width: does not make it lighter; make it with fewer "
            "frames or colours (or smaller) in the program that made it, use a still image, or show a "
            "still image that links to the video"
        )
    return "crop it to what matters, or show it smaller (width:)"
