"""What `validate`, `render` and `check` say about an issue's weight, its images and its layout, as a
person reads it: one figure for the message's size, advice for an animated GIF that can work, the
dark palette's contrast, a layout image without alt, a damaged image at the line that names it and
an image's width in the product's words. Runs `newsletter` as a person does, on a scratch copy of the
project (its `default` layout, whose folder holds only layout.yaml)."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path

import command
from PIL import Image

HEAD = """\
subject: Woorden bij beelden
preheader: Wat validate en render zeggen over dit nummer
language: nl
layout: default
status: ready
send_at: 2026-02-20T09:00
sections:
  - type: intro
    body: Beste lezer, dit nummer heeft beelden.
"""
ISSUE = "issues/2026-02.yaml"
LAYOUT = Path("layouts/default")


def image_section(src: str, **extra: str | int) -> str:
    more = "".join(f"      {k}: {v}\n" for k, v in extra.items())
    return f"  - type: image\n    image:\n      src: {src}\n      alt: Wat het beeld toont\n{more}"


def write(project: Path, *sections: str) -> Path:
    path = project / ISSUE
    path.write_text(HEAD + "".join(sections), encoding="utf-8")
    return path


def save(project: Path, name: str, data: bytes) -> None:
    target = project / "issues" / "images" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def noise_jpeg(seed: int, size: tuple[int, int] = (1104, 1400)) -> bytes:
    """A photo all fine detail: it stays heavy once made for email."""
    rnd = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", size, rnd.randbytes(size[0] * size[1] * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def animated_gif(frames: int = 4, size: tuple[int, int] = (400, 300)) -> bytes:
    rnd = random.Random(7)
    pictures = [Image.frombytes("P", size, rnd.randbytes(size[0] * size[1])) for _ in range(frames)]
    for picture in pictures:
        picture.putpalette([rnd.randrange(256) for _ in range(768)])
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return out.getvalue()


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def add_to_layout(project: Path, text: str) -> Path:
    config = project / LAYOUT / "layout.yaml"
    with config.open("a", encoding="utf-8") as f:
        f.write(text)
    return config


# -- one figure for the message's size -------------------------------------------------------------


def test_validate_and_render_give_the_same_message_size(project_dir: Path) -> None:
    save(project_dir, "ruis.jpg", noise_jpeg(3))
    save(project_dir, "ruis2.jpg", noise_jpeg(4))
    write(project_dir, image_section("images/ruis.jpg"), image_section("images/ruis2.jpg"))
    validated = command.run("validate", ISSUE, cwd=project_dir)
    assert validated.returncode == 0, command.output(validated)
    rendered = command.run("render", ISSUE, "-o", "build", cwd=project_dir)
    assert rendered.returncode == 0, command.output(rendered)
    [said] = re.findall(r"message (\d+) KB with 2 images", validated.stdout)
    [written] = re.findall(r"2026-02\.eml: (\d+) KB with 2 images", rendered.stdout)
    assert said == written
    # The warning about a heavy message gives the same figure, and it is the .eml's size.
    assert f"each message weighs {said} KB with its 2 images" in command.output(validated)
    assert round((project_dir / "build" / "2026-02.eml").stat().st_size / 1024) == int(said)


def test_a_heavy_animated_gif_gets_advice_that_makes_it_lighter(project_dir: Path) -> None:
    gif = animated_gif()
    assert len(gif) > 300 * 1024
    save(project_dir, "dans.gif", gif)
    write(project_dir, image_section("images/dans.gif"), image_section("images/stil.jpg"))
    save(project_dir, "stil.jpg", noise_jpeg(5))
    result = command.run("validate", ISSUE, cwd=project_dir)
    assert result.returncode == 0, command.output(result)
    [gif_line] = [
        line for line in command.output(result).splitlines() if "images/dans.gif still weighs" in line
    ]
    assert "width: does not make it lighter" in gif_line
    assert "fewer frames or colours" in gif_line
    assert "still image" in gif_line
    assert "show it smaller (width:)" not in gif_line
    # A photo does get smaller with width:, and is told so.
    [photo_line] = [
        line for line in command.output(result).splitlines() if "images/stil.jpg still weighs" in line
    ]
    assert "show it smaller (width:)" in photo_line


# -- the dark palette's contrast -------------------------------------------------------------------


def test_validate_warns_about_a_dark_colour_that_cannot_be_read(project_dir: Path) -> None:
    config = add_to_layout(project_dir, 'dark: {primary: "#222222"}\n')
    write(project_dir)
    result = command.run("validate", ISSUE, cwd=project_dir)
    assert result.returncode == 0, command.output(result)
    dark = [line for line in command.output(result).splitlines() if "in dark mode" in line]
    # Headings #222222 on the dark surface, and buttons of that colour that vanish into it.
    heading = next(line for line in dark if "heading and button colour #222222 on " in line)
    assert heading.startswith(f"warning: {config.relative_to(project_dir)}: in dark mode, ")
    assert "has contrast 1.01:1, below 4.5:1 (WCAG AA); change dark.primary" in heading
    # The light pairs of the default layout are fine: nothing said about them.
    assert all("in dark mode" in line for line in command.output(result).splitlines() if "contrast" in line)


def test_the_derived_dark_palette_passes(project_dir: Path) -> None:
    write(project_dir)
    result = command.run("validate", ISSUE, cwd=project_dir)
    assert result.returncode == 0, command.output(result)
    assert "contrast" not in command.output(result)


# -- an image in a layout's template without alt ---------------------------------------------------

DIVIDER = """\
<mj-section>
  <mj-column>
    <mj-image src="https://example.org/lijn.png"{alt} padding="0 24px" />
  </mj-column>
