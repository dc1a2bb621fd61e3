"""The size in pixels of a PNG, GIF or JPEG, read from its first bytes (no imaging library).

Rendering gives every local image a height attribute from its own proportions: Outlook for Windows
sizes an image by its width and height attributes alone, and every client can keep the image's
place free while it loads.
"""

from __future__ import annotations

import struct

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers, which hold the size: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length: TEM, RST0-7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG image; None for another format or a damaged file."""
    if data.startswith(_PNG) and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
    elif data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
    elif data.startswith(b"\xff\xd8"):
        found = _jpeg(data)
        if found is None:
            return None
        width, height = found
    else:
        return None
    return (width, height) if width > 0 and height > 0 else None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker == 0xE1 and _rotated(data[i + 4 : i + 2 + length]):
            # A photo turned by its Exif orientation shows with width and height swapped wherever
            # the client honours the tag, and unswapped where it does not: no height fits both.
            return None
        if marker in _SOF and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _rotated(segment: bytes) -> bool:
    """Whether an APP1 segment is Exif with an orientation that turns the image by 90 degrees."""
    if not segment.startswith(b"Exif\x00\x00") or len(segment) < 14:
        return False
    tiff = segment[6:]
    order = "<" if tiff[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", tiff[4:8])
    if offset + 2 > len(tiff):
        return False
    (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
    for n in range(count):
        entry = tiff[offset + 2 + 12 * n : offset + 14 + 12 * n]
        if len(entry) < 12:
            return False
        tag, _kind, _count, value = struct.unpack(order + "HHIH", entry[:10])
        if tag == 0x0112:  # Orientation: 5 to 8 are the turned ones
            return int(value) >= 5
    return False
