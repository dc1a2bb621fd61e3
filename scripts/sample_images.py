"""Draw the sample's pictures: POM Limburg's logo, light and dark, and the photo of the rail article.

    python scripts/sample_images.py

writes layouts/pom-limburg/logo.png and logo-dark.png (the wordmark on a transparent background,
at twice the width the header shows it, for sharp screens) and issues/images/goederentrein.jpg.
They are drawn here rather than taken from anywhere, so that the sample carries no one's artwork;
the output is committed beside this script, and drawing it again gives the same files.

Needs Pillow (in the dev extra) and the DejaVu fonts (Debian's fonts-dejavu-core).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
FONTS = Path("/usr/share/fonts/truetype/dejavu")
LOGO_WIDTH = 160  # as layouts/pom-limburg/layout.yaml shows it
SCALE = 2
# The header band's text colour in each mode: on_primary, and the dark one `palette` derives.
LOGO_LIGHT = (255, 255, 255, 255)
LOGO_DARK = (16, 22, 25, 255)
PHOTO_SIZE = (1104, 621)  # twice the 552 px an article image spans, 16:9


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / name), size)


def logo(colour: tuple[int, int, int, int]) -> Image.Image:
    """The wordmark: a square mark of three rising bars, "POM" in bold and "Limburg" beside it, the
    letters as large as the width allows."""
    width = LOGO_WIDTH * SCALE
    height = round(width * 0.25)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    top = 6
    mark = height - 2 * top
    draw.rounded_rectangle((0, top, mark, top + mark), radius=mark // 6, outline=colour, width=4)
    bar = mark // 6
    for i, rise in enumerate((0.3, 0.5, 0.7)):
        x = bar + i * (bar + bar // 2)
        draw.rectangle((x, top + mark - bar - round(mark * rise), x + bar, top + mark - bar), fill=colour)
    room = width - mark - 12
    size = height
    while True:
        bold = font("DejaVuSans-Bold.ttf", size)
        light = font("DejaVuSans.ttf", size)
        if draw.textlength("POM ", font=bold) + draw.textlength("Limburg", font=light) <= room:
            break
        size -= 1
    x = mark + 12
    baseline = top + mark - round(mark * 0.2)
    draw.text((x, baseline), "POM", font=bold, fill=colour, anchor="ls")
    x += round(draw.textlength("POM ", font=bold))
    draw.text((x, baseline), "Limburg", font=light, fill=colour, anchor="ls")
    return image


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    height = size[1]
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return column.resize(size)


def photo() -> Image.Image:
    """A freight train with containers crossing flat, green Limburg land in the morning light."""
    width, height = PHOTO_SIZE
    rng = random.Random(2026)
    horizon = round(height * 0.56)
    image = _gradient((width, horizon), (126, 168, 206), (246, 214, 178))
    scene = Image.new("RGB", (width, height))
    scene.paste(image, (0, 0))
    draw = ImageDraw.Draw(scene)
    # The low sun's glow, softened below.
    glow = Image.new("L", (width, height), 0)
    ImageDraw.Draw(glow).ellipse((width * 0.62, horizon - 170, width * 0.62 + 260, horizon + 90), fill=170)
    glow = glow.filter(ImageFilter.GaussianBlur(70))
    scene.paste(Image.new("RGB", (width, height), (255, 236, 196)), (0, 0), glow)
    # Far tree line and hedges: blue-grey, then green.
    for shade, base, jag in (((112, 130, 128), horizon - 6, 18), ((70, 98, 72), horizon + 4, 26)):
        points = [(0, height)]
        x = 0
        while x <= width:
            points.append((x, base - rng.randint(0, jag)))
            x += rng.randint(8, 22)
        points.append((width, height))
        draw.polygon(points, fill=shade)
    # Poplars along the field's edge.
    for _ in range(14):
        x = rng.randint(0, width)
        tall = rng.randint(60, 110)
        draw.ellipse((x - 9, horizon - tall, x + 9, horizon + 10), fill=(58, 84, 58))
    # Fields in strips, darker towards the front.
    for i, y in enumerate(range(horizon + 10, height, 14)):
        tone = 120 - i * 2
        draw.rectangle((0, y, width, y + 14), fill=(tone - 30, tone + 30 + rng.randint(-6, 6), tone - 55))
    # The embankment and the track.
    track = round(height * 0.78)
    draw.rectangle((0, track - 6, width, track + 26), fill=(128, 116, 100))
    draw.rectangle((0, track, width, track + 4), fill=(72, 70, 68))
    draw.rectangle((0, track + 12, width, track + 15), fill=(90, 88, 84))
    for x in range(0, width, 18):
        draw.rectangle((x, track + 4, x + 8, track + 12), fill=(96, 82, 66))
    # Overhead line masts.
    for x in range(40, width, 230):
        draw.rectangle((x, track - 190, x + 6, track), fill=(86, 90, 94))
        draw.line((x, track - 176, x + 60, track - 176), fill=(86, 90, 94), width=4)
    draw.line((0, track - 168, width, track - 168), fill=(70, 74, 78), width=2)
    # The train: a locomotive and wagons with containers.
    car_top = track - 96
    x = 70
    draw.rounded_rectangle((x, car_top - 8, x + 190, track - 14), radius=10, fill=(196, 44, 52))
    draw.rectangle((x + 150, car_top + 8, x + 182, car_top + 36), fill=(210, 228, 238))
    draw.rectangle((x, track - 36, x + 190, track - 26), fill=(240, 240, 236))
    draw.line((x + 60, car_top - 8, x + 90, car_top - 40, x + 120, car_top - 8), fill=(60, 60, 60), width=3)
    wheels = [x + 30, x + 70, x + 120, x + 160]
    x += 200
    colours = [(32, 96, 150), (214, 140, 36), (60, 130, 84), (150, 40, 40), (220, 220, 214), (32, 96, 150)]
    for colour in colours:
        draw.rectangle((x, track - 30, x + 150, track - 18), fill=(54, 54, 58))
        draw.rectangle((x + 4, car_top + 4, x + 146, track - 30), fill=colour)
        for rib in range(x + 12, x + 146, 10):
            r, g, b = colour
            draw.line(
                (rib, car_top + 8, rib, track - 34), fill=(r - 22 if r > 22 else 0, g - 22, b - 22), width=2
            )
        wheels += [x + 28, x + 122]
        x += 158
        if x > width:
            break
    for w in wheels:
        draw.ellipse((w - 13, track - 26, w + 13, track), fill=(34, 34, 36))
    # A lens's softness and a little grain, so that it reads as a photo at a glance.
    scene = scene.filter(ImageFilter.GaussianBlur(1.2))
    noise = Image.effect_noise((width, height), 10).convert("RGB")
    return Image.blend(scene, noise, 0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the sample's logo and article photo.")
    parser.parse_args(argv)
    if not (FONTS / "DejaVuSans-Bold.ttf").is_file():
        print(f"error: no DejaVu fonts in {FONTS}; install fonts-dejavu-core", file=sys.stderr)
        return 2
    layout = ROOT / "layouts" / "pom-limburg"
    logo(LOGO_LIGHT).save(layout / "logo.png", optimize=True)
    logo(LOGO_DARK).save(layout / "logo-dark.png", optimize=True)
    images = ROOT / "issues" / "images"
    images.mkdir(exist_ok=True)
    photo().save(images / "goederentrein.jpg", quality=84, optimize=True, progressive=True)
    for written in (layout / "logo.png", layout / "logo-dark.png", images / "goederentrein.jpg"):
        print(f"{written.relative_to(ROOT)}  {written.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
