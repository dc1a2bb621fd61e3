"""`newsletter layout …`: start a layout folder for an organisation."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.help import PlainCommand, PlainGroup
from newsletter.errors import NewsletterError

layout_app = typer.Typer(
    cls=PlainGroup,
    help="Layouts: the look of the emails and the organisation's details, one folder each.",
    no_args_is_help=True,
)


@layout_app.command(cls=PlainCommand, name="new")
def layout_new(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The layout's name, e.g. my-organisation: its folder in the layouts folder "
            "(NEWSLETTER_LAYOUTS, default layouts/).",
        ),
    ],
) -> None:
    """Start a layout: a folder with a commented layout.yaml to fill in (colours, organisation, texts).

    Its templates are the base layout's until you put one of your own beside layout.yaml; the file's
    comments say how."""
    # Imported here: `newsletter --help` must not load the settings or the layout code.
    from newsletter.config import load_settings
    from newsletter.reading.layout_starter import start

    try:
        created = start(load_settings().layouts_dir, name)
    except NewsletterError as e:
        for line in e.lines():
            typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {created}: fill it in, then write `layout: {name}` in an issue and preview it")
