"""The rendered email passes html-validate, really run with node, in every shipped layout.

tests/html-validate/ pins html-validate (package.json, package-lock.json; `npm ci` there installs it,
as .ci/run and `make test` do) and holds its configuration, .htmlvalidate.cjs: the recommended rules,
less the few that email HTML must break, each with its reason. Without node the tests are skipped,
except in CI, where they fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import IN_CI, ROOT, SAMPLE
from issue_files import write_issue

from newsletter.model import SAMPLE_RECIPIENT, Rendered
from newsletter.model.merge import escape_html, resolve
from newsletter.reading import layouts
from newsletter.rendering.project import Project

TOOL_DIR = Path(__file__).resolve().parent / "html-validate"
CONFIG = TOOL_DIR / ".htmlvalidate.cjs"
CLI = TOOL_DIR / "node_modules" / "html-validate" / "bin" / "html-validate.mjs"
INSTALL = "cd tests/html-validate && npm ci"
LAYOUTS = tuple(layouts.available(ROOT / "layouts"))

# Every section type, in English: article images on top, left and right with captions, a local image
# and a view-in-browser link.
ENGLISH = """\
subject: "Everything in one issue, for {{ first_name | default('reader') }}: articles, columns, events"
preheader: A look at every kind of block
language: en
layout: LAYOUT
sections:
  - type: intro
    title: Welcome to the intro
    body: |
      Dear {{ first_name | default('reader') }}, this is the intro.
  - type: article
    title: An article about CO₂
    kicker: The kicker line
    body: |
      The article's body with [a link](https://example.org/in-body).

      - point one
      - point two
    image:
      src: images/dot.png
      alt: A red dot
      width: 100
      href: https://example.org/dot
      caption: A caption under the image
    link:
      url: https://example.org/article
  - type: article
    title: An image on the left
    body: Text beside the image.
    image: {src: images/dot.png, alt: A dot on the left, align: left, caption: "A *caption*"}
  - type: article
    title: An image on the right
    body: Text beside the image.
    image: {src: "https://example.org/photo.jpg", alt: A photo on the right, align: right}
    link:
      url: https://example.org/right
  - type: callout
    title: A callout
    body: The callout's text.
    button:
      label: Callout button
      url: https://example.org/callout
  - type: image
    image:
      src: https://example.org/photo.jpg
      alt: A photo from elsewhere
    caption: The photo's caption
  - type: button
    label: A button
    url: https://example.org/button
  - type: divider
  - type: columns
    columns:
      - title: Left column
        body: Text on the left, with [mail](mailto:info@example.org).
        link:
          url: https://example.org/left
      - title: Right column
        body: Text on the right
        image:
          src: images/dot.png
          alt: A dot on the right
  - type: events
    events:
      - date: 2026-02-03
        time: 2 pm to 5 pm
        title: First event
        place: Corda Campus, Hasselt
        link:
          url: https://example.org/event1
      - date: 2026-03-10
        title: Second event
"""


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    line: int
    column: int
    selector: str | None

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.rule}: {self.message} ({self.selector or 'document'})"


def html_for_sample_reader(rendered: Rendered) -> str:
    data = SAMPLE_RECIPIENT.merge_data()
    data["unsubscribe_url"] = "https://example.org/unsubscribe?token=html-validate"
    return rendered.html.fill(resolve(rendered.fields, data), escape_html)


def node() -> str:
    """The node executable, else a skip (a failure in CI); a missing html-validate is a failure."""
    found = shutil.which("node")
    if found is None:
        if IN_CI:
            pytest.fail("CI is set but node is missing: install Debian's nodejs and npm (see .ci/run)")
        pytest.skip("needs node to run html-validate (Debian: apt-get install nodejs npm)")
    if not CLI.is_file():
        pytest.fail(f"html-validate is not installed; run: {INSTALL}")
    return found


def html_validate(files: list[Path], out: Path) -> dict[Path, list[Finding]]:
    """html-validate's findings per file, through its JSON formatter."""
    # The report goes to a file: node may exit before a large report on a pipe is flushed.
    report = out / "html-validate.json"
    done = subprocess.run(
        [node(), str(CLI), "--config", str(CONFIG), "--formatter", f"json={report}", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Exit 1 means findings (they are in the report); anything else is html-validate failing.
    assert done.returncode in (0, 1), f"html-validate failed ({done.returncode}):\n{done.stderr}"
    findings: dict[Path, list[Finding]] = {path.resolve(): [] for path in files}
    for result in json.loads(report.read_text(encoding="utf-8")):
        findings[Path(result["filePath"]).resolve()] = [
            Finding(m["ruleId"], m["message"], m["line"], m["column"], m.get("selector"))
            for m in result["messages"]
            if m["severity"] == 2
        ]
    return findings


def english_issue(folder: Path, layout: str) -> Path:
    return write_issue(folder, layout, ENGLISH, name=f"english-{layout}")


def documents(folder: Path) -> Iterator[tuple[str, str]]:
    """(name, HTML) of the sample issue and of the English issue in each shipped layout."""
    _, sample = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    yield "sample-nl", html_for_sample_reader(sample)
    for layout in LAYOUTS:
        path = english_issue(folder / layout, layout)
        project = Project(path.parent, ROOT / "layouts", archive_url="https://example.org/archive")
        _, rendered = project.render(path)
        yield f"english-{layout}", html_for_sample_reader(rendered)


DOCUMENTS = ("sample-nl", *(f"english-{layout}" for layout in LAYOUTS))


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Finding]]:
    """html-validate run once over every document; its findings by document name."""
    folder = tmp_path_factory.mktemp("html-validate")
    files: dict[str, Path] = {}
    for name, html in documents(folder):
        files[name] = folder / f"{name}.html"
        files[name].write_text(html, encoding="utf-8")
    found = html_validate(list(files.values()), folder)
    return {name: found[path.resolve()] for name, path in files.items()}


@pytest.mark.parametrize("document", DOCUMENTS)
def test_rendered_email_has_no_html_validate_errors(
    findings: dict[str, list[Finding]], document: str
) -> None:
    errors = findings[document]
    assert not errors, f"html-validate: {len(errors)} error(s) in {document}:\n" + "\n".join(map(str, errors))


def test_both_shipped_layouts_are_checked() -> None:
    assert set(LAYOUTS) >= {"default", "pom-limburg"}


BROKEN = """<!DOCTYPE html>
<html lang="en"><head><title>A page</title></head>
<body>
<table align="center" width="600" cellpadding="0" cellspacing="0" role="presentation">
<tbody><tr><td align="left" valign="top" bgcolor="#ffffff" style="padding:0">
<img src="https://example.org/a.png" alt="An image" align="left" height="auto">
<h2></h2><p id="twice">one</p><p id="twice">two</p>
<a href="tel:+3211300100">+32 11 300 100</a>
</td></tr></tbody></table>
</body></html>
"""


def test_config_switches_off_only_what_email_needs(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(BROKEN, encoding="utf-8")
    rules = sorted({f.rule for f in html_validate([page], tmp_path)[page.resolve()]})
    # The table's and cell's align, width, cellpadding, cellspacing, valign, bgcolor and the inline
    # style are allowed; an image's align, an invalid height, an empty heading, a duplicate id and a
    # phone number that can wrap are not.
    assert rules == [
        "attribute-allowed-values",
        "empty-heading",
        "no-deprecated-attr",
        "no-dup-id",
        "tel-non-breaking",
    ]
