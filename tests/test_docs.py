"""The documentation keeps up with the code: every command is documented, every setting listed."""

from __future__ import annotations

import re
from typing import Any

import typer.main
from conftest import ROOT

from newsletter.cli import app
from newsletter.config import Settings


def _commands() -> dict[str, Any]:
    # Typer's groups are click groups in spirit; duck typing keeps this independent of which click.
    group = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            for sub, subcommand in command.commands.items():
                found[f"{name} {sub}"] = subcommand
        else:
            found[name] = command
    return found


def test_every_command_has_help_text() -> None:
    missing = [name for name, command in _commands().items() if not (command.help or "").strip()]
    assert not missing, f"commands without a docstring: {missing}"


def test_every_command_is_mentioned_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in _commands() if f"newsletter {name.split()[0]}" not in readme]
    assert not missing, f"README.md does not mention: {missing}"


def test_env_example_lists_exactly_the_settings_that_config_reads() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"(?m)^(NEWSLETTER_[A-Z_]+)=", example))
    read = {field.alias or f"NEWSLETTER_{name.upper()}" for name, field in Settings.model_fields.items()}
    assert listed == read, f"only in .env.example: {listed - read}; only in config.py: {read - listed}"


def test_every_setting_in_env_example_has_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("NEWSLETTER_"):
            above = lines[i - 1]
            assert (
                above.startswith("#") or lines[i - 2].startswith("#") or above.startswith("NEWSLETTER_SMTP")
            ), f".env.example: {line.split('=')[0]} has no comment"


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make check"]
