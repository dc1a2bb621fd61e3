"""The `newsletter` command: parses arguments, calls the library, prints. Nothing imports it.

The commands live in modules by what they are for (`write`, `send`, `status`, `suppress`, `publish`,
`dispatch`, `serve`); this module puts them on the app, in the order and under the panels `--help` lists
them. Each module imports the library inside its commands, so that `--help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter import __version__
from newsletter.cli import check, config, dispatch, doctor, mailbox, publish, send, serve, status, write
from newsletter.cli.help import PlainCommand, PlainGroup
from newsletter.cli.layout import layout_app
from newsletter.cli.output import EXIT_OK
from newsletter.cli.suppress import suppress_app

app = typer.Typer(
    name="newsletter",
    cls=PlainGroup,
    help=(
        "Write the monthly newsletter as a file, preview it, test it, and deliver it to every "
        "subscriber exactly once."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"newsletter {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Write the monthly newsletter as a file, preview it, test it, and deliver it to every subscriber
    exactly once."""


app.command(cls=PlainCommand, rich_help_panel="Write")(write.validate)
app.command(cls=PlainCommand, rich_help_panel="Write")(write.render)
app.command(cls=PlainCommand, rich_help_panel="Write")(write.new)
app.command(cls=PlainCommand, rich_help_panel="Write")(write.schema)
app.command(cls=PlainCommand, rich_help_panel="Send")(check.check)
app.command(cls=PlainCommand, rich_help_panel="Send")(send.send)
app.command(cls=PlainCommand, rich_help_panel="Send")(status.status)
app.command(cls=PlainCommand, rich_help_panel="Send")(status.approve)
app.add_typer(suppress_app, name="suppress", rich_help_panel="Send")
app.command(cls=PlainCommand, rich_help_panel="Write")(write.preview)
app.add_typer(layout_app, name="layout", rich_help_panel="Write")
app.command(cls=PlainCommand, rich_help_panel="Publish")(publish.archive)
app.command(cls=PlainCommand, rich_help_panel="Send")(dispatch.dispatch)
app.command(cls=PlainCommand, rich_help_panel="Send")(serve.serve)
app.command(cls=PlainCommand, rich_help_panel="Send")(mailbox.mailbox)
app.command(cls=PlainCommand, rich_help_panel="Set up")(doctor.doctor)
app.command(cls=PlainCommand, rich_help_panel="Set up")(config.config)


def main() -> None:
    app()
