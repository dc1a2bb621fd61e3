"""`newsletter archive`: the web version of the issues that went out, as a folder to upload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.context import load_settings, project_of
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
    from newsletter.ledger import Ledger
    from newsletter.reading.issues import load as load_issue
    from newsletter.web.archive import build as build_archive

    settings = load_settings()
    project = project_of(settings)
    chosen: list[tuple[Path, str]] = []
    sent: dict[str, str] = {}
    if settings.db.exists():
        with user_errors():
            ledger = Ledger.for_reading(settings.db)
            try:
                for delivery in ledger.deliveries():
                    if ledger.counts(delivery.issue).sent:
                        sent[delivery.issue] = delivery.started_at.astimezone().date().isoformat()
            finally:
                ledger.close()
    with user_errors():
        for path in project.issue_files():
            if path.stem in sent:
                chosen.append((path, sent[path.stem]))
            elif include_ready:
                issue = load_issue(path).issue
                if issue.status == "ready" and issue.send_at is not None:
                    chosen.append((path, issue.send_at.date().isoformat()))
        unsubscribe = (settings.unsubscribe_url or "").replace("{token}", "").replace("{email}", "")
        pages = build_archive(project, chosen, out, unsubscribe_page=unsubscribe or "#")
    for page in pages:
        typer.echo(f"  {page.file}  {page.subject}")
    typer.echo(f"wrote {len(pages)} issue(s) and {out / 'index.html'}; upload the folder as it is")
