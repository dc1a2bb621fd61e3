"""The `newsletter` command, run as a user runs it: `python -m newsletter …` in a scratch project."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
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
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-01.eml",
        "2026-01.html",
        "2026-01.txt",
        "2026-01_files",
    ]
    # The message's inline images, for the HTML file to show them in a browser.
    assert len(list((out / "2026-01_files").rglob("*.*"))) == 3
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


# What Typer prints for Python types and click for ranges; a page for people says FILE, N or ADDRESS.
PROGRAMMER_WORDS = re.compile(
    r"<(?:bool|str|int|float|path|file|dir)>|<list\[|<int range>|\[x[<>]=|\{[a-z_]+\}|"
    r"\b(?:INTEGER|BOOLEAN|PATH|RANGE)\b"
)
PLACEHOLDERS = {"FILE", "FOLDER", "N", "ADDRESS", "NAME", "TIME", "WHY"}


@pytest.mark.parametrize(("path", "doc"), COMMANDS, ids=[" ".join(p) or "newsletter" for p, _ in COMMANDS])
def test_help_names_values_in_words_not_python_types(
    help_pages: dict[tuple[str, ...], tuple[int, str, str]], path: tuple[str, ...], doc: str
) -> None:
    _, out, _ = help_pages[path]
    assert not PROGRAMMER_WORDS.findall(out), out
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for option in command.params:
        if option.param_type_name != "option" or option.is_flag:  # type: ignore[attr-defined]
            continue
        long = max(option.opts, key=len)
        shown = re.search(
            rf"^  (?:-\w, )?{re.escape(long)} (\S+)", out.partition("Options:")[2], re.MULTILINE
        )
        assert shown, f"{long} is not on the page:\n{out}"
        assert shown.group(1) in PLACEHOLDERS, out


@pytest.mark.parametrize(("path", "doc"), COMMANDS, ids=[" ".join(p) or "newsletter" for p, _ in COMMANDS])
def test_help_prints_each_paragraph_whole_and_wraps_it_only_at_the_terminal_width(
    help_pages: dict[tuple[str, ...], tuple[int, str, str]], path: tuple[str, ...], doc: str
) -> None:
    """Each paragraph of a command's help is filled to the page's width (78 columns on a wide
    terminal), never broken where the source file broke its docstring."""
    _, out, _ = help_pages[path]
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for paragraph in (command.help or "").split("\n\n"):
        filled = textwrap.fill(
            " ".join(paragraph.split()), width=78, initial_indent="  ", subsequent_indent="  "
        )
        assert filled in out, out


def test_the_command_list_gives_each_command_its_whole_first_sentence(
    help_pages: dict[tuple[str, ...], tuple[int, str, str]],
) -> None:
    _, out, _ = help_pages[()]
    listing = squeeze(out.partition("--help")[2])
    for path, doc in COMMANDS:
        if len(path) == 1:
            assert f"{path[0]} {squeeze(doc)}" in listing, out
    assert "..." not in listing
    for panel in ("Write:", "Send:", "Publish:"):
        assert panel in out.splitlines()


# Runs the CLI in this process, then prints which of these modules it had imported.
IMPORTED = """
import contextlib, sys
from newsletter.cli import main
sys.argv = ["newsletter", *sys.argv[1:]]
with contextlib.suppress(SystemExit):  # the command ends with one; the imports are what is looked at
    main()
# (Not sqlite3: coverage, when it measures this process, stores its data with it.)
heavy = ("premailer", "jinja2", "mjml", "newsletter.rendering.render", "newsletter.sending.smtp",
         "newsletter.delivering.loop",
         "newsletter.ledger", "newsletter.delivering.campaign", "newsletter.web.preview", "rich",
         "pydantic")
print("imported:", *sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def _imported(*args: str, cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED, *args], cwd=cwd, env=environment(WIDE), capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("imported:"), done.stderr
    return set(last.split()[1:])


def test_help_imports_neither_the_renderer_nor_the_sending_code(project_dir: Path) -> None:
    """The reason `newsletter --help` starts fast (benchmarks/startup.py measures it)."""
    assert _imported("--help", cwd=project_dir) == set()


def test_validate_imports_the_renderer_but_not_the_sending_code(project_dir: Path) -> None:
    imported = _imported("validate", "issues/2026-01.yaml", cwd=project_dir)
    assert {"newsletter.rendering.render", "premailer", "pydantic"} <= imported
    assert not imported & {
        "sqlite3",
        "newsletter.delivering.loop",
        "newsletter.ledger",
        "newsletter.delivering.campaign",
    }


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
