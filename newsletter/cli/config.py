"""`newsletter config`: the settings in effect and where each came from, secrets masked."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.context import load_settings
from newsletter.cli.output import user_errors


def config(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME", help="Show only this setting, e.g. NEWSLETTER_SMTP_HOST or smtp_host."
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list the settings that are not set, as NAME= # unset.")
    ] = False,
) -> None:
    """Print every setting's value in effect and where it came from: the environment, .env, the
    relay profile NEWSLETTER_RELAY names, or the default. Secrets show as (set, hidden), never their
    value. With a relay profile, also what it filled in, which explicit settings overrode it, and the
    provider's documented limits with the page they come from.
    """
    settings = load_settings()
    from newsletter.config.explain import lines

    with user_errors():
        for line in lines(settings, show_unset=show_all, name=name):
            typer.echo(line)