</mj-section>
"""


def test_a_layout_image_without_alt_is_an_error_naming_the_template(project_dir: Path) -> None:
    template = project_dir / LAYOUT / "sections" / "divider.mjml.j2"
    template.parent.mkdir(parents=True)
    template.write_text(DIVIDER.format(alt=""), encoding="utf-8")
    write(project_dir, "  - type: divider\n")
    where = f"{LAYOUT}/sections/divider.mjml.j2:3: this <mj-image> has no alt attribute"
    for args in (("validate", ISSUE), ("check", ISSUE, "--offline")):
        result = command.run(*args, cwd=project_dir)
        assert result.returncode == 2, command.output(result)
        assert result.stderr.strip().splitlines() == [
            f'error: {where}; write alt="what it shows" for screen readers and blocked images, '
            'or alt="" if it is decoration only'
        ]
    # Said to be decoration: fine.
    template.write_text(DIVIDER.format(alt=' alt=""'), encoding="utf-8")
    assert command.run("validate", ISSUE, cwd=project_dir).returncode == 0


# -- a damaged image, a width too large ------------------------------------------------------------


def test_a_damaged_logo_is_named_at_its_layout_line(project_dir: Path) -> None:
    (project_dir / LAYOUT / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    config = add_to_layout(project_dir, 'logo: {src: logo.png, alt: "Logo", width: 160}\n')
    write(project_dir)
    result = command.run("render", ISSUE, "-o", "build", cwd=project_dir)
    assert result.returncode == 2, command.output(result)
    [line] = result.stderr.strip().splitlines()
    at = len(config.read_text(encoding="utf-8").splitlines())  # the line just added
    assert line.startswith(f"error: {config.relative_to(project_dir)}:{at}: logo.src: logo.png is ")
    assert "Traceback" not in result.stderr


def test_a_damaged_image_in_a_column_is_named_at_its_line_and_field(project_dir: Path) -> None:
    save(project_dir, "kapot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    path = write(
        project_dir,
        "  - type: columns\n    columns:\n"
        "      - {title: Links, body: Tekst., image: {src: images/kapot.png, alt: Een kolombeeld}}\n"
        "      - {title: Rechts, body: Tekst.}\n",
    )
    result = command.run("validate", ISSUE, cwd=project_dir)
    assert result.returncode == 2, command.output(result)
    at = line_of(path, "images/kapot.png")
    assert result.stderr.startswith(
        f"error: {ISSUE}:{at}: sections[1].columns[0].image.src: images/kapot.png is "
    )


def test_a_width_over_600_says_why_in_the_products_words(project_dir: Path) -> None:
    save(project_dir, "foto.jpg", noise_jpeg(6, (800, 600)))
    path = write(project_dir, image_section("images/foto.jpg", width=2000))
    result = command.run("validate", ISSUE, cwd=project_dir)
    assert result.returncode == 2, command.output(result)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {ISSUE}:{line_of(path, 'width: 2000')}: sections[1].image.width: ")
    assert "at most 600 pixels wide" in line
    assert "less than or equal" not in line
