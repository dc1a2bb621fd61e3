"""Images made for email: a phone photo goes out upright, small, sharp and without its GPS position;
transparency, animation and graphics survive; each image is sized for where it is shown; a rerender
reads the cache; the original is never changed; the browser page, the archive and the asset host get
the same processed bytes; a file that is no usable image is one line and exit 2.

Most run `newsletter` as a person does, on a scratch copy of the project with an issue of their own.
"""

from __future__ import annotations

import io
import math
import random
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import command
import pytest
from bs4 import BeautifulSoup
from conftest import needs_chromium
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageDraw, ImageOps, ImageStat
from playwright.sync_api import Browser

from newsletter.rendering import emailimage
from newsletter.rendering.project import Project
from newsletter.web.preview import Preview

HEAD = """\
subject: Beelden voor e-mail
preheader: Een foto van een telefoon, een logo en een animatie
language: nl
# The default layout has no logo: the only images in these messages are the ones each test puts in.
layout: default
status: ready
send_at: 2026-02-20T09:00
sections:
  - type: intro
    body: Beste lezer, dit nummer heeft beelden.
"""
GPS_MARK = b"HASSELT-GPS-MARK"
MAKE_MARK = b"TESTPHONE-MAKE"
PHONE = (4032, 3024)


def article(src: str, **image: str | int) -> str:
    extra = "".join(f"      {k}: {v}\n" for k, v in image.items())
    return (
        f"  - type: article\n    title: Een artikel met {src}\n    body: De tekst bij het beeld.\n"
        f"    image:\n      src: {src}\n      alt: Wat het beeld toont\n{extra}"
    )


def columns(src: str) -> str:
    return (
        "  - type: columns\n    columns:\n"
        f"      - {{title: Links, body: Links met beeld., image: {{src: {src}, alt: Een kolombeeld}}}}\n"
        "      - {title: Rechts, body: Rechts zonder beeld.}\n"
    )


def write_issue(folder: Path, *sections: str, slug: str = "2026-02") -> Path:
    path = folder / "issues" / f"{slug}.yaml"
    path.write_text(HEAD + "".join(sections), encoding="utf-8")
    return path


def unhashed(name: str) -> str:
    """A published file's name without the 8 hex digits of its content (foto-1a2b3c4d.jpg → foto.jpg)."""
    return re.sub(r"-[0-9a-f]{8}(?=\.[a-z]+$)", "", name)


