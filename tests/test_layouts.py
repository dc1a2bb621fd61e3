"""Layouts over the base layout: a folder holds layout.yaml and only the templates it changes; the
rest comes from the base layout shipped in the package, which an override can also extend.

Each test makes a layout folder of its own (the default layout's layout.yaml plus the templates under
test) and renders the all-sections issue through it, as `newsletter render` does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, png
from issue_files import ALL_SECTIONS, write_issue

from newsletter.errors import LayoutError
from newsletter.model import SAMPLE_RECIPIENT, SECTION_TYPES, Rendered
from newsletter.reading import issues, layouts
from newsletter.reading.layout_starter import starter_text
from newsletter.rendering.project import Project
from newsletter.rendering.render import render

CONFIG = (ROOT / "layouts" / "default" / "layout.yaml").read_text(encoding="utf-8")
BASE = layouts.BASE_FOLDER


def make_layout(root: Path, name: str, templates: dict[str, str] | None = None) -> Path:
    """root/name with the default layout's layout.yaml and `templates` (by name) beside it."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "layout.yaml").write_text(CONFIG, encoding="utf-8")
    for template, text in (templates or {}).items():
        (folder / template).parent.mkdir(parents=True, exist_ok=True)
        (folder / template).write_text(text, encoding="utf-8")
    return folder


def render_with(tmp_path: Path, templates: dict[str, str] | None = None) -> Rendered:
    """The all-sections issue rendered through a layout `own` holding `templates`."""
    make_layout(tmp_path / "layouts", "own", templates)
    issue = write_issue(tmp_path, "own")
    return Project(issue.parent, tmp_path / "layouts").render(issue)[1]


def html_of(rendered: Rendered) -> str:
    return rendered.sample_html({**SAMPLE_RECIPIENT.merge_data(), "unsubscribe_url": "https://example.org/u"})


def text_of(rendered: Rendered) -> str:
    return rendered.text.fill(rendered.values_for({"unsubscribe_url": "https://example.org/u"}))


def changed_part(before: str, after: str) -> tuple[str, str]:
    """What differs between two texts: the middle of each once their common start and end are cut."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return before[start : len(before) - end], after[start : len(after) - end]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The all-sections issue through a layout folder that holds nothing but layout.yaml."""
    return render_with(tmp_path_factory.mktemp("plain"))


def load_error(tmp_path: Path, templates: dict[str, str]) -> str:
    """The one line a render through a layout with `templates` fails with."""
    with pytest.raises(LayoutError) as caught:
        render_with(tmp_path, templates)
    lines = caught.value.lines()
    assert len(lines) == 1, lines
    return lines[0]


# -- the base layout ------------------------------------------------------------------------------


def test_the_base_layout_has_the_page_and_a_partial_for_every_section_type() -> None:
    assert "email.mjml.j2" in layouts.BASE_TEMPLATES
    for kind in SECTION_TYPES:
        assert f"sections/{kind}.mjml.j2" in layouts.BASE_TEMPLATES


def test_importlib_resources_finds_the_base_layout_in_the_package() -> None:
    folder = resources.files("newsletter.reading") / "base_layout"
    for name in layouts.BASE_TEMPLATES:
        found = folder.joinpath(*name.split("/"))
        assert found.is_file(), name
        assert found.read_bytes() == (BASE / name).read_bytes()
    assert (resources.files("newsletter.reading") / "layout_starter.yaml").is_file()


