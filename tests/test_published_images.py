"""Images published under the asset host are named by their content: the same photo shown full width
in one issue and beside the text in the next is two files, a new photo saved under last month's name
is a new file, and render's files, the archive, the preview, `check` and the message all name the
same file. Runs `newsletter` as a person does, on a scratch copy of the project."""

from __future__ import annotations

import hashlib
import io
import random
import re
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import unquote

import command
from bs4 import BeautifulSoup
from PIL import Image

from newsletter.delivering import approval
from newsletter.rendering.project import Project

BASE = "https://cdn.example.org/nb"
HEAD = """\
subject: Beelden op de server
preheader: Dezelfde foto, twee keer anders getoond
language: nl
layout: default
status: ready
send_at: {send_at}
sections:
  - type: intro
    body: Beste lezer, dit nummer heeft een foto.
"""
FULL_WIDTH = """\
  - type: image
    image:
      src: {src}
      alt: De telefoon op tafel
"""
BESIDE = """\
  - type: article
    title: Naast de tekst
    body: De tekst bij de foto, die ernaast staat.
    image:
      src: {src}
      alt: De telefoon op tafel
      align: left
"""


def photo(seed: int, size: tuple[int, int] = (2400, 1600)) -> bytes:
    """A photo with detail in it (it goes out as JPEG, resized for where it is shown)."""
    rnd = random.Random(seed)
    small = Image.frombytes("RGB", (240, 160), rnd.randbytes(240 * 160 * 3))
    out = io.BytesIO()
    small.resize(size, Image.Resampling.BICUBIC).save(out, "JPEG", quality=92)
    return out.getvalue()


def write(project: Path, slug: str, section: str, src: str = "images/phone.jpg") -> Path:
    path = project / "issues" / f"{slug}.yaml"
    send_at = f"{slug}-20T09:00"
    path.write_text(HEAD.format(send_at=send_at) + section.format(src=src), encoding="utf-8")
    return path


def save(project: Path, name: str, data: bytes) -> None:
    target = project / "issues" / "images" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def linked_env() -> dict[str, str]:
    return command.environment(NEWSLETTER_ASSET_BASE_URL=BASE)


def rendered_sources(project: Path, slug: str, out: str) -> tuple[list[str], list[str]]:
    """Render `slug` with the asset host into `out`: the image addresses of its message, and of the
    page written beside it."""
    result = command.run("render", f"issues/{slug}.yaml", "-o", out, cwd=project, env=linked_env())
    assert result.returncode == 0, command.output(result)
    message = message_from_bytes((project / out / f"{slug}.eml").read_bytes(), policy=policy.default)
    html = message.get_body(("html",))
    assert html is not None
    in_message = [str(i["src"]) for i in BeautifulSoup(html.get_content(), "html.parser").find_all("img")]
    page = (project / out / f"{slug}.html").read_text(encoding="utf-8")
    beside = [str(i["src"]) for i in BeautifulSoup(page, "html.parser").find_all("img")]
    return in_message, beside


def content_named(path: str, data: bytes) -> bool:
    """Whether `path` carries the first 8 hex digits of the SHA-256 of `data`, as published files do."""
    return re.search(rf"-{hashlib.sha256(data).hexdigest()[:8]}\.[a-z]+$", path) is not None


def test_one_photo_shown_two_ways_is_published_as_two_files(project_dir: Path) -> None:
    save(project_dir, "phone.jpg", photo(1))
    write(project_dir, "2026-03", FULL_WIDTH)
    write(project_dir, "2026-04", BESIDE)
    urls: dict[str, str] = {}
    for slug in ("2026-03", "2026-04"):
        in_message, beside = rendered_sources(project_dir, slug, "build")
        [url] = in_message
        assert url.startswith(f"{BASE}/images/phone-")
        # What render writes beside the page is what to upload: the same path, the same bytes.
        path = url.removeprefix(BASE + "/")
        assert beside == [f"{slug}_files/{path}"]
        data = (project_dir / "build" / beside[0]).read_bytes()
        assert content_named(path, data)
        urls[slug] = url
    assert urls["2026-03"] != urls["2026-04"]
    widths = []
    for slug, url in urls.items():
        with Image.open(project_dir / "build" / f"{slug}_files" / url.removeprefix(BASE + "/")) as made:
            widths.append(made.width)
    assert widths == [1104, 960]

    result = command.run("archive", "-o", "site", "--include-ready", cwd=project_dir)
    assert result.returncode == 0, command.output(result)
    published = sorted(p.name for p in (project_dir / "site" / "assets" / "images").iterdir())
    assert published == sorted(u.rsplit("/", 1)[1] for u in urls.values())
    for slug, url in urls.items():
        page = BeautifulSoup(
            (project_dir / "site" / f"{slug}.html").read_text(encoding="utf-8"), "html.parser"
        )
        [src] = [str(i["src"]) for i in page.find_all("img")]
        assert src == "assets/" + url.removeprefix(BASE + "/")
        assert content_named(src, (project_dir / "site" / src).read_bytes())


