"""Whether an image is an address the mail client fetches or a file that we embed or publish: one rule
for an issue's images and a layout's logo, in the email and in the web archive."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import command
from bs4 import BeautifulSoup
from conftest import edit
from issue_files import copy_sample

PANEL = "HTTPS://cdn.example.org/nieuwsbrief/panel.png"
LOGO = "HTTPS://cdn.example.org/nieuwsbrief/logo.png"
LOGO_DARK = "HTTPS://cdn.example.org/nieuwsbrief/logo-dark.png"
PHOTO = "HTTPS://cdn.example.org/nieuwsbrief/goederentrein.jpg"


def _with_remote_images(project_dir: Path) -> Path:
    """The sample issue, ready, with an article image and a layout logo given as https addresses whose
    scheme is in capitals, as a link copied from an old document can be."""
    layout = project_dir / "layouts" / "pom-limburg" / "layout.yaml"
    edit(layout, "  src: logo.png\n", f'  src: "{LOGO}"\n')
    edit(layout, "logo_dark: logo-dark.png\n", f'logo_dark: "{LOGO_DARK}"\n')
    path = copy_sample(project_dir, "2026-01", send_at="2026-01-20T09:00")
    edit(path, "src: images/goederentrein.jpg", f"src: {PHOTO}")
    edit(
        path,
        "    link:\n      url: https://example.org/nieuws/health-campus-limburg-san-francisco\n",
        f"    image:\n      src: {PANEL}\n      alt: Het panel in San Francisco\n",
    )
    return path


def _sources(html: str) -> list[str]:
    return [str(img["src"]) for img in BeautifulSoup(html, "html.parser").find_all("img")]


def test_https_images_in_any_case_are_fetched_by_the_mail_client_not_embedded(project_dir: Path) -> None:
    _with_remote_images(project_dir)
    result = command.run("render", "issues/2026-01.yaml", "-o", "out", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    sources = _sources((project_dir / "out" / "2026-01.html").read_text(encoding="utf-8"))
    assert {PANEL, LOGO, LOGO_DARK, PHOTO} <= set(sources)
    assert not [s for s in sources if s.startswith("cid:")]
    message = message_from_bytes((project_dir / "out" / "2026-01.eml").read_bytes(), policy=policy.default)
    assert [
        part.get_content_type() for part in message.walk() if part.get_content_maintype() == "image"
    ] == []


def test_the_archive_links_https_images_in_any_case_and_copies_no_file_for_them(project_dir: Path) -> None:
    _with_remote_images(project_dir)
    result = command.run("archive", "-o", "site", "--include-ready", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    site = project_dir / "site"
    sources = _sources((site / "2026-01.html").read_text(encoding="utf-8"))
    assert {PANEL, LOGO, LOGO_DARK, PHOTO} <= set(sources)
    assert not (site / "assets").exists() or not [p for p in (site / "assets").rglob("*") if p.is_file()]
