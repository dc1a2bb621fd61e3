"""`newsletter archive`: the web version of the issues that went out, as a folder to upload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.context import ledger_if_any, load_settings, project_of
from newsletter.cli.output import user_errors


def archive(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FOLDER", help="Folder for the web site.")
    ] = Path("site"),
    include_ready: Annotated[
        bool, typer.Option("--include-ready", help="Also publish issues that are ready but not sent yet.")
    ] = False,
) -> None:
    """Write a static web version of every sent issue, with an index page, newest first."""
    from newsletter.web.archive import build as build_archive
    from newsletter.web.archive import issues_to_publish, public_unsubscribe_page

    settings = load_settings()
    project = project_of(settings)
    with ledger_if_any(settings) as ledger, user_errors():
        chosen = issues_to_publish(project, ledger, include_ready=include_ready)
    with user_errors():
        unsubscribe = public_unsubscribe_page(settings.unsubscribe_url)
        pages = build_archive(project, chosen, out, unsubscribe_page=unsubscribe)
    for page in pages:
        typer.echo(f"  {page.file}  {page.subject}")
    typer.echo(f"wrote {len(pages)} issue(s) and {out / 'index.html'}; upload the folder as it is")
