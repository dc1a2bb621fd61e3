"""`newsletter status` (where the issues stand, who got one and who did not) and `newsletter approve`."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.arguments import File
from newsletter.cli.context import ledger_if_any, load_settings, open_ledger, project_of
from newsletter.cli.output import print_table, user_errors

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.delivering.status import DeliveryReport


def status(
    file: Annotated[
        Path | None, typer.Argument(help="An issue file; every issue, draft to sent, if omitted.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Print the failed addresses as CSV.")] = False,
) -> None:
    """Who got an issue and who did not, and why; without FILE, where every issue stands."""
    from newsletter.delivering import status as report
    from newsletter.delivering.schedule import timezone

    settings = load_settings()
    if file is None and not failed:
        _print_overview(settings)
        return
    if not settings.db.exists():
        typer.echo(f"nothing has been sent yet (no ledger at {settings.db})")
        return
    with user_errors():
        tz = timezone(settings.timezone)
    with open_ledger(settings, reading=True) as ledger:
        issues = report.reported_issues(ledger, file)
        if failed:
            _print_undelivered(report.undelivered(ledger, issues))
        else:
            _print_deliveries(report.delivery_report(ledger, issues, tz))


def _print_undelivered(rows: list[tuple[str, str, str, int, str | None]]) -> None:
    from newsletter.delivering.status import UNDELIVERED_COLUMNS

    writer = csv.writer(sys.stdout)
    writer.writerow(UNDELIVERED_COLUMNS)
    writer.writerows(rows)


def _print_deliveries(deliveries: DeliveryReport) -> None:
    from newsletter.delivering.status import FIGURE_COLUMNS

    for issue in deliveries.unsent:
        typer.echo(f"{issue}: not sent yet")
    print_table(deliveries.columns, deliveries.rows, right=FIGURE_COLUMNS)
    for line in deliveries.came_back:
        typer.echo(line)
    for issue, email, reply in deliveries.failures:
        typer.echo(f"{issue}: failed: {email}: {reply}")


def _print_overview(settings: Settings) -> None:
    from newsletter.delivering.schedule import timezone
    from newsletter.delivering.status import issue_overview

    with user_errors():
        tz = timezone(settings.timezone)
        window = settings.window()
        with ledger_if_any(settings) as ledger:
            overview = issue_overview(
                project_of(settings),
                ledger,
                tz,
                dt.datetime.now(tz),
                window,
                require_approval=settings.require_approval,
            )
    if not overview.rows:
        typer.echo(f"no issues in {settings.issues_dir}/ yet; start one with: newsletter new 2026-01")
        return
    print_table(overview.columns, overview.rows)
    for line in [*overview.came_back, *overview.approvals]:
        typer.echo(line)


def approve(
    file: File,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar="NAME", help='Who approves it, e.g. --by "Anna Peeters"; recorded as typed.'
        ),
    ],
) -> None:
    """Record that you checked an issue and approve it for sending, exactly as it renders now.

    With NEWSLETTER_REQUIRE_APPROVAL=true, a real send and dispatch deliver only an approved issue;
    changing a word or an image after this needs a new approval, reformatting the file does not.
    """
    from newsletter.delivering import approval
    from newsletter.delivering.schedule import timezone

    settings = load_settings()
    with user_errors():
        tz = timezone(settings.timezone)
        approved = approval.approval_of(
            project_of(settings), file, by, settings.recipients, dt.datetime.now(tz)
        )
    with open_ledger(settings) as ledger:
        approval.record(ledger, approved)
    for line in approval.summary(approved, file, tz):
        typer.echo(line)
