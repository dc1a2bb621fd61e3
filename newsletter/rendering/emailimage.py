"""An image made for email: upright, no wider than twice the width it is shown at, without its
metadata, in a format every mail client shows (bytes in, bytes out, with Pillow).

A phone photo (4032x3024, 3 to 9 MB, with the GPS position it was taken at) would otherwise go out as
it is, in every message. What is done, in order:

1. turned upright by its Exif orientation (`ImageOps.exif_transpose`), since the tag goes with the
   rest of the metadata;
2. colours converted to sRGB where the file carries an ICC profile (a CMYK JPEG, a camera's Display
   P3), then the profile dropped: mail clients assume sRGB;
3. resized with LANCZOS to at most `max_width` pixels wide (twice the width shown, for sharp
   pictures on high-density screens); never made larger;
4. encoded anew, which leaves Exif (GPS included), XMP, comments and text chunks behind: JPEG for
   photos (quality 84, progressive, optimised, 4:2:0); PNG, optimised, for anything with transparency
   and for graphics. A PNG (or another lossless file) without transparency that still weighs over
   `PNG_PHOTO_BYTES` once resized is a photo saved as PNG: it goes as JPEG, when that is smaller.

Left as they are: an animated GIF (resizing every frame would cost its timing and palette, and a GIF
carries no Exif), an SVG (Pillow cannot draw it; `validate` warns, since many mail clients do not
show SVG), and a file that is already fit for email (upright, small enough, without metadata, and not
smaller when encoded again), so that a small PNG keeps its bytes.

Pure: no file is read or written here. The cache of processed files is `imagecache`'s business.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

# Bump when the output for the same input and parameters changes: it is part of the cache key.
VERSION = 1
JPEG_QUALITY = 84
# A lossless image without transparency that weighs more than this after resizing is a photo.
PNG_PHOTO_BYTES = 300 * 1024
# Pillow's own limit (about 89 million pixels, a 50-megapixel phone photo is 50 million): beyond it a
# file is more likely a decompression bomb than a picture, and decoding it would take gigabytes.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

# What a file may hold besides its pixels and still be sent as it is.
_HARMLESS_INFO = frozenset(
    {"dpi", "gamma", "srgb", "transparency", "aspect", "interlace", "progressive", "progression"}
    | {"jfif", "jfif_version", "jfif_unit", "jfif_density", "adobe", "adobe_transform"}
)
_KINDS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "GIF": ("image/gif", "gif")}


class ImageProblem(ValueError):
    """A file that cannot be made into an email image; the text says why, without the file's name."""


@dataclass(frozen=True)
class Processed:
    """An image as it goes out: its bytes, MIME type, file extension and size in pixels (if known)."""

    data: bytes
    content_type: str
    extension: str
    size: tuple[int, int] | None


def target_width(shown: int, *, fluid_on_mobile: bool = False, phone: int = 480) -> int:
    """The most pixels wide an image shown `shown` CSS pixels wide needs: twice that, for screens
    with two device pixels to a CSS pixel. An image that fills a phone's width (MJML's
    fluid-on-mobile) is shown up to the phone breakpoint's width there, which may be wider."""
    return 2 * max(shown, phone if fluid_on_mobile else 0)


def is_svg(data: bytes) -> bool:
    head = data[:1024].lstrip().lower()
    return head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower()


def process(data: bytes, max_width: int) -> Processed:
    """The email version of the image in `data`; raises ImageProblem for a file that is not an image
    Pillow can read, a damaged or cut-off one, or one with too many pixels."""
    if is_svg(data):
        return Processed(data, "image/svg+xml", "svg", None)
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice it: a bomb either way.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format == "GIF" and getattr(image, "n_frames", 1) > 1:
                return Processed(data, "image/gif", "gif", image.size)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageProblem(
                f"has more than {MAX_PIXELS / 1e6:.0f} million pixels, which no photo needs; "
                "save it smaller first"
            ) from None
        except UnidentifiedImageError:
            raise ImageProblem("is not an image (JPEG, PNG or GIF)") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageProblem(f"is damaged or cut short ({e}); save or export it again") from None
    return _made_for_email(image, data, max_width)


def _made_for_email(image: Image.Image, data: bytes, max_width: int) -> Processed:
    source = image.format or ""
    turned = image.getexif().get(ExifTags.Base.Orientation, 1) not in (0, 1)
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    pixels = _to_srgb(upright, icc) if icc else _plain_mode(upright)
    alpha = _has_alpha(pixels)
    resized = pixels.width > max_width
    if resized:
        palette = pixels.mode == "P"
        if palette:
            # Resizing a palette image picks the nearest pixels: smooth it in full colour instead.
            pixels = pixels.convert("RGBA" if alpha else "RGB")
        height = max(1, round(pixels.height * max_width / pixels.width))
        pixels = pixels.resize((max_width, height), Image.Resampling.LANCZOS)
        if palette:
            # A palette graphic stays one: 256 colours keep it small after the smooth resize.
            pixels = pixels.quantize(256, method=Image.Quantize.FASTOCTREE)
    encoded = _encode(pixels, source, alpha=alpha)
    clean = not turned and not resized and not icc and set(image.info) <= _HARMLESS_INFO
    kind = _KINDS.get(source)
    if clean and kind is not None and kind[1] == encoded.extension and len(data) <= len(encoded.data):
        return Processed(data, kind[0], kind[1], image.size)
    return encoded


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """The pixels in sRGB, converted from the file's ICC profile (a CMYK or wide-gamut photo)."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    source = image if image.mode in ("RGB", "RGBA", "CMYK") else image.convert(mode)
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(source, profile, srgb, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A broken or unusual profile: the plain conversion is close, and nothing to refuse a photo for.
        return _plain_mode(image)
    assert out is not None, "profileToProfile returns the image unless asked to convert in place"
    return out


def _plain_mode(image: Image.Image) -> Image.Image:
    """The pixels in a mode JPEG or PNG can hold at 8 bits: RGB, RGBA, L, LA or P."""
    if image.mode in ("RGB", "RGBA", "L", "LA", "P"):
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit grey: scaled to 8 bits (a plain conversion would clip everything above 255 to white).
        return image.convert("I").point(lambda v: v / 256).convert("L")
    has_alpha = image.mode in ("PA", "RGBa", "La") or "A" in image.getbands()
    return image.convert("RGBA" if has_alpha else "RGB")


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA"):
        return image.getextrema()[-1][0] < 255  # type: ignore[index]
    return image.mode == "P" and "transparency" in image.info


def _encode(image: Image.Image, source: str, *, alpha: bool) -> Processed:
    if source == "JPEG" and not alpha:
        return _jpeg(image)
    png = _png(image)
    if alpha or len(png.data) <= PNG_PHOTO_BYTES:
        return png
    jpeg = _jpeg(image)
    return jpeg if len(jpeg.data) < len(png.data) else png


def _jpeg(image: Image.Image) -> Processed:
    flat = image.convert("L" if image.mode in ("L", "LA") else "RGB")
    flat.info = {}  # Pillow would carry a JPEG comment over; Exif, XMP and ICC are never passed
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True, subsampling="4:2:0")
    return Processed(out.getvalue(), "image/jpeg", "jpg", flat.size)


def _png(image: Image.Image) -> Processed:
    out = io.BytesIO()
    # Only the pixels (and a palette's transparency) are written: no text chunks, Exif or profile.
    extra = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    bare = image.copy()
    bare.info = {}
    bare.save(out, "PNG", optimize=True, **extra)
    return Processed(out.getvalue(), "image/png", "png", image.size)
