"""Issue files written for a test: copies of the sample issue with another status, send time, audience
or subject, or with mistakes made in it; the all-sections issue (every section type once, with a local
PNG) and how to render it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import ROOT, SAMPLE, png

from newsletter.errors import IssueError, Problem
from newsletter.model import Rendered
from newsletter.reading.issues import LoadedIssue
from newsletter.rendering.project import Project


def copy_sample(
    folder: Path,
    slug: str,
    *,
    status: str = "ready",
    send_at: str | None = None,
    audience: str | None = None,
    subject: str | None = None,
) -> Path:
    """The sample issue as folder/issues/<slug>.yaml with the given status, and send_at, audience and
    subject when given."""
    text = SAMPLE.read_text(encoding="utf-8")
    assert "status: draft\n" in text
    header = f"status: {status}\n"
    if send_at is not None:
        header += f"send_at: {send_at}\n"
    if audience is not None:
        header += f"audience: {audience}\n"
    text = text.replace("status: draft\n", header)
    if subject is not None:
        text = re.sub(r"(?m)^subject: .*$", f'subject: "{subject}"', text)
    path = folder / "issues" / f"{slug}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    copy_sample_images(folder / "issues")
    return path


def copy_sample_images(issues_dir: Path) -> None:
    """The sample issue's images (its article photo) into `issues_dir`/images, beside a copy of it."""
    shutil.copytree(SAMPLE.parent / "images", issues_dir / "images", dirs_exist_ok=True)


PNG = png()  # images/dot.png beside the all-sections issue

ALL_SECTIONS = """\
subject: "Alles over CO₂ \u2013 voor {{ first_name | default('lezer') }}"
preheader: Een voorproefje van alle soorten blokken
language: nl
layout: LAYOUT
sections:
  - type: intro
    title: Welkom bij de intro
    body: |
      Beste {{ first_name | default('lezer') }}, dit is de intro.
  - type: article
    title: Artikeltitel met CO₂
    kicker: De kickerregel
    body: |
      Body van het artikel met een [link in de tekst](https://example.org/in-body) en
      <script>alert(1)</script> als tekst.

      - punt een
      - punt twee
    image:
      src: images/dot.png
      alt: Rode stip
      width: 100
      href: https://example.org/stip
    link:
      url: https://example.org/p?e={{ email }}
      label: Lees het artikel
  - type: callout
    title: De callouttitel
    body: De callouttekst van de regio\u2019s.
    button:
      label: Calloutknop
      url: https://example.org/callout
  - type: image
    image:
      src: https://example.org/foto.jpg
      alt: Externe foto
      href: https://example.org/foto-link
    caption: Het bijschrift van de foto
  - type: button
    label: Losse knop
    url: https://example.org/knop
  - type: divider
  - type: columns
    columns:
      - title: Kolom links
        body: Tekst van links, met [mail](mailto:info@example.org).
        link:
          url: https://example.org/links
      - title: Kolom rechts
        body: Tekst van rechts
        image:
          src: images/dot.png
          alt: Stip rechts
  - type: events
    title: De agendatitel
    events:
      - date: 2026-02-03
        time: 14:00 tot 17:00
        title: Evenement een
        place: Corda Campus, Hasselt
        link:
          url: https://example.org/event1
      - date: 2026-03-10
        title: Evenement twee
"""


def write_issue(folder: Path, layout: str = "default", text: str = ALL_SECTIONS, name: str = "all") -> Path:
    """`text` as folder/issues/<name>.yaml, with the PNG it uses in folder/issues/images/."""
    issues_dir = folder / "issues"
    (issues_dir / "images").mkdir(parents=True, exist_ok=True)
    (issues_dir / "images" / "dot.png").write_bytes(PNG)
    path = issues_dir / f"{name}.yaml"
    path.write_text(text.replace("layout: LAYOUT", f"layout: {layout}"), encoding="utf-8")
    return path


def render(path: Path, **project: str) -> tuple[LoadedIssue, Rendered]:
    """The issue at `path` loaded and rendered with the project's layouts (and `project` settings)."""
    return Project(path.parent, ROOT / "layouts", **project).render(path)


def sample_text(*edits: tuple[str, str]) -> str:
    """The sample issue's text with each (old, new) made; every `old` must be there exactly once."""
    text = SAMPLE.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} is not in the sample issue exactly once"
        text = text.replace(old, new)
    return text


def problems_of(folder: Path, text: str, name: str = "2026-02") -> tuple[Path, list[Problem]]:
    """`text` as folder/issues/<name>.yaml, and the problems the product reports for it, in order."""
    path = folder / "issues" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    copy_sample_images(path.parent)
    try:
        Project(path.parent, ROOT / "layouts").render(path)
    except IssueError as e:
        return path, e.problems
    raise AssertionError(f"{path} was accepted")
