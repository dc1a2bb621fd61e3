"""The `newsletter` command, run as a user runs it: `python -m newsletter …` in a scratch project."""

from __future__ import annotations

import json
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import typer.main
from command import WIDE, environment, run, start
from conftest import ROOT, SAMPLE

from newsletter.cli import app

BAD = """\
preheader: Een voorproefje
language: nl
layout: default
sections:
  - type: intro
    body: Hoi
    tilte: Welkom
  - type: artikel
"""
BAD_ERRORS = (
    "issues/bad.yaml:1: subject: `subject:` is missing; an issue needs one",
    "issues/bad.yaml:7: sections[0].tilte: unknown key 'tilte'; did you mean 'title'?",
    "issues/bad.yaml:8: sections[1]: unknown section type 'artikel'",
)


def newsletter(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`newsletter ARGS` in `cwd`, without NEWSLETTER_ settings, in a wide terminal without colour."""
    return run(*args, cwd=cwd, env=environment(WIDE), timeout=120)


def squeeze(text: str) -> str:
    """Text without the boxes and line wrapping of rich's help pages."""
    return " ".join("".join(c for c in text if c not in "│╭╮╰╯─").split())


def test_validate_accepts_the_sample_issue(project_dir: Path) -> None:
    result = newsletter("validate", "issues/2026-01.yaml", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    assert "ok: issues/2026-01.yaml" in result.stdout
    assert result.stderr == ""


def test_validate_lists_every_error_and_exits_2_without_a_traceback(project_dir: Path) -> None:
    (project_dir / "issues" / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = newsletter("validate", "issues/bad.yaml", cwd=project_dir)
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert len(errors) == len(BAD_ERRORS)
    for line, error in zip(errors, BAD_ERRORS, strict=True):
        assert error in line
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_validate_of_several_files_reports_the_bad_one_and_exits_2(project_dir: Path) -> None:
    (project_dir / "issues" / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = newsletter("validate", "issues/2026-01.yaml", "issues/bad.yaml", cwd=project_dir)
    assert result.returncode == 2
    assert "ok: issues/2026-01.yaml" in result.stdout
    assert "bad.yaml" not in result.stdout
    assert len(result.stderr.splitlines()) == len(BAD_ERRORS)
    assert all("issues/bad.yaml:" in line for line in result.stderr.splitlines())
    assert "Traceback" not in result.stderr


def test_validate_reports_a_missing_file_and_exits_2(project_dir: Path) -> None:
    result = newsletter("validate", "issues/nope.yaml", cwd=project_dir)
    assert result.returncode == 2
    assert "issues/nope.yaml: no such file" in result.stderr


def test_render_writes_html_text_and_eml(project_dir: Path) -> None:
    result = newsletter("render", "issues/2026-01.yaml", "-o", "out", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    out = project_dir / "out"
    assert sorted(p.name for p in out.iterdir()) == ["2026-01.eml", "2026-01.html", "2026-01.txt"]
    html = (out / "2026-01.html").read_text(encoding="utf-8")
    text = (out / "2026-01.txt").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "Beste Sam," in html
    assert "CO₂" in html
    assert "Beste Sam," in text
    assert "\r" not in text
    msg = message_from_bytes((out / "2026-01.eml").read_bytes(), policy=policy.default)
    assert msg["To"] == "Sam <reader@example.org>"
    assert msg.get_content_type() == "multipart/alternative"
    assert "out/2026-01.html" in result.stdout


def test_render_of_a_bad_file_exits_2_without_writing(project_dir: Path) -> None:
    (project_dir / "issues" / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = newsletter("render", "issues/bad.yaml", "-o", "out", cwd=project_dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == len(BAD_ERRORS)
    assert not (project_dir / "out").exists()


def test_new_starts_a_draft_copy_of_the_latest_issue(project_dir: Path) -> None:
    source = project_dir / "issues" / "2026-01.yaml"
    original = source.read_text(encoding="utf-8")
    ready = original.replace("status: draft\n", "status: ready\nsend_at: 2026-01-20T09:00\n")
    source.write_text(ready, encoding="utf-8")
    result = newsletter("new", "2026-02", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    created = project_dir / "issues" / "2026-02.yaml"
    assert created.read_text(encoding="utf-8") == original
    assert "status: draft" in created.read_text(encoding="utf-8")
    assert "send_at" not in created.read_text(encoding="utf-8")
    assert str(Path("issues/2026-02.yaml")) in result.stdout
    assert newsletter("validate", "issues/2026-02.yaml", cwd=project_dir).returncode == 0


def test_new_starts_from_the_latest_valid_issue_not_a_broken_file(project_dir: Path) -> None:
    (project_dir / "issues" / "zz-kladje.yaml").write_text("subject: [half af\n", encoding="utf-8")
    result = newsletter("new", "2026-02", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    created = (project_dir / "issues" / "2026-02.yaml").read_text(encoding="utf-8")
    assert created == (project_dir / "issues" / "2026-01.yaml").read_text(encoding="utf-8")


def test_new_refuses_an_existing_issue(project_dir: Path) -> None:
    before = (project_dir / "issues" / "2026-01.yaml").read_bytes()
    result = newsletter("new", "2026-01", cwd=project_dir)
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert "Traceback" not in result.stderr
    assert (project_dir / "issues" / "2026-01.yaml").read_bytes() == before


def test_schema_writes_json_with_the_sections_property(project_dir: Path) -> None:
    result = newsletter("schema", "-o", "x.json", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    schema = json.loads((project_dir / "x.json").read_text(encoding="utf-8"))
    assert "sections" in schema["properties"]
    assert {"subject", "preheader", "language", "layout", "sections"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    # The line to paste is relative to the issues folder, where the editor resolves it.
    assert "# yaml-language-server: $schema=../x.json" in result.stdout


def test_committed_schema_is_current(project_dir: Path) -> None:
    result = newsletter("schema", "-o", "-", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    committed = (ROOT / "issue.schema.json").read_text(encoding="utf-8")
    assert result.stdout == committed, "run `newsletter schema -o issue.schema.json` and commit the result"


def test_sample_issue_names_the_schema_on_its_first_line() -> None:
    first = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../issue.schema.json"
    assert (SAMPLE.parent / "../issue.schema.json").resolve() == ROOT / "issue.schema.json"


def _commands() -> list[tuple[tuple[str, ...], str]]:
    """Every command of the app (and the app itself) with its docstring's first paragraph."""
    found = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        doc = (getattr(command, "help", None) or "").split("\n\n")[0]
        found.append((path, doc))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


@pytest.fixture(scope="module")
def help_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], tuple[int, str, str]]:
    """`--help` of every command, run side by side: (exit code, stdout, stderr) by command path."""
    cwd = tmp_path_factory.mktemp("help")
    running = {path: start(*path, "--help", cwd=cwd, env=environment(WIDE)) for path, _ in COMMANDS}
    pages = {}
    for path, process in running.items():
        out, err = process.communicate(timeout=120)
        pages[path] = (process.returncode, out, err)
    return pages


@pytest.mark.parametrize(("path", "doc"), COMMANDS, ids=[" ".join(p) or "newsletter" for p, _ in COMMANDS])
def test_help_exits_0_and_shows_the_docstring(
    help_pages: dict[tuple[str, ...], tuple[int, str, str]], path: tuple[str, ...], doc: str
) -> None:
    code, out, err = help_pages[path]
    assert code == 0, err
    assert doc.strip(), f"`newsletter {' '.join(path)}` has no docstring"
    assert squeeze(doc) in squeeze(out)
    assert "Usage:" in out


def test_every_rendering_command_is_covered_by_help() -> None:
    names = {p[0] for p, _ in COMMANDS if p}
    assert {"validate", "render", "new", "schema"} <= names


def test_validate_warns_when_gmail_would_clip_the_email(project_dir: Path) -> None:
    story = (
        "  - type: article\n    title: Verhaal {n}\n    body: |\n" + "      " + "Een lange zin. " * 60 + "\n"
    )
    text = "subject: Lang\npreheader: Heel lang\nlanguage: nl\nlayout: default\nsections:\n" + "".join(
        story.format(n=n) for n in range(60)
    )
    (project_dir / "issues" / "lang.yaml").write_text(text, encoding="utf-8")
    result = newsletter("validate", "issues/lang.yaml", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    assert "over Gmail's 102 KB" in result.stdout + result.stderr


def test_version_prints_the_package_version_and_exits_0(tmp_path: Path) -> None:
    from newsletter import __version__

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"newsletter {__version__}\n"
