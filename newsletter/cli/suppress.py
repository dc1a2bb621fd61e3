"""`newsletter suppress`: the list of addresses that are never sent to (add, remove, list, import)."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.context import load_settings, open_ledger
from newsletter.cli.help import PlainCommand, PlainGroup
from newsletter.cli.output import EXIT_BAD_INPUT, error, print_skipped, print_table, user_errors

suppress_app = typer.Typer(
    cls=PlainGroup, help="The suppression list: addresses that are never sent to.", no_args_is_help=True
)


@suppress_app.command(cls=PlainCommand, name="add")
def suppress_add(
    emails: Annotated[list[str], typer.Argument(metavar="ADDRESSES", help="Addresses to suppress.")],
    reason: Annotated[str, typer.Option(metavar="WHY", help="Why, for the record.")] = "by hand",
) -> None:
    """Never send to these addresses again."""
    checked = _checked_addresses(emails)
    with open_ledger(load_settings()) as ledger:
        added = ledger.suppress(checked, reason, dt.datetime.now(dt.UTC), source="by hand")
    typer.echo(f"{added} added to the suppression list")


def _checked_addresses(emails: list[str]) -> list[str]:
    """The addresses as the audience normalises them, so that they match it; exit 2 naming the first
    that is none (by its position), before anything is stored."""
    from newsletter.reading.recipients import check_address

    checked = []
    for position, email in enumerate(emails, start=1):
        try:
            checked.append(check_address(email))
        except ValueError as e:
            where = f"address {position} " if len(emails) > 1 else ""
            error(f"{where}{email!r} is not a valid address: {e}; nothing was changed")
            raise typer.Exit(EXIT_BAD_INPUT) from None
    return checked


@suppress_app.command(cls=PlainCommand, name="remove")
def suppress_remove(
    email: Annotated[str, typer.Argument(metavar="ADDRESS", help="The address to allow again.")],
) -> None:
    """Allow an address again."""
    (checked,) = _checked_addresses([email])
    with open_ledger(load_settings()) as ledger:
        removed = ledger.unsuppress(checked)
    typer.echo(f"{checked} {'removed' if removed else 'was not on the list'}")


@suppress_app.command(cls=PlainCommand, name="list")
def suppress_list(
    as_csv: Annotated[
        bool,
        typer.Option(
            "--csv",
            help="Print CSV for a spreadsheet or a script: email, reason, source, issue, added_at, detail.",
        ),
    ] = False,
) -> None:
    """Every address that is never sent to: why, where that came from, when, and after which issue."""
    from newsletter.delivering.schedule import timezone
    from newsletter.delivering.status import SUPPRESSION_COLUMNS, suppression_rows

    settings = load_settings()
    with user_errors():
        tz = timezone(settings.timezone)
    with open_ledger(settings, reading=True) as ledger:
        listed = ledger.suppressions()
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["email", "reason", "source", "issue", "added_at", "detail"])
        writer.writerows([s.email, s.reason, s.source, s.issue or "", s.added_at, s.detail] for s in listed)
        return
    if not listed:
        typer.echo("the suppression list is empty")
        return
    rows = suppression_rows(listed, tz)
    columns = SUPPRESSION_COLUMNS if any(row[-1] for row in rows) else SUPPRESSION_COLUMNS[:-1]
    print_table(columns, [row[: len(columns)] for row in rows])
    typer.echo(f"{len(listed)} {'address' if len(listed) == 1 else 'addresses'} on the suppression list")


@suppress_app.command(cls=PlainCommand, name="pull")
def suppress_pull() -> None:
    """Fetch the unsubscribes that the endpoint on another machine recorded (NEWSLETTER_SUPPRESSIONS_URL).

    Each run fetches what came since the last one. A send and dispatch do this by themselves before
    they start; run it to see that the endpoint answers, or to bring the list up to date.
    """
    from newsletter.cli.pull import endpoint, pull_once

    settings = load_settings()
    source = endpoint(settings)
    if source is None:
        error(
            "set NEWSLETTER_SUPPRESSIONS_URL to the endpoint's suppressions address, e.g. "
            "https://nieuws.example.org/uitschrijven/suppressions (see .env.example)"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    with user_errors():
        pulled = pull_once(settings, source)
    typer.echo(pulled.sentence())


@suppress_app.command(cls=PlainCommand, name="import")
def suppress_import(
    file: Annotated[Path, typer.Argument(help="A CSV with an email column (e.g. your ESP's unsubscribes).")],
    reason: Annotated[str, typer.Option(metavar="WHY", help="Why, for the record.")] = "imported",
) -> None:
    """Suppress every address in a CSV file."""
    from newsletter.reading.recipients import load as load_recipients

    with user_errors():
        audience = load_recipients(file)
    print_skipped(audience)
    with open_ledger(load_settings()) as ledger:
        added = ledger.suppress(
            [r.email for r in audience.recipients],
            reason,
            dt.datetime.now(dt.UTC),
            source=f"import of {file.name}",
        )
    typer.echo(f"{added} of {len(audience.recipients)} addresses added to the suppression list")