def test_a_new_photo_under_last_months_name_never_replaces_the_old_one(project_dir: Path) -> None:
    save(project_dir, "foto.jpg", photo(2))
    write(project_dir, "2026-03", FULL_WIDTH, "images/foto.jpg")
    [march], _ = rendered_sources(project_dir, "2026-03", "march")
    save(project_dir, "foto.jpg", photo(3))
    write(project_dir, "2026-04", FULL_WIDTH, "images/foto.jpg")
    [april], _ = rendered_sources(project_dir, "2026-04", "april")
    assert march != april
    # Both uploads side by side on the host: March's readers still see March's photo.
    old = project_dir / "march" / "2026-03_files" / march.removeprefix(BASE + "/")
    new = project_dir / "april" / "2026-04_files" / april.removeprefix(BASE + "/")
    assert old.read_bytes() != new.read_bytes()


def test_check_names_the_published_file_at_the_issues_line(project_dir: Path) -> None:
    save(project_dir, "phone.jpg", photo(4))
    issue = write(project_dir, "2026-03", FULL_WIDTH)
    [url], _ = rendered_sources(project_dir, "2026-03", "build")
    path = url.removeprefix(BASE + "/")
    result = command.run("check", "issues/2026-03.yaml", "--offline", cwd=project_dir, env=linked_env())
    said = command.output(result)
    line = next(
        n for n, text in enumerate(issue.read_text().splitlines(), 1) if "src: images/phone.jpg" in text
    )
    [finding] = [text for text in said.splitlines() if path in text and " KB" in text]
    # Weighed as it will be uploaded, placed where the issue names the original.
    size = (project_dir / "build" / "2026-03_files" / path).stat().st_size
    assert f"{size / 1024:.1f} KB, 1104x" in finding
    assert f"2026-03.yaml:{line} sections[1].image.src" in said
    assert "not weighed" not in said


def test_a_file_name_that_needs_percent_encoding_is_linked_beside_the_page(project_dir: Path) -> None:
    save(project_dir, "Zomer foto é.JPG", photo(5))
    save(project_dir, "phone.jpg", photo(6))
    write(
        project_dir,
        "2026-03",
        FULL_WIDTH.format(src='"images/Zomer foto é.JPG"') + BESIDE,
    )
    in_message, beside = rendered_sources(project_dir, "2026-03", "build")
    # The page beside the message shows the local files, none from the host.
    assert [src.startswith("2026-03_files/images/") for src in beside] == [True, True]
    for src in beside:
        assert (project_dir / "build" / unquote(src)).is_file()
    assert all(src.startswith(BASE + "/") for src in in_message)
    assert in_message[0].startswith(f"{BASE}/images/Zomer%20foto%20%C3%A9-")


def test_a_new_photo_under_the_same_name_voids_the_approval_of_a_linked_issue(project_dir: Path) -> None:
    save(project_dir, "foto.jpg", photo(7))
    path = write(project_dir, "2026-03", FULL_WIDTH, "images/foto.jpg")
    project = Project(project_dir / "issues", project_dir / "layouts", asset_base_url=BASE)
    _, before = project.render(path)
    save(project_dir, "foto.jpg", photo(8))
    _, after = project.render(path)
    # Readers get another picture: the message links another file, so the approved version changed.
    assert [i.path for i in before.linked] != [i.path for i in after.linked]
    assert approval.fingerprint(before) != approval.fingerprint(after)