def save(folder: Path, name: str, data: bytes) -> Path:
    path = folder / "issues" / "images" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    """A phone photo as a phone saves it: 4032x3024 at JPEG quality 95 with grain and detail (3 to 9
    MB), Exif orientation 6 (held sideways: shown turned 90 degrees clockwise), a make and a GPS
    position; a red block at the stored top-left, which shows top-right once upright."""
    w, h = PHONE
    gradient = Image.linear_gradient("L").resize((w, h))
    picture = Image.merge(
        "RGB", (gradient, gradient.rotate(90).resize((w, h)), Image.radial_gradient("L").resize((w, h)))
    )
    draw = ImageDraw.Draw(picture)
    rnd = random.Random(13)
    for _ in range(400):
        x, y, s = rnd.randrange(w), rnd.randrange(h), rnd.randrange(20, 300)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.ellipse((x, y, x + s, y + s * 0.7), fill=colour, outline=(0, 0, 0), width=3)
    grain = Image.merge("RGB", [Image.effect_noise((w, h), 40) for _ in range(3)])
    picture = Image.blend(picture, grain, 0.15)
    ImageDraw.Draw(picture).rectangle((0, 0, 600, 400), fill=(230, 0, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = MAKE_MARK.decode()
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (50.0, 55.0, 48.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (5.0, 20.0, 12.0),
        ExifTags.GPS.GPSAreaInformation: GPS_MARK.decode(),
    }
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95, exif=exif)
    data = out.getvalue()
    assert 3_000_000 < len(data) < 9_000_000, len(data)
    return data


def parts(eml: Path) -> list[EmailMessage]:
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    return [p for p in message.walk() if p.get_content_maintype() == "image"]


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The bands of one pixel of a colour image."""
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


def _is_red(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > 180 and rgb[1] < 70 and rgb[2] < 70


def psnr(a: Image.Image, b: Image.Image) -> float:
    rms = math.sqrt(sum(v**2 for v in ImageStat.Stat(ImageChops.difference(a, b)).rms) / 3)
    return 20 * math.log10(255 / rms)


def render(folder: Path, *args: str) -> str:
    result = command.run("render", "issues/2026-02.yaml", "-o", "build", *args, cwd=folder)
    assert result.returncode == 0, command.output(result)
    return result.stdout


def test_a_phone_photo_goes_out_upright_small_sharp_and_without_its_gps_position(
    project_dir: Path, phone_photo: bytes
) -> None:
    original = save(project_dir, "foto.jpg", phone_photo)
    before = original.stat().st_mtime_ns
    write_issue(project_dir, article("images/foto.jpg"))
    out = render(project_dir)
    [part] = parts(project_dir / "build" / "2026-02.eml")
    data = part.get_content()
    assert part.get_content_type() == "image/jpeg"
    assert len(data) < 400 * 1024
    assert "2026-02.eml: " in out
    assert " KB with 1 image" in out
    sent = opened(data)
    # Upright: the stored landscape is shown portrait, the red corner top-right; 2x the 552 px shown.
    assert sent.width <= 1200
    assert sent.width == 1104
    assert sent.height == round(1104 * PHONE[0] / PHONE[1])
    red = [_is_red(pixel(sent, corner)) for corner in ((20, 20), (sent.width - 20, 20))]
    assert red == [False, True]
    # No metadata at all, by Pillow and in the bytes.
    assert not sent.getexif()
    assert "exif" not in sent.info
    assert "icc_profile" not in sent.info
    for mark in (GPS_MARK, MAKE_MARK, b"Exif\x00\x00", b"http://ns.adobe.com/xap"):
        assert mark not in data
    # Sharp: over 31.5 dB PSNR against the original turned and scaled alike with LANCZOS (the grain
    # costs JPEG some; at quality 95 it would be 34.7), where the same photo at half the resolution,
    # blown up again, or at JPEG quality 60, stays under 30.
    reference = ImageOps.exif_transpose(opened(phone_photo)).resize(sent.size, Image.Resampling.LANCZOS)
    assert psnr(sent.convert("RGB"), reference) > 31.5
    half = reference.resize((sent.width // 2, sent.height // 2), Image.Resampling.LANCZOS)
    assert psnr(half.resize(sent.size, Image.Resampling.LANCZOS), reference) < 30
    # The original is as it was.
    assert original.read_bytes() == phone_photo
    assert original.stat().st_mtime_ns == before


def test_a_png_with_transparency_stays_a_png_and_keeps_its_alpha(project_dir: Path) -> None:
    logo = Image.new("RGBA", (2400, 800), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((100, 100, 2300, 700), fill=(11, 79, 108, 255))
    out = io.BytesIO()
    logo.save(out, "PNG")
    save(project_dir, "logo.png", out.getvalue())
    write_issue(project_dir, article("images/logo.png"))
    render(project_dir)
    [part] = parts(project_dir / "build" / "2026-02.eml")
    sent = opened(part.get_content())
    assert part.get_content_type() == "image/png"
    assert sent.format == "PNG"
    assert sent.mode == "RGBA"
    assert sent.width == 1104
    assert pixel(sent, (0, 0))[3] == 0
    assert pixel(sent, (552, 184))[3] == 255


def test_an_animated_gif_keeps_its_frames(project_dir: Path) -> None:
    frames = [Image.new("RGB", (300, 200), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    save(project_dir, "blink.gif", out.getvalue())
    write_issue(project_dir, article("images/blink.gif"))
    render(project_dir)
    [part] = parts(project_dir / "build" / "2026-02.eml")
    assert part.get_content() == out.getvalue()
    assert opened(part.get_content()).n_frames == 3  # type: ignore[attr-defined]


def test_each_image_is_at_most_twice_the_width_it_is_shown_at(project_dir: Path, phone_photo: bytes) -> None:
    wide = Image.new("RGB", (3000, 1500), (200, 120, 40))
    out = io.BytesIO()
    wide.save(out, "JPEG", quality=90)
    for name in ("kolom.jpg", "naast.jpg", "klein.jpg"):
        save(project_dir, name, out.getvalue())
    write_issue(
        project_dir,
        columns("images/kolom.jpg"),
        article("images/naast.jpg", align="left"),
        article("images/klein.jpg", width=120),
    )
    render(project_dir)
    html = BeautifulSoup((project_dir / "build" / "2026-02.html").read_text(encoding="utf-8"), "html.parser")
    named = {str(img["src"]).rsplit("/", 1)[1]: int(str(img["width"])) for img in html.find_all("img")}
    shown = {unhashed(name): width for name, width in named.items()}
    files = project_dir / "build" / "2026-02_files" / "images"
    widths = {unhashed(name): opened((files / name).read_bytes()).width for name in named}
    # A column (300 px less its padding) stays 252 px on a phone; beside the text the image fills a
    # phone's width (up to the 480 px breakpoint); with width: 120 it is 120 everywhere.
    assert shown == {"kolom.jpg": 252, "naast.jpg": 192, "klein.jpg": 120}
    assert widths == {"kolom.jpg": 504, "naast.jpg": 960, "klein.jpg": 240}
    assert widths["kolom.jpg"] <= 2 * 300


def test_a_rerender_reads_the_cache_and_decodes_nothing(
    project_dir: Path, phone_photo: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(project_dir, "foto.jpg", phone_photo)
    path = write_issue(project_dir, article("images/foto.jpg"))
    project = Project(project_dir / "issues", project_dir / "layouts")
    _, first = project.render(path)
    cached = list((project_dir / ".newsletter-cache" / "images").iterdir())
    assert [p.suffix for p in cached] == [".jpg"]

    def no_decoding(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("the second render decoded an image")

    monkeypatch.setattr(Image, "open", no_decoding)
    _, second = project.render(path)
    assert second.images == first.images
    assert cached[0].read_bytes() == first.images[0].data


def test_the_browser_page_shows_the_images_from_files_beside_it(project_dir: Path) -> None:
    save(project_dir, "paneel.png", _png(800, 400))
    write_issue(project_dir, article("images/paneel.png"))
    render(project_dir)
    build = project_dir / "build"
    html = BeautifulSoup((build / "2026-02.html").read_text(encoding="utf-8"), "html.parser")
    [src] = [str(img["src"]) for img in html.find_all("img")]
    assert unhashed(src) == "2026-02_files/images/paneel.png"
    [part] = parts(build / "2026-02.eml")
    assert (build / src).read_bytes() == part.get_content()
    assert part["Content-ID"].strip("<>") in (build / "2026-02.eml").read_text(encoding="ascii")


def _png(width: int, height: int) -> bytes:
    """A graphic: a red block on black, as a screenshot or a chart has few colours."""
    picture = Image.new("RGB", (width, height))
    ImageDraw.Draw(picture).rectangle((10, 10, width // 2, height // 2), fill="red")
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


@needs_chromium
def test_the_browser_shows_the_rendered_pages_images(project_dir: Path, browser: Browser) -> None:
    save(project_dir, "paneel.png", _png(800, 400))
    write_issue(project_dir, article("images/paneel.png"))
    render(project_dir)
    page = browser.new_page()
    try:
        page.goto((project_dir / "build" / "2026-02.html").as_uri())
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    finally:
        page.close()
    assert widths == [800]


def test_the_archive_and_the_asset_host_publish_the_processed_bytes(
    project_dir: Path, phone_photo: bytes
) -> None:
    save(project_dir, "foto.jpg", phone_photo)
    write_issue(project_dir, article("images/foto.jpg"))
    render(project_dir)
    [part] = parts(project_dir / "build" / "2026-02.eml")
    result = command.run("archive", "-o", "site", "--include-ready", cwd=project_dir)
    assert result.returncode == 0, command.output(result)
    [archived] = (project_dir / "site" / "assets" / "images").iterdir()
    assert unhashed(archived.name) == "foto.jpg"
    assert archived.read_bytes() == part.get_content()
    base = "https://cdn.example.org/nieuwsbrief"
    env = command.environment(NEWSLETTER_ASSET_BASE_URL=base)
    result = command.run("render", "issues/2026-02.yaml", "-o", "linked", cwd=project_dir, env=env)
    assert result.returncode == 0, command.output(result)
    assert parts(project_dir / "linked" / "2026-02.eml") == []
    linked = message_from_bytes((project_dir / "linked" / "2026-02.eml").read_bytes(), policy=policy.default)
    html = linked.get_body(("html",))
    assert html is not None
    # decoded: quoted-printable folds long lines
    assert f"{base}/images/{archived.name}" in html.get_content()
    published = project_dir / "linked" / "2026-02_files" / "images" / archived.name
    assert published.read_bytes() == part.get_content()
    assert (
        "1 image linked: upload what is in linked/2026-02_files/ to NEWSLETTER_ASSET_BASE_URL"
        in result.stdout
    )


def test_a_photo_saved_as_png_goes_as_jpeg_and_a_screenshot_stays_png(project_dir: Path) -> None:
    rnd = random.Random(2)
    photo = Image.frombytes("RGB", (1600, 1200), rnd.randbytes(1600 * 1200 * 3)).resize((2000, 1500))
    out = io.BytesIO()
    photo.save(out, "PNG")
    save(project_dir, "scan.png", out.getvalue())
    save(project_dir, "scherm.png", _png(1800, 1000))
    write_issue(project_dir, article("images/scan.png"), article("images/scherm.png"))
    render(project_dir)
    files = project_dir / "build" / "2026-02_files" / "images"
    made = {unhashed(p.name): p.read_bytes() for p in files.iterdir()}
    assert sorted(made) == ["scan.jpg", "scherm.png"]
    assert opened(made["scan.jpg"]).format == "JPEG"
    assert opened(made["scherm.png"]).format == "PNG"


def test_cmyk_16_bit_palette_and_profiled_images_come_out_in_srgb_at_8_bits() -> None:
    cmyk = io.BytesIO()
    Image.new("CMYK", (1500, 1000), (0, 255, 255, 0)).save(cmyk, "JPEG")
    made = emailimage.process(cmyk.getvalue(), 1104)
    assert opened(made.data).mode == "RGB"
    assert made.size == (1104, 736)
    assert pixel(opened(made.data), (5, 5))[0] > 200

    grey = Image.new("I;16", (300, 200), 40000)
    out = io.BytesIO()
    grey.save(out, "PNG")
    sent = opened(emailimage.process(out.getvalue(), 1104).data)
    assert sent.mode == "L"
    assert sent.getpixel((1, 1)) in (40000 // 256, 40000 // 256 + 1)

    palette = Image.new("RGB", (2000, 1000), "white").quantize(8)
    ImageDraw.Draw(palette).rectangle((0, 0, 1000, 500), fill=3)
    out = io.BytesIO()
    palette.save(out, "PNG")
    sent = opened(emailimage.process(out.getvalue(), 1104).data)
    assert sent.format == "PNG"
    assert sent.mode == "P"
    assert sent.width == 1104

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (500, 300), (10, 200, 30)).save(out, "JPEG", icc_profile=srgb, comment=b"a comment")
    made = emailimage.process(out.getvalue(), 1104)
    assert "icc_profile" not in opened(made.data).info
    assert b"a comment" not in made.data


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "is not an image"),
        (b"not a picture at all", "is not an image"),
        ("truncated", "is damaged or cut short"),
        ("bomb", "million pixels"),
    ],
)
def test_a_file_that_is_no_usable_image_is_one_line_and_exit_2(
    project_dir: Path, phone_photo: bytes, content: bytes | str, said: str
) -> None:
    if content == "truncated":
        data = phone_photo[: len(phone_photo) // 2]
    elif content == "bomb":
        out = io.BytesIO()
        Image.new("1", (10_000, 9_000)).save(out, "PNG")
        data = out.getvalue()
    else:
        assert isinstance(content, bytes)
        data = content
    save(project_dir, "kapot.jpg", data)
    issue = write_issue(project_dir, article("images/kapot.jpg"))
    result = command.run("render", "issues/2026-02.yaml", "-o", "build", cwd=project_dir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # At the line and field that name the file, as a missing file is.
    line = issue.read_text(encoding="utf-8").splitlines().index("      src: images/kapot.jpg") + 1
    assert lines[0].startswith(f"error: issues/2026-02.yaml:{line}: sections[1].image.src: images/kapot.jpg ")
    assert said in lines[0]
    assert "Traceback" not in result.stderr


def test_validate_warns_about_a_heavy_image_and_an_svg(project_dir: Path) -> None:
    rnd = random.Random(3)
    noise = Image.frombytes("RGB", (1104, 1400), rnd.randbytes(1104 * 1400 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    save(project_dir, "ruis.jpg", out.getvalue())
    save(project_dir, "teken.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    path = write_issue(project_dir, article("images/ruis.jpg"), article("images/teken.svg"))
    result = command.run("validate", str(path.relative_to(project_dir)), cwd=project_dir)
    assert result.returncode == 0, command.output(result)
    assert "message " in result.stdout
    assert " KB with 2 images" in result.stdout
    said = command.output(result)
    assert "images/ruis.jpg still weighs" in said
    assert "(over 300 KB)" in said
    assert "images/teken.svg is an SVG, which Gmail and Outlook do not show" in said
    assert "each message weighs" in said
    assert "NEWSLETTER_ASSET_BASE_URL" in said


def test_the_preview_shows_the_images_as_readers_get_them(project_dir: Path, phone_photo: bytes) -> None:
    save(project_dir, "foto.jpg", phone_photo)
    path = write_issue(project_dir, article("images/foto.jpg"))
    viewer = Preview(Project(Path("issues"), Path("layouts")), path, sender="POM <nieuwsbrief@example.org>")
    html = BeautifulSoup(viewer.email_html(0) or "", "html.parser")
    [src] = [str(img["src"]) for img in html.find_all("img")]
    assert unhashed(src) == "/assets/images/foto.jpg"
    shown = viewer.image(src)
    assert shown is not None
    assert shown.content_type == "image/jpeg"
    assert opened(shown.data).width == 1104
    assert GPS_MARK not in shown.data


def test_a_cache_that_cannot_be_written_only_makes_the_render_slower(project_dir: Path) -> None:
    save(project_dir, "paneel.png", _png(1800, 900))
    path = write_issue(project_dir, article("images/paneel.png"))
    blocked = project_dir / "not-a-folder"
    blocked.write_text("a file where the cache folder would go", encoding="utf-8")
    project = Project(project_dir / "issues", project_dir / "layouts", image_cache=blocked / "images")
    _, rendered = project.render(path)
    [image] = rendered.images
    assert opened(image.data).width == 1104
    assert blocked.read_text(encoding="utf-8") == "a file where the cache folder would go"


def test_image_file_names_with_accents_and_quotes_reach_the_reader_whole(project_dir: Path) -> None:
    # RFC 2231 in the part's header: raw UTF-8 or a bare quote there breaks mail parsers.
    names = ["foto met spatie é.png", 'logo "nieuw".png']
    for size, name in enumerate(names, start=30):
        save(project_dir, name, _png(40, size))  # two pictures: the same bytes would be one part
    write_issue(project_dir, *(article(f"'images/{name}'") for name in names))
    render(project_dir)
    raw = (project_dir / "build" / "2026-02.eml").read_bytes()
    assert raw.isascii()
    got = parts(project_dir / "build" / "2026-02.eml")
    assert sorted(str(part.get_filename()) for part in got) == sorted(names)
    assert all(not part.defects for part in got)
