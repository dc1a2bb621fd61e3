"""Help pages in the words of the people who read them: FILE and N, not `<path>` and `<int range>`.

Typer labels every parameter with its Python type (`<bool>`, `<list[Path]>`, `{file}`, `[x>=1]`) and
keeps the line breaks of a docstring in the middle of a sentence. These command classes give each
parameter a plain placeholder instead (its metavar, or one derived from its click type) and join each
paragraph of the help into one line, which the terminal then wraps at its own width. A number
given wrong (`--limit abc`, `--port 99999`) is one error line in plain words, not pydantic's.
"""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import PurePath
from typing import Any

# Typer 0.29 carries its own copy of click; these are the classes its commands are built from.
from typer import _click as click
from typer._click.exceptions import BadParameter, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from newsletter.cli.output import error

_PARAGRAPHS = re.compile(r"\n\s*\n")


def one_line_paragraphs(text: str | None) -> str | None:
    """Each paragraph on one line, so a sentence is never broken where the source file broke it."""
    if not text:
        return text
    cleaned = inspect.cleandoc(text)
    return "\n\n".join(" ".join(part.split()) for part in _PARAGRAPHS.split(cleaned))


def placeholder(param: TyperArgument | TyperOption) -> str | None:
    """What stands for the value in help: FILE, FOLDER, N, a|b, TEXT; None for a flag."""
    if param.metavar:
        return param.metavar
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return None
    kind = param.type_descriptor
    if kind.is_choice:
        return "|".join(str(choice) for choice in kind.choices or ())
    if kind.is_path:
        return "FOLDER" if kind.path_type == "dir" else "FILE"
    annotation = typing.get_args(kind.annotation)[0] if kind.is_list else kind.annotation
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "FILE"
    if annotation in (int, float):
        return "N"
    return "TEXT"


class _PlainArgument(TyperArgument):
    @property
    def display_name_raw(self) -> str:
        return self.metavar or self.name.upper() if self.name else ""

    # Typer passes ctx by name, so the parameter keeps its name though it is not needed here.
    def display_type_rich(self, ctx: click.Context) -> str | None:  # noqa: ARG002
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        if not self.required:
            name = f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def _get_number_range_help_str(self) -> str | None:
        return None


class _PlainOption(TyperOption):
    def display_type_rich(self, ctx: click.Context) -> str | None:  # noqa: ARG002
        # A repeatable option takes one value each time it is given, so no "..." here.
        return placeholder(self)

    def _get_number_range_help_str(self) -> str | None:
        # The help sentence says what is allowed ("at most N"); click's "[x>=1]" is for programmers.
        return None


def _plain(params: list[click.Parameter]) -> list[click.Parameter]:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _PlainArgument
        elif type(param) is TyperOption:
            param.__class__ = _PlainOption
    return params


def first_paragraph(command: click.Command) -> str:
    """The whole first paragraph of a command's help: click would cut it at 45 characters with '...'."""
    return (command.short_help or command.help or "").split("\n\n")[0].strip()


class _ValueError(UsageError):
    """A mistake in an option's value, shown as one line like every other mistake: no usage block."""

    def show(self, file: Any = None) -> None:  # noqa: ARG002
        error(self.format_message())


def _in_plain_words(problem: BadParameter) -> _ValueError | None:
    """`--limit: 'abc' is not a whole number` for Typer's pydantic words ("Input should be a valid
    integer, unable to parse string as an integer"); None for a problem that is not about a number."""
    # Typer coerces a value with a pydantic TypeAdapter and raises BadParameter from its error.
    cause = problem.__cause__
    if problem.param is None or cause is None:
        return None
    # Imported here: pydantic and the settings are only needed once a value is wrong.
    from pydantic import ValidationError

    from newsletter.config import number_in_words

    if not isinstance(cause, ValidationError) or not cause.errors():
        return None
    words = number_in_words(cause.errors()[0])
    if words is None:
        return None
    param = problem.param
    name = max(param.opts, key=len) if isinstance(param, TyperOption) else (param.name or "value").upper()
    return _ValueError(f"{name}: {words}", ctx=problem.ctx)


class PlainCommand(TyperCommand):
    """A command whose help shows FILE/N placeholders and one line per paragraph, and whose mistakes
    in a number's value are one plain line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = one_line_paragraphs(self.help)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The values are parsed and coerced here, before the command runs.
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except BadParameter as e:
            plain = _in_plain_words(e)
            if plain is None:
                raise
            raise plain from None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return _plain(super().get_params(ctx))

    def get_short_help_str(self, limit: int = 45) -> str:  # noqa: ARG002
        return first_paragraph(self)


class PlainGroup(TyperGroup):
    """A command group with the same help conventions, listing its commands under their panels."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = one_line_paragraphs(self.help)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return _plain(super().get_params(ctx))

    def get_short_help_str(self, limit: int = 45) -> str:  # noqa: ARG002
        return first_paragraph(self)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            panel = getattr(command, "rich_help_panel", None) or "Commands"
            panels.setdefault(panel, []).append((name, first_paragraph(command)))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)
