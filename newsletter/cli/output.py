"""What the commands print: error and warning lines, tables, and a send's progress.

Errors go to stderr as one red line each; a NewsletterError becomes its lines and exit code 2, never a
traceback. Tables and progress use rich, imported only when a command prints one, so that `--help`
and `validate` start without it.
"""

from __future__ import annotations

import datetime as dt
import errno
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    from newsletter.delivering.loop import Event
    from newsletter.reading.recipients import Audience

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def error(line: str) -> None:
    typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)


def notice(line: str) -> None:
    """A line for the person at the terminal while a run goes on, e.g. that a signal stops it."""
    typer.secho(line, fg=typer.colors.YELLOW, err=True)


def warning(line: str) -> None:
    # On stdout with the summary it belongs to: stderr stays one line per error.
    typer.secho(f"warning: {line}", fg=typer.colors.YELLOW)


def warn_envelope(lines: list[str]) -> None:
    """Settings a test or a dry run gets by with and a real send refuses."""
    for line in lines:
        typer.secho(f"warning: {line} (a real send refuses it)", fg=typer.colors.YELLOW, err=True)


def cannot_listen(host: str, port: int, e: OSError) -> str:
    """Why a server (the preview, the unsubscribe endpoint) could not start, and which option to change."""
    reason = e.strerror or str(e)
    if isinstance(e, socket.gaierror):
        return f"cannot listen on {host}:{port} ({reason}); pass another --host"
    # EADDRNOTAVAIL: the address is not one of this computer's; a port in use or a refused one is the port's.
    fix = "--host or --port" if e.errno == errno.EADDRNOTAVAIL else "--port"
    return f"cannot listen on {host}:{port} ({reason}); pass another {fix}"


def print_errors(lines: Sequence[str]) -> None:
    for line in lines:
        error(line)


@contextmanager
def user_errors() -> Iterator[None]:
    """A NewsletterError becomes one red line per problem and exit code 2; no traceback."""
    try:
        yield
    except NewsletterError as e:
        print_errors(e.lines())
        raise typer.Exit(EXIT_BAD_INPUT) from None


def print_skipped(audience: Audience) -> None:
    """The audience's rows that get nothing (not an address, a duplicate), each with its line."""
    for skipped in audience.skipped:
        typer.secho(
            f"skipped {audience.source}:{skipped.line}: {skipped.email or '(empty)'}: {skipped.reason}",
            fg=typer.colors.YELLOW,
            err=True,
        )


def _console() -> Console:
    # Piped into a log file, rich would squeeze tables to 80 columns.
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=120)


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[str] = (),
    title: str | None = None,
) -> None:
    """A table with a bold header; the columns named in `right` are right-aligned (figures)."""
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*row)
    _console().print(table)


def print_figures(title: str, cells: list[tuple[str, int]]) -> None:
    """One row of named figures under a title, as `send` and the dry run end."""
    names = [name for name, _ in cells]
    print_table(names, [[str(value) for _, value in cells]], right=names, title=title)


class Progress:
    """A progress bar on a terminal; one plain line per message otherwise (cron mail, log files)."""

    def __init__(self, total: int, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self.tty = sys.stdout.isatty()
        self.progress: RichProgress | None = None
        if self.tty and total:
            self.progress = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s"),
                TimeRemainingColumn(),
            )
            self.task = self.progress.add_task(label, total=total, rate=0.0)
        self.started = time.monotonic()

    def __enter__(self) -> Progress:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        if self.progress is not None:
            if event.kind != "retry":
                rate = event.done / max(time.monotonic() - self.started, 1e-6)
                self.progress.update(self.task, completed=event.done, rate=rate)
            return
        stamp = dt.datetime.now().astimezone().strftime("%H:%M:%S")
        typer.echo(f"{stamp} {event.kind:7} {event.email} {event.reply}".rstrip())
