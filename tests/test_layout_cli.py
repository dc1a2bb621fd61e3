"""`newsletter layout new NAME` and layout mistakes as the CLI meets them: a new layout renders an issue
at once, its layout.yaml explains every key, and a wrong name, an existing folder or a broken template
is one line and exit 2."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from command import WIDE, environment, run
from conftest import edit

from newsletter.reading import layouts
from newsletter.reading.layout_starter import starter_text
from newsletter.reading.layouts import Brand, Fonts, LayoutConfig, Logo, Organisation

ISSUE = "issues/2026-02.yaml"


def newsletter(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=cwd, env=environment(WIDE, **settings), timeout=120)


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a run that exited 2 without a traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def issue_in(folder: Path, layout: str) -> str:
    """The sample issue as issues/2026-02.yaml in `folder`, using `layout`."""
    text = (folder / "issues" / "2026-01.yaml").read_text(encoding="utf-8")
    assert "layout: pom-limburg\n" in text
    (folder / ISSUE).write_text(
        text.replace("layout: pom-limburg\n", f"layout: {layout}\n"), encoding="utf-8"
    )
    return ISSUE


def test_a_new_layout_validates_and_renders_an_issue_at_once(project_dir: Path) -> None:
    created = newsletter("layout", "new", "acme", cwd=project_dir)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created layouts/acme/layout.yaml")
    assert [p.name for p in (project_dir / "layouts" / "acme").iterdir()] == ["layout.yaml"]
    issue = issue_in(project_dir, "acme")
    checked = newsletter("validate", issue, cwd=project_dir)
    assert checked.returncode == 0, checked.stderr
    assert f"ok: {issue}: 5 sections" in checked.stdout
    rendered = newsletter("render", issue, cwd=project_dir)
    assert rendered.returncode == 0, rendered.stderr
    html = (project_dir / "build" / "2026-02.html").read_text(encoding="utf-8")
    assert ">acme</h1>" in html, "the wordmark is the layout's name until it is filled in"
    assert "Health Campus Limburg versterkt zijn plek in San Francisco" in html
    text = (project_dir / "build" / "2026-02.txt").read_text(encoding="utf-8")
    assert text.startswith("acme\n====\n")


def test_the_new_layout_yaml_explains_every_key(project_dir: Path) -> None:
    """Each key has a comment on its line or right above it; the texts of the languages after the
    first have the same keys as the first, which are explained there."""
    assert newsletter("layout", "new", "acme", cwd=project_dir).returncode == 0
    text = (project_dir / "layouts" / "acme" / "layout.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    language = None
    for number, line in enumerate(lines):
        key = re.match(r"^( *)([a-z_]+):", line)
        if key is None:
            continue
        if re.match(r"^  (nl|en|fr|de):", line):
            language = key[2]
        elif len(key[1]) == 4 and language != "nl":
            continue
        above = lines[number - 1].strip() if number else ""
        assert "#" in line or above.startswith("#"), f"layout.yaml:{number + 1} has no comment: {line}"
    shown = set(re.findall(r"(?m)^[ #]*([a-z_]+):", text))
    for model in (LayoutConfig, Brand, Fonts, Organisation, Logo):
        missing = set(model.model_fields) - shown
        assert not missing, f"{model.__name__}: {missing} not in layout.yaml"
    data = yaml.safe_load(text)
    assert set(data["strings"]) == {"nl", "en", "fr", "de"}
    for language, strings in data["strings"].items():
        assert set(strings) == {*layouts.STRING_KEYS, "image"}, language


def test_the_new_layout_yaml_says_how_to_override_a_template_and_the_example_works(project_dir: Path) -> None:
    assert newsletter("layout", "new", "acme", cwd=project_dir).returncode == 0
    folder = project_dir / "layouts" / "acme"
    text = (folder / "layout.yaml").read_text(encoding="utf-8")
    assert "sections/callout.mjml.j2" in text
    example = text.split("write email.mjml.j2 with just:\n", 1)[1].split("\n# The page's blocks", 1)[0]
    page = "\n".join(line.removeprefix("#").strip() for line in example.splitlines()) + "\n"
    assert page.startswith('{% extends "base/email.mjml.j2" %}\n{% block footer_organisation %}')
    (folder / "email.mjml.j2").write_text(page, encoding="utf-8")
    rendered = newsletter("render", issue_in(project_dir, "acme"), cwd=project_dir)
    assert rendered.returncode == 0, rendered.stderr
    html = (project_dir / "build" / "2026-02.html").read_text(encoding="utf-8")
    assert "Your own lines" in html
    assert "Street 1" not in html
    assert "Uitschrijven" in html, "the unsubscribe link stays"


def test_layout_new_writes_into_the_configured_layouts_folder(project_dir: Path) -> None:
    created = newsletter("layout", "new", "acme", cwd=project_dir, NEWSLETTER_LAYOUTS="brand/layouts")
    assert created.returncode == 0, created.stderr
    assert (project_dir / "brand" / "layouts" / "acme" / "layout.yaml").is_file()
    assert not (project_dir / "layouts" / "acme").exists()
    checked = newsletter(
        "validate", issue_in(project_dir, "acme"), cwd=project_dir, NEWSLETTER_LAYOUTS="brand/layouts"
    )
    assert checked.returncode == 0, checked.stderr


def test_layout_new_refuses_an_existing_folder_and_changes_nothing(project_dir: Path) -> None:
    config = project_dir / "layouts" / "default" / "layout.yaml"
    before = config.read_bytes()
    line = one_error(newsletter("layout", "new", "default", cwd=project_dir))
    assert (
        line
        == "error: layouts/default already exists; choose another name, or edit layouts/default/layout.yaml"
    )
    assert config.read_bytes() == before
    assert [p.name for p in config.parent.iterdir()] == ["layout.yaml"]


@pytest.mark.parametrize("name", ["../elsewhere", "my layout", "_x", ".hidden", "a/b", "base:x", ""])
def test_layout_new_refuses_a_name_that_is_no_plain_folder_name(project_dir: Path, name: str) -> None:
    before = sorted(p.relative_to(project_dir) for p in project_dir.rglob("*"))
    line = one_error(newsletter("layout", "new", name, cwd=project_dir))
    assert line.startswith(f"error: {name!r} cannot name a layout: use letters, digits, '-' and '_'"), line
    assert sorted(p.relative_to(project_dir) for p in project_dir.rglob("*")) == before


def test_layout_new_takes_a_name_in_any_script(project_dir: Path) -> None:
    created = newsletter("layout", "new", "région_2", cwd=project_dir)
    assert created.returncode == 0, created.stderr
    checked = newsletter("validate", issue_in(project_dir, "région_2"), cwd=project_dir)
    assert checked.returncode == 0, checked.stderr
    assert 'list_name: "région_2"' in starter_text("région_2")


def test_a_syntax_error_in_an_override_is_one_line_with_its_file_and_line(project_dir: Path) -> None:
    assert newsletter("layout", "new", "acme", cwd=project_dir).returncode == 0
    callout = project_dir / "layouts" / "acme" / "sections" / "callout.mjml.j2"
    callout.parent.mkdir()
    callout.write_text("<mj-section>\n  <mj-column>\n    {{ section.title | }}\n", encoding="utf-8")
    issue = issue_in(project_dir, "acme")
    edit(
        project_dir / issue,
        "  - type: article\n",
        "  - type: callout\n    title: Tip\n    body: Tekst\n  - type: article\n",
    )
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert line.startswith("error: layouts/acme/sections/callout.mjml.j2:3: "), line


def test_an_issue_naming_a_layout_folder_without_layout_yaml_is_one_line(project_dir: Path) -> None:
    (project_dir / "layouts" / "bare").mkdir()
    issue = issue_in(project_dir, "bare")
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert re.fullmatch(
        rf"error: {re.escape(issue)}:\d+: layout: layouts/bare: no layout.yaml in this layout folder; .*"
        r"`newsletter layout new NAME` writes a commented one to start from\)",
        line,
    ), line


def test_an_issue_naming_a_missing_layout_is_one_line_with_the_choices(project_dir: Path) -> None:
    issue = issue_in(project_dir, "acme")
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert re.fullmatch(
        rf"error: {re.escape(issue)}:\d+: layout: unknown layout 'acme'; choose one of: default, pom-limburg",
        line,
    ), line


def test_an_english_issue_on_the_default_layout_has_no_dutch_around_it(project_dir: Path) -> None:
    issue = issue_in(project_dir, "default")
    edit(project_dir / issue, "language: nl\n", "language: en\n")
    rendered = newsletter("render", issue, cwd=project_dir)
    assert rendered.returncode == 0, rendered.stderr
    text = (project_dir / "build" / "2026-02.txt").read_text(encoding="utf-8")
    html = (project_dir / "build" / "2026-02.html").read_text(encoding="utf-8")
    assert text.startswith("Newsletter\n"), text
    for english in ("Your organisation", "Street 1", "1000 City", "Unsubscribe"):
        assert english in text, text
        assert english in html
    for dutch in ("Nieuwsbrief", "Organisatie", "Straat", "Stad", "Uitschrijven"):
        assert dutch not in text, text
        assert dutch not in html