def test_a_build_of_the_package_ships_the_base_layout_and_the_starter(tmp_path: Path) -> None:
    """What `pip install .` installs: setuptools' build of the package (what a wheel packs) holds
    every base template and the layout.yaml starter, from the package data in pyproject.toml."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "newsletter", source / "newsletter", ignore=ignore)
    built = tmp_path / "lib"
    build = [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib"]
    done = subprocess.run(
        [*build, built], cwd=source, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    shipped = built / "newsletter" / "reading"
    for name in layouts.BASE_TEMPLATES:
        assert (shipped / "base_layout" / name).read_bytes() == (BASE / name).read_bytes(), name
    assert (shipped / "layout_starter.yaml").is_file()


def test_no_shipped_layout_holds_a_copy_of_a_base_template() -> None:
    base = {(BASE / name).read_bytes(): name for name in layouts.BASE_TEMPLATES}
    for folder in sorted((ROOT / "layouts").iterdir()):
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                assert file.read_bytes() not in base, (
                    f"{file} is a copy of the base's {base[file.read_bytes()]}"
                )


def test_the_shipped_layouts_are_their_layout_yaml_and_logos_without_templates() -> None:
    shipped = {
        "default": {Path("layout.yaml")},
        "pom-limburg": {Path("layout.yaml"), Path("logo.png"), Path("logo-dark.png")},
    }
    for name, expected in shipped.items():
        files = {p.relative_to(ROOT / "layouts" / name) for p in (ROOT / "layouts" / name).rglob("*")}
        assert files == expected, name


# -- a folder with only layout.yaml ---------------------------------------------------------------


def test_a_layout_of_only_layout_yaml_renders_every_section_type(plain: Rendered) -> None:
    soup = BeautifulSoup(html_of(plain), "lxml")
    assert [h.get_text() for h in soup.find_all("h1")] == ["Welkom bij de intro"]  # intro
    headings = [h.get_text() for h in soup.find_all("h2")]
    assert headings == [
        "Artikeltitel met CO₂",
        "De callouttitel",
        "Kolom links",
        "Kolom rechts",
        "De agendatitel",
    ]  # article, callout, columns, events
    assert soup.find("img", alt="Externe foto") is not None  # image
    assert "Het bijschrift van de foto" in soup.get_text()
    buttons = [
        a.get("aria-label") or a.get_text(" ", strip=True)
        for a in soup.find_all("a")
        if a.get("href", "").startswith("https")
    ]
    # article (named after its title for screen readers), callout, button
    assert {"Lees het artikel: Artikeltitel met CO₂", "Calloutknop", "Losse knop"} <= set(buttons)
    assert soup.select("p[style*='border-top']"), "the divider's line"  # divider
    assert [h.get_text() for h in soup.select("h2.h3")] == ["Kolom links", "Kolom rechts"]  # columns
    assert "3 februari 2026, 14:00 tot 17:00" in soup.get_text(" ")  # events, with the date filter
    assert "Your organisation" in soup.get_text()  # the footer
    assert "Uitschrijven" in soup.get_text()


def test_a_layout_of_only_layout_yaml_renders_as_the_default_layout_does(
    plain: Rendered, tmp_path: Path
) -> None:
    """The default layout is itself only a layout.yaml: the same file anywhere renders the same."""
    issue = write_issue(tmp_path, "default")
    _, default = Project(issue.parent, ROOT / "layouts").render(issue)
    assert html_of(plain) == html_of(default)
    assert text_of(plain) == text_of(default)


# -- overrides ------------------------------------------------------------------------------------

OWN_CALLOUT = """\
<mj-section padding="16px 24px">
  <mj-column border="3px solid {{ brand.primary }}">
    <mj-text><h2>Own: {{ section.title }}</h2>{{ section.body | markdown }}</mj-text>
  </mj-column>
</mj-section>
"""


def test_an_override_of_one_partial_changes_only_that_part(plain: Rendered, tmp_path: Path) -> None:
    own = render_with(tmp_path, {"sections/callout.mjml.j2": OWN_CALLOUT})
    before, after = changed_part(html_of(plain), html_of(own))
    assert "Own: De callouttitel" in after
    assert "Calloutknop" in before
    assert "Calloutknop" not in after
    for elsewhere in ("Artikeltitel", "Lees het artikel", "Externe foto", "Welkom", "Uitschrijven"):
        assert elsewhere not in before + after, f"{elsewhere!r} changed too"
    assert text_of(own) == text_of(plain), "the plain text comes from the issue, not the templates"


def test_an_override_can_extend_the_base_partial_and_replace_one_block(
    plain: Rendered, tmp_path: Path
) -> None:
    own = render_with(
        tmp_path,
        {
            "sections/callout.mjml.j2": (
                '{% extends "base/sections/callout.mjml.j2" %}\n'
                "{% block callout_button %}\n"
                "<mj-text>Own button: {{ section.button.label }}</mj-text>\n"
                "{% endblock %}\n"
            )
        },
    )
    before, after = changed_part(html_of(plain), html_of(own))
    assert "Own button: Calloutknop" in after
    soup = BeautifulSoup(html_of(own), "lxml")
    assert soup.find("a", href="https://example.org/callout") is None
    assert "De callouttitel" in [h.get_text() for h in soup.find_all("h2")], "the base's title block stays"
    assert "De callouttitel" not in before + after


def test_a_page_that_extends_the_base_and_replaces_the_footer(plain: Rendered, tmp_path: Path) -> None:
    page = """\
{% extends "base/email.mjml.j2" %}
{% block footer %}
<mj-section padding="24px 0">
  <mj-column>
    <mj-text css-class="small">Our own footer for {{ org.name }}.
      <a href="{{ merge.unsubscribe_url }}">{{ s.unsubscribe }}</a></mj-text>
  </mj-column>
