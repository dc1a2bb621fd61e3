"""The email's images: alt text for those who see none, and how heavy each is, in bytes and pixels.

An attached image (cid:) is weighed from the message itself; an image on a web server is fetched
when the preflight goes online, and only named when it does not. A local image of the issue is named
as it goes out (attached as foto.jpg, or published as images/foto-1a2b3c4d.jpg) and placed at the
line of the issue that names the original.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from urllib.parse import quote

from newsletter.delivering.preflight.findings import Finding
from newsletter.delivering.preflight.page import Img, Page
from newsletter.delivering.preflight.places import Places
from newsletter.model import InlineImage
from newsletter.rendering.imagesize import dimensions

AREA = "images"
# Heavier than this is slow on a phone's mobile data; an email's photos are 600 px wide at most.
HEAVY = 1024 * 1024
FETCH_LIMIT = 20 * 1024 * 1024


def _made(src: str, inline: Mapping[str, InlineImage], linked: Sequence[InlineImage]) -> InlineImage | None:
    """The local image behind `src`: attached (cid:) or published under the asset base address."""
    if src.startswith("cid:"):
        return inline.get(src[4:])
    return next((i for i in linked if src.endswith("/" + quote(i.path)) or src.endswith("/" + i.path)), None)


def _place(image: Img, places: Places | None, made: InlineImage | None) -> str:
    where = places.of_image(image.src, made.source if made else None) if places else None
    return where or f"the layout, HTML line {image.line}"


def findings(
    page: Page,
    inline: Mapping[str, InlineImage],
    places: Places | None,
    fetch: Callable[[str], bytes | None] | None,
    linked: Sequence[InlineImage] = (),
) -> Iterator[Finding]:
    """Alt text, width and height, and the size of every image of `page`; `fetch` gets the bytes of
    a remote one (None: offline). `linked` are the local images published under the asset base."""
    total, weighed = 0, 0
    for image in page.images:
        made = _made(image.src, inline, linked)
        where = _place(image, places, made)
        label = image.src if made is None else made.filename if image.src.startswith("cid:") else made.path
        if image.alt is None:
            yield Finding.error(
                AREA,
                f"{label} has no alt text",
                where,
                "say what it shows, for screen readers and blocked images",
            )
        elif not image.alt.strip() and not image.decorative:
            yield Finding.warning(
                AREA,
                f"{label} has an empty alt text",
                where,
                'fine for decoration only: then mark it role="presentation"; else say what it shows',
            )
        if not image.width or not image.height:
            yield Finding.warning(
                AREA, f"{label} has no width or height", where, "Outlook sizes images by these attributes"
            )
        # A published one is weighed as it will be uploaded: named by its content, it is not there yet.
        data = made.data if made is not None else _bytes(image.src, fetch)
        if data is None:
            if fetch is None and not image.src.startswith("cid:"):
                yield Finding.ok(AREA, f"{label}: on a web server, not weighed (offline)", where)
            else:
                yield Finding.warning(AREA, f"{label} could not be fetched to weigh it", where)
            continue
        total += len(data)
        weighed += 1
        size = dimensions(data)
        pixels = f", {size[0]}x{size[1]} px" if size else ""
        said = f"{label}: {_kb(len(data))}{pixels}"
        if len(data) > HEAVY:
            yield Finding.warning(AREA, said, where, "over 1 MB is slow on a phone: save it smaller")
        else:
            yield Finding.ok(AREA, said, where)
    if page.images:
        yield Finding.ok(AREA, f"{len(page.images)} images, {weighed} weighed: {_kb(total)} in all")
    else:
        yield Finding.ok(AREA, "no images")


def _bytes(src: str, fetch: Callable[[str], bytes | None] | None) -> bytes | None:
    if fetch is None or not src.lower().startswith("https://"):
        return None
    return fetch(src)


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"
