"""Screenshots of a rendered issue as a desktop and a phone mail client would show it.

    python scripts/screenshots.py build/2026-01.html docs

writes docs/sample-desktop.png (600 px wide, the usual width of an email), docs/sample-phone.png
(375 px wide) and docs/sample-dark.png (600 px wide, the browser set to dark mode, as a mail program
in dark mode that honours the email's `prefers-color-scheme` rules shows it), each the full height
of the email. It uses headless Chromium (Debian's `chromium`),
with a fresh profile per run and no background networking.

The page height is measured first: Chromium loads a temporary page that shows the email in a frame of
the screenshot's width, with a small script that writes the email's height into the DOM, and
`--dump-dom` prints it. (The window itself cannot measure: a headless window is at least 500 px wide.)
The screenshot then uses exactly that height. Should the measurement fail, a tall screenshot is taken
instead and, when Pillow is installed, its trailing background rows are cropped.
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path

DESKTOP_WIDTH = 600
PHONE_WIDTH = 375
FALLBACK_HEIGHT = 4000
MEASURE_HEIGHT = 400  # the window height while measuring; the frame inside is 50 px tall
MIN_HEIGHT = 100
MAX_HEIGHT = 16000
TIMEOUT_SECONDS = 90

HEIGHT_ATTRIBUTE = "data-screenshot-height"
# The page goes in an iframe exactly `width` px wide: a headless window is never narrower than 500 px,
# but an iframe is, and the email's media queries see the iframe's width. srcdoc keeps the frame
# same-origin, so the script can read its height once everything has loaded.
MEASURE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="page" scrolling="no" style="display:block;border:0;width:{width}px;height:50px"
  srcdoc="{srcdoc}"></iframe>
<script>
window.addEventListener("load", function () {{
  var doc = document.getElementById("page").contentDocument;
  var d = doc.documentElement, b = doc.body;
  var h = Math.max(d.scrollHeight, d.offsetHeight, b ? b.scrollHeight : 0, b ? b.offsetHeight : 0);
  document.documentElement.setAttribute("{attribute}", String(h));
}});
</script>
</body></html>
"""
HEIGHT_IN_DOM = re.compile(rf'{HEIGHT_ATTRIBUTE}="(\d+)"')


class ScreenshotError(Exception):
    """Chromium did not produce what was asked; the message says what happened."""


@dataclass(frozen=True)
class Shot:
    name: str
    width: int
    dark: bool = False


SHOTS = (Shot("desktop", DESKTOP_WIDTH), Shot("phone", PHONE_WIDTH), Shot("dark", DESKTOP_WIDTH, dark=True))
# Makes the page's prefers-color-scheme dark, as Playwright's color_scheme="dark" does in the tests.
DARK_SWITCH = "--force-dark-mode"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_command(chromium: str, profile: Path, width: int, height: int, dark: bool = False) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        *([DARK_SWITCH] if dark else []),
    ]


def run_chromium(args: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ScreenshotError(f"chromium did not finish within {TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise ScreenshotError(f"chromium exited with status {done.returncode}:\n{tail}")
    return done


def measuring_page(html: Path, folder: Path, width: int) -> Path:
    """A page that shows `html` in a frame `width` px wide and records the frame's content height."""
    text = html.read_text(encoding="utf-8", errors="replace")
    if not re.search(r"<base\b", text, re.IGNORECASE):
        # Relative links (images beside the HTML file) still resolve against the original's folder.
        base = f'<base href="{html.parent.resolve().as_uri()}/">'
        head = re.search(r"<head\b[^>]*>", text, re.IGNORECASE)
        text = text[: head.end()] + base + text[head.end() :] if head else base + text
    page = MEASURE_PAGE.format(width=width, srcdoc=escape(text, quote=True), attribute=HEIGHT_ATTRIBUTE)
    target = folder / "measure.html"
    target.write_text(page, encoding="utf-8")
    return target


def measure_height(chromium: str, html: Path, width: int, dark: bool = False) -> int | None:
    """The page's full height in CSS pixels at `width`, or None when it cannot be measured."""
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        folder = Path(tmp)
        profile = folder / "profile"
        profile.mkdir()
        page = measuring_page(html, folder, width)
        window = max(width, 500) + 100
        args = [
            *chromium_command(chromium, profile, window, MEASURE_HEIGHT, dark),
            "--dump-dom",
            page.as_uri(),
        ]
        try:
            done = run_chromium(args)
        except ScreenshotError as e:
            print(f"  could not measure the page height: {e}", file=sys.stderr)
            return None
    found = HEIGHT_IN_DOM.search(done.stdout)
    if not found:
        return None
    return max(MIN_HEIGHT, min(MAX_HEIGHT, int(found.group(1))))


def screenshot(chromium: str, html: Path, target: Path, width: int, height: int, dark: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        profile = Path(tmp) / "profile"
        profile.mkdir()
        written = Path(tmp) / "shot.png"
        args = [
            *chromium_command(chromium, profile, width, height, dark),
            f"--screenshot={written}",
            html.resolve().as_uri(),
        ]
        run_chromium(args)
        if not written.is_file() or written.stat().st_size == 0:
            raise ScreenshotError(f"chromium wrote no screenshot for {html}")
        shutil.move(written, target)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ScreenshotError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def crop_trailing_background(path: Path) -> bool:
    """Cut the rows at the bottom that are all the colour of the last row (needs Pillow)."""
    try:
        from PIL import Image  # type: ignore[import-not-found,unused-ignore]  # optional
    except ImportError:
        return False
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    background = image.getpixel((0, height - 1))
    bottom = height
    while bottom > MIN_HEIGHT:
        row = image.crop((0, bottom - 1, width, bottom))
        colours = row.getcolors(maxcolors=1)
        if not colours or colours[0][1] != background:
            break
        bottom -= 1
    image.crop((0, 0, width, min(height, bottom + 24))).save(path)
    return True


def take(chromium: str, html: Path, out_dir: Path, shot: Shot) -> Path:
    target = out_dir / f"sample-{shot.name}.png"
    height = measure_height(chromium, html, shot.width, shot.dark)
    if height is not None:
        screenshot(chromium, html, target, shot.width, height, shot.dark)
    else:
        screenshot(chromium, html, target, shot.width, FALLBACK_HEIGHT, shot.dark)
        if not crop_trailing_background(target):
            print(
                f"  {shot.name}: page height unknown and Pillow is missing; kept {FALLBACK_HEIGHT} px",
                file=sys.stderr,
            )
    width, height = png_size(target)
    print(f"{target}  {width}×{height} px ({shot.name})")  # noqa: RUF001 - a multiplication sign
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Desktop and phone screenshots of an HTML email, with headless Chromium."
    )
    parser.add_argument("html", type=Path, help="the HTML file, e.g. build/2026-01.html")
    parser.add_argument("out", type=Path, help="the folder for sample-desktop.png, -phone.png and -dark.png")
    args = parser.parse_args(argv)

    html: Path = args.html
    out: Path = args.out
    if not html.is_file():
        print(f"error: no HTML file {html}; run `newsletter render ISSUE -o build` first", file=sys.stderr)
        return 2
    chromium = find_chromium()
    if chromium is None:
        print(
            "error: chromium was not found on PATH; install it (Debian/Ubuntu: "
            "sudo apt-get install chromium) and run this again",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    try:
        for shot in SHOTS:
            take(chromium, html, out, shot)
    except ScreenshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