</mj-section>
{% endblock %}
"""
    own = render_with(tmp_path, {"email.mjml.j2": page})
    before, after = changed_part(html_of(plain), html_of(own))
    assert "Our own footer for Your organisation." in after
    assert "Street 1" in before, "the base's footer is replaced"
    assert "Street 1" not in after
    for section in ("Welkom bij de intro", "De callouttitel", "Evenement twee"):
        assert section not in before + after, f"{section!r} changed too"
    soup = BeautifulSoup(html_of(own), "lxml")
    assert soup.find("a", href="https://example.org/u").get_text() == "Uitschrijven"


def test_a_page_block_keeps_the_base_content_with_super_and_sees_each_section(
    plain: Rendered, tmp_path: Path
) -> None:
    page = """\
{% extends "base/email.mjml.j2" %}
{% block extra_head %}<mj-style>.own { color: {{ brand.accent }}; }</mj-style>{% endblock %}
{% block section %}
{{ super() }}
<mj-section><mj-column>
  <mj-text css-class="own">after {{ section.type }} {{ loop.index }} of {{ loop.length }}</mj-text>
</mj-column></mj-section>
{% endblock %}
"""
    own = render_with(tmp_path, {"email.mjml.j2": page})
    soup = BeautifulSoup(html_of(own), "lxml")
    marks = [" ".join(div.get_text().split()) for div in soup.select(".own div")]
    assert marks == [f"after {kind} {i} of 8" for i, kind in enumerate(SECTION_TYPES, start=1)]
    styled = [str(tag.get("style", "")).replace(" ", "") for tag in soup.select(".own")]
    assert styled, "the block's css-class"
    assert all("color:#b5523b" in style for style in styled), "the extra_head style, inlined"
    assert BeautifulSoup(html_of(plain), "lxml").find("h2").get_text() == soup.find("h2").get_text()


def test_a_part_of_its_own_with_a_leading_underscore_can_be_included(tmp_path: Path) -> None:
    own = render_with(
        tmp_path,
        {
            "sections/_signature.mjml.j2": "<mj-text>Signed, {{ org.name }}</mj-text>",
            "sections/intro.mjml.j2": (
                '{% extends "base/sections/intro.mjml.j2" %}\n'
                "{% block intro_body %}\n"
                '{{ super() }}{% include "sections/_signature.mjml.j2" %}\n'
                "{% endblock %}\n"
            ),
        },
    )
    assert "Signed, Your organisation" in html_of(own)


# -- mistakes -------------------------------------------------------------------------------------


def test_a_syntax_error_in_an_override_names_its_file_and_line(tmp_path: Path) -> None:
    line = load_error(
        tmp_path, {"sections/callout.mjml.j2": "<mj-section>\n  {{ section.title | }}\n</mj-section>\n"}
    )
    assert line.startswith("layouts/own/sections/callout.mjml.j2:2: "), line


def test_a_syntax_error_in_an_override_the_issue_does_not_use_is_found_all_the_same(tmp_path: Path) -> None:
    """The all-sections issue has one events section; an issue without one would not include the
    partial, yet its override is checked when the layout loads."""
    folder = make_layout(tmp_path, "own", {"sections/events.mjml.j2": "{% for event in section.events %}\n"})
    with pytest.raises(LayoutError) as caught:
        layouts.load(tmp_path, "own")
    (line,) = caught.value.lines()
    assert line.startswith(f"{folder.relative_to(tmp_path.parent)}/sections/events.mjml.j2:"), line
    assert "for" in line


def test_a_syntax_error_in_an_overriding_page_names_its_file_and_line(tmp_path: Path) -> None:
    page = '{% extends "base/email.mjml.j2" %}\n{% block footer %}\n{% if org.name %}\n{% endblock %}\n'
    line = load_error(tmp_path, {"email.mjml.j2": page})
    assert line.startswith("layouts/own/email.mjml.j2:4: "), line


def test_an_undefined_name_in_an_override_names_its_file_and_line(tmp_path: Path) -> None:
    line = load_error(
        tmp_path, {"sections/callout.mjml.j2": "<mj-section>\n  {{ section.titel }}\n</mj-section>\n"}
    )
    assert line.startswith("layouts/own/sections/callout.mjml.j2:2: "), line
    assert "titel" in line


def test_a_mistake_that_surfaces_in_the_base_names_the_override_that_led_there(tmp_path: Path) -> None:
    page = (
        '{% extends "base/email.mjml.j2" %}\n'
        "{% block footer %}\n"
        '{% include "sections/intro.mjml.j2" %}\n'
        "{% endblock %}\n"
    )
    line = load_error(tmp_path, {"email.mjml.j2": page})
    assert line.startswith("layouts/own/email.mjml.j2:3: in base/sections/intro.mjml.j2:"), line
    assert "'section' is undefined" in line


def test_extending_a_template_the_base_does_not_have_suggests_the_right_name(tmp_path: Path) -> None:
    line = load_error(tmp_path, {"email.mjml.j2": '{% extends "base/emial.mjml.j2" %}\n'})
    assert line.startswith("layouts/own/email.mjml.j2:1: no template 'base/emial.mjml.j2'"), line
    assert "did you mean 'base/email.mjml.j2'?" in line


def test_a_misspelt_override_is_refused_with_the_name_it_meant(tmp_path: Path) -> None:
    line = load_error(tmp_path, {"sections/calout.mjml.j2": OWN_CALLOUT})
    assert line.startswith(
        f"{tmp_path}/layouts/own/sections/calout.mjml.j2: the base layout has no template"
    ), line
    assert "did you mean sections/callout.mjml.j2?" in line


def test_an_override_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    folder = make_layout(tmp_path / "layouts", "own")
    (folder / "sections").mkdir()
    (folder / "sections" / "callout.mjml.j2").write_bytes("<mj-text>Caf\xe9</mj-text>".encode("cp1252"))
    with pytest.raises(LayoutError, match=r"sections/callout\.mjml\.j2: is not UTF-8 text; save it as UTF-8"):
        layouts.load(tmp_path / "layouts", "own")


def test_a_missing_layout_folder_is_one_line_naming_the_layouts_there(tmp_path: Path) -> None:
    make_layout(tmp_path, "own")
    with pytest.raises(LayoutError) as caught:
        layouts.load(tmp_path, "nope")
    assert caught.value.lines() == [f"unknown layout 'nope': no folder {tmp_path}/nope (layouts here: own)"]


def test_a_layout_folder_without_layout_yaml_is_one_line_saying_how_to_start_one(tmp_path: Path) -> None:
    (tmp_path / "bare" / "sections").mkdir(parents=True)
    (tmp_path / "bare" / "sections" / "callout.mjml.j2").write_text(OWN_CALLOUT, encoding="utf-8")
    with pytest.raises(LayoutError) as caught:
        layouts.load(tmp_path, "bare")
    (line,) = caught.value.lines()
    assert line.startswith(f"{tmp_path}/bare: no layout.yaml in this layout folder")
    assert "newsletter layout new NAME" in line


# -- one environment per layout -------------------------------------------------------------------


def test_renders_in_two_languages_share_one_layout_and_leave_its_environment_as_it_was(
    tmp_path: Path,
) -> None:
    """A loaded layout is cached and shared by every render (preview, dispatch): none may change it,
    and what one render's filters do (dates in its language) never leaks into the next."""
    layout = layouts.load(ROOT / "layouts", "default")
    filters, globals_ = dict(layout.env.filters), dict(layout.env.globals)

    def rendered(language: str) -> str:
        path = write_issue(tmp_path, "default", ALL_SECTIONS.replace("language: nl", f"language: {language}"))
        loaded = issues.load(path)
        return html_of(render(loaded.issue, layout, slug=language, assets=issues.read_assets(loaded)))

    dutch, german = rendered("nl"), rendered("de")
    assert "3 februari 2026" in dutch
    assert "3. Februar 2026" in german
    assert rendered("nl") == dutch
    assert dict(layout.env.filters) == filters
    assert dict(layout.env.globals) == globals_


def test_the_starters_logo_lines_uncommented_as_it_says_give_the_header_a_logo(tmp_path: Path) -> None:
    text = starter_text("acme")
    assert (
        '# this folder (or use an https address) and remove the "# " at the start of these four lines:'
        in text
    )
    lines = text.splitlines()
    start = lines.index("# logo:")
    lines[start : start + 4] = [line.removeprefix("# ") for line in lines[start : start + 4]]
    folder = tmp_path / "layouts" / "acme"
    folder.mkdir(parents=True)
    (folder / "layout.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "logo.png").write_bytes(png(40, 20))
    issue = write_issue(tmp_path, "acme")
    _, rendered = Project(issue.parent, tmp_path / "layouts").render(issue)
    logo = BeautifulSoup(html_of(rendered), "lxml").find("img", alt="acme")
    assert logo is not None
    assert logo["width"] == "180"
    assert [image.filename for image in rendered.images if image.data == png(40, 20)] == ["logo.png"]
