"""The code stays in pieces a reader takes in at once: no module of the package over 400 lines, and no
function of the CLI over 50, so that each command stays parse, call the library, print.

Lines are counted from the source with `ast` (a function from its first decorator to its last line),
never by running anything.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "newsletter"
MODULE_LIMIT = 400
FUNCTION_LIMIT = 50


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_lines(source: str) -> int:
    return len(source.splitlines())


def function_lengths(source: str) -> dict[str, int]:
    """Every function and method in `source`, nested ones too, by qualified name: its lines, decorators
    included."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                assert child.end_lineno is not None
                lengths[prefix + child.name] = child.end_lineno - first + 1
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return lengths


def test_no_module_of_the_package_is_over_400_lines() -> None:
    long = {
        _name(path): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := module_lines(path.read_text(encoding="utf-8"))) > MODULE_LIMIT
    }
    assert not long, f"split these modules, each into parts of at most {MODULE_LIMIT} lines: {long}"


def test_no_function_of_the_cli_is_over_50_lines() -> None:
    long = {
        f"{_name(path)}: {function}": lines
        for path in sorted((PACKAGE / "cli").rglob("*.py"))
        for function, lines in function_lengths(path.read_text(encoding="utf-8")).items()
        if lines > FUNCTION_LIMIT
    }
    assert not long, (
        f"a command parses, calls the library and prints in at most {FUNCTION_LIMIT} lines; move the "
        f"work into the library or a helper named for what it does: {long}"
    )


def test_every_command_is_a_function_in_the_cli_where_the_count_looks() -> None:
    import typer.main

    from newsletter.cli import app

    modules: set[str] = set()

    def walk(command: object) -> None:
        callback = getattr(command, "callback", None)
        if callback is not None:
            modules.add(callback.__module__)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    assert "newsletter.cli.suppress" in modules
    assert all(module.startswith("newsletter.cli") for module in modules), modules


def test_function_lengths_count_decorators_methods_and_nested_functions() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(47))
    source = textwrap.dedent(
        """\
        @decorator(
            option=1,
        )
        def long_command():
        {body}

        class Printer:
            def method(self):
                def inner():
                    return 1
                return inner
        """
    ).format(body=body)
    lengths = function_lengths(source)
    assert lengths == {"long_command": 51, "Printer.method": 4, "Printer.method.inner": 2}
    assert lengths["long_command"] > FUNCTION_LIMIT
    assert module_lines(source) == len(source.splitlines())
