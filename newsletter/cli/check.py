"""`newsletter check`: the preflight before a send, its findings printed by area."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.arguments import File
from newsletter.cli.context import load_settings, project_of
from newsletter.cli.output import EXIT_FAILED, user_errors

if TYPE_CHECKING:
    from newsletter.delivering.preflight import Report

_COLOURS = {"error": typer.colors.RED, "warning": typer.colors.YELLOW, "ok": None}


def check(
    file: File,
    offline: Annotated[
        bool, typer.Option("--offline", help="Ask no web server: list the links without checking them.")
    ] = False,
    recipients: Annotated[
        Path | None,
        typer.Option(
            "--recipients", "-r", help="Fill the merge fields with this audience CSV's first reader."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, max=120, metavar="N", help="Seconds to wait for each web server.")
    ] = 8.0,
) -> None:
    """Look an issue over before sending: links, images, size, inbox lengths, unsubscribe, spam score.

    Every link is asked (HEAD, then GET; redirects followed), unless --offline. Exit 1 on an error;
    warnings are listed and exit 0."""
    from newsletter.delivering.audience import check_audience
    from newsletter.delivering.preflight import preflight
    from newsletter.model import SAMPLE_RECIPIENT

    settings = load_settings()
    project = project_of(settings)
    with user_errors():
        loaded, rendered = project.render(file)
        envelope = settings.envelope(for_real=False)
        reader = SAMPLE_RECIPIENT
        if recipients is not None:
            reader = check_audience(loaded, rendered, recipients).first or SAMPLE_RECIPIENT
        typer.echo(f"checking {file} as {reader.email} receives it" + (" (offline)" if offline else ""))
        report = preflight(
            loaded,
            rendered,
            envelope,
            now=dt.datetime.now(dt.UTC),
            recipient=reader,
            online=not offline,
            timeout=timeout,
            example_unsubscribe=not settings.unsubscribe_url,
        )
    _print(report)
    if report.errors:
        raise typer.Exit(EXIT_FAILED)


def _print(report: Report) -> None:
    for area, findings in report.by_area():
        typer.echo(f"{area}:")
        for finding in findings:
            typer.secho(f"  {finding.level.value}: {finding.line()}", fg=_COLOURS[finding.level.value])
    typer.echo(report.summary())
