"""The templates of the preview page and the archive index: package data that an installed wheel
holds, rendered with every value escaped and no value missing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import jinja2
import pytest
from conftest import ROOT

from newsletter.errors import LayoutError
from newsletter.web import pages

NAMED = [pages.PREVIEW_PAGE, pages.PREVIEW_MISTAKE, pages.ARCHIVE_INDEX]


def templates_in_source() -> list[str]:
    return sorted(p.name for p in (ROOT / "newsletter" / "web" / pages.TEMPLATES).iterdir())


def test_every_template_the_code_names_and_every_one_they_include_is_in_the_source() -> None:
    found = templates_in_source()
    assert set(NAMED) <= set(found)
    source = "".join((ROOT / "newsletter" / "web" / pages.TEMPLATES / name).read_text() for name in NAMED)
    included = re.findall(r'{%\s*include\s+"([^"]+)"', source)
    assert {"preview.css", "preview.js"} <= set(included)
    assert set(included) <= set(found)


def test_the_package_finds_its_templates_through_importlib_resources() -> None:
    folder = resources.files("newsletter.web") / pages.TEMPLATES
    for name in templates_in_source():
        assert (folder / name).is_file(), name


def test_a_built_wheel_holds_every_template(tmp_path: Path) -> None:
    # Built from a copy: a build writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "newsletter", source / "newsletter", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(source), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("newsletter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in templates_in_source():
        assert f"newsletter/web/{pages.TEMPLATES}/{name}" in names, name


def test_a_value_a_page_does_not_get_stops_the_render_instead_of_leaving_a_blank() -> None:
    with pytest.raises(jinja2.UndefinedError, match="file"):
        pages.render_page(pages.PREVIEW_PAGE)


def test_every_value_is_escaped() -> None:
    page = pages.render_page(pages.PREVIEW_PAGE, file="\"'<b>&{{ 7*7 }}")
    assert "<title>Preview: &#34;&#39;&lt;b&gt;&amp;{{ 7*7 }}</title>" in page


@pytest.mark.parametrize("value", ["Arial</style><script>", "Arial; } body { display: none", "a\\62 c"])
def test_a_value_that_could_end_a_style_rule_is_refused(value: str) -> None:
    with pytest.raises(LayoutError, match="cannot stand in a style sheet"):
        pages.css_value(value)


def test_a_quoted_font_name_stays_as_css_reads_it() -> None:
    assert pages.css_value("'Open Sans', Arial, sans-serif") == "'Open Sans', Arial, sans-serif"
