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
from newsletter.cli.output import EXIT_BAD_INPUT, error, print_skipped, user_errors

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
def suppress_list() -> None:
    """Print the suppression list as CSV."""
    with open_ledger(load_settings(), reading=True) as ledger:
        listed = ledger.suppressions()
    writer = csv.writer(sys.stdout)
    writer.writerow(["email", "reason", "source", "issue", "added_at", "detail"])
    writer.writerows([s.email, s.reason, s.source, s.issue or "", s.added_at, s.detail] for s in listed)


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
