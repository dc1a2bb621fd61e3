"""Files made to exhaust the command are refused at once, with file and line: YAML anchors and aliases
(the "billion laughs"), nesting a thousand levels deep, and files far larger than any issue or layout.

Each runs `newsletter validate` in a subprocess with a short timeout: a hang fails the test instead of
the suite. Nothing here measures time.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from command import WIDE, environment, run
from conftest import copy_project
from issue_files import sample_text

# Far above the command's start-up on a loaded machine, far below the minute a billion laughs took.
HANG = 8.0

ALIASES = "anchors and aliases (&a0 / *a0) are not used in {}s; write the text out in full where you need it"


def laughs(levels: int = 9, width: int = 9) -> list[str]:
    """Lines defining &a0 … &a<levels-1>, each a list of `width` aliases of the one before."""
    lines = ["laughs:", "  - &a0 [" + ", ".join(['"ha"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return lines


def validate(folder: Path, file: str) -> subprocess.CompletedProcess[str]:
    return run("validate", file, cwd=folder, env=environment(WIDE), timeout=HANG)


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return name


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


def test_a_billion_laughs_issue_is_refused_at_its_first_alias(project: Path) -> None:
    bomb = "\n".join([*laughs(), "sections: *a8"]) + "\n"
    text = sample_text().split("sections:\n")[0] + bomb
    result = validate(project, write(project, "issues/laughs.yaml", text))
    first_alias = next(n for n, line in enumerate(text.splitlines(), 1) if "*a0" in line)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: issues/laughs.yaml:{first_alias}: {ALIASES.format('issue file')}"
    ]


def test_an_alias_of_one_short_text_is_refused_too(project: Path) -> None:
    text = sample_text(
        ("preheader: Health Campus", "preheader: &kort Health Campus"),
        ("    title: Groeitip voor jouw bedrijf", "    title: *kort"),
    )
    result = validate(project, write(project, "issues/alias.yaml", text))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "*kort" in row)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: issues/alias.yaml:{line}: anchors and aliases (&kort / *kort) are not used in issue files; "
        "write the text out in full where you need it"
    ]


def test_an_alias_of_itself_is_refused(project: Path) -> None:
    text = sample_text().replace("sections:\n", "loop: &self [*self]\nsections:\n")
    result = validate(project, write(project, "issues/loop.yaml", text))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "*self" in row)
    assert result.returncode == 2
    assert f"issues/loop.yaml:{line}: anchors and aliases (&self / *self)" in result.stderr


def test_an_issue_nested_a_thousand_levels_deep_is_refused_without_a_traceback(project: Path) -> None:
    text = sample_text() + "extra: " + "[" * 999 + "]" * 999 + "\n"
    result = validate(project, write(project, "issues/deep.yaml", text))
    line = len(text.splitlines())
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: issues/deep.yaml:{line}: nested more than 24 levels deep, far deeper than any issue file "
        "needs; check the indentation"
    ]


def test_an_issue_over_one_megabyte_is_refused_at_the_line_that_passes_it(project: Path) -> None:
    # A photo pasted into the text as base64: the classic way an issue file becomes huge.
    photo = base64.b64encode(bytes(range(256)) * 6000).decode()
    rows = [photo[i : i + 76] for i in range(0, len(photo), 76)]
    text = sample_text(
        ("      Deze maand in de kijker", "      " + "\n      ".join(rows) + "\n      Deze maand")
    )
    path = project / "issues" / "groot.yaml"
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size > 2_000_000
    line = text.encode()[:1_000_000].count(b"\n") + 1
    result = validate(project, "issues/groot.yaml")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: issues/groot.yaml:{line}: the file passes 1 MB here, far more than a newsletter's text "
        "(about 10 KB); if an image was pasted in, save it as a file of its own and name it with src:"
    ]


def test_a_billion_laughs_layout_is_refused_at_its_first_alias(project: Path) -> None:
    layout = project / "layouts" / "pom-limburg" / "layout.yaml"
    text = layout.read_text(encoding="utf-8")
    text = text.replace("organisation:\n", "\n".join(laughs()) + "\norganisation:\n", 1)
    layout.write_text(text, encoding="utf-8")
    first_alias = next(n for n, line in enumerate(text.splitlines(), 1) if "*a0" in line)
    result = validate(project, "issues/2026-01.yaml")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: layouts/pom-limburg/layout.yaml:{first_alias}: {ALIASES.format('layout file')}"
    ]


def test_a_layout_over_one_megabyte_is_refused(project: Path) -> None:
    layout = project / "layouts" / "pom-limburg" / "layout.yaml"
    text = layout.read_text(encoding="utf-8") + "# " + "x" * 1_200_000 + "\n"
    layout.write_text(text, encoding="utf-8")
    line = text.encode()[:1_000_000].count(b"\n") + 1
    result = validate(project, "issues/2026-01.yaml")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(
        f"error: layouts/pom-limburg/layout.yaml:{line}: the file passes 1 MB here"
    )


def test_a_layout_over_one_megabyte_is_told_of_as_a_layout_file_with_its_logo(project: Path) -> None:
    layout = project / "layouts" / "pom-limburg" / "layout.yaml"
    photo = base64.b64encode(bytes(range(256)) * 6000).decode()
    layout.write_text(layout.read_text(encoding="utf-8") + f"# {photo}\n", encoding="utf-8")
    result = validate(project, "issues/2026-01.yaml")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.endswith(
        ": the file passes 1 MB here, far more than a layout file (about 2 KB); if an image was pasted "
        "in, save it as a file in the layout's folder and name it under logo: with src:"
    ), line
    assert "newsletter's text" not in line


def test_an_issue_of_thousands_of_sections_is_refused_before_it_is_rendered(project: Path) -> None:
    text = sample_text().split("sections:\n")[0] + "sections:\n" + "  - type: divider\n" * 5000
    result = validate(project, write(project, "issues/lang.yaml", text))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: issues/lang.yaml:{text.splitlines().index('sections:') + 2}: sections: an issue has at "
        "most 100 sections; Gmail cuts off a long email anyway: split it over two issues"
    ]


def test_thousands_of_mistakes_are_cut_off_after_the_first_hundred(project: Path) -> None:
    text = sample_text() + "".join(f"onbekend{i}: x\n" for i in range(3000))
    result = validate(project, write(project, "issues/fouten.yaml", text))
    errors = result.stderr.splitlines()
    assert result.returncode == 2
    assert len(errors) == 101
    first = text.splitlines().index("onbekend0: x") + 1
    assert errors[0].startswith(f"error: issues/fouten.yaml:{first}: onbekend0: unknown key 'onbekend0'")
    assert (
        errors[-1]
        == "error: issues/fouten.yaml: and 2900 more mistakes; fix these first, then validate again"
    )
