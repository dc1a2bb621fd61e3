"""`newsletter serve`: the unsubscribe endpoint, for the links and the one-click button of the
issues sent, run with waitress until it is stopped."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.context import load_settings
from newsletter.cli.output import EXIT_BAD_INPUT, cannot_listen, error, user_errors

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.web.endpoint import Endpoint


def serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8025,
    host: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            help="Address to listen on; the default keeps it on this computer, behind your web server.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Answer the unsubscribe links of the issues sent, and the unsubscribe button of Gmail and Apple
    Mail, at the path of NEWSLETTER_UNSUBSCRIBE_URL: readers who leave go on the suppression list.

    A click opens a page that asks, with one button (a link scanner that opens every link unsubscribes
    nobody); a mail program's one-click request unsubscribes at once. Put it behind a web server that
    does HTTPS (see the README). A sender on another machine pulls the new suppressions from the same
    address followed by /suppressions, with `newsletter suppress pull`.
    """
    from newsletter.web.unsubscribe import create_app, listen

    settings = load_settings()
    with user_errors():
        endpoint = create_app(settings)
        lists = sorted(endpoint.lists())
    try:
        server = listen(endpoint, host, port)
    except OSError as e:
        endpoint.close()
        error(cannot_listen(host, port, e))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _announce(settings, endpoint, host, port, lists)
    # One line per unsubscribe on stderr, the address masked, never a token.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S", stream=sys.stderr
    )
    # `systemctl stop` sends SIGTERM: stop as Ctrl-C does, closing the ledger.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        # waitress ends its loop on KeyboardInterrupt itself and returns.
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    finally:
        server.close()
        endpoint.close()
    typer.echo("stopped")


def _announce(settings: Settings, endpoint: Endpoint, host: str, port: int, lists: list[str]) -> None:
    """Where it listens, for which lists, into which ledger, and which secrets it takes."""
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"answering {settings.unsubscribe_url} at http://{shown}:{port}{endpoint.path} (Ctrl-C to stop)"
    )
    typer.echo(f"  for {', '.join(lists)}; recording in {settings.db}")
    typer.echo(f"  suppressions for a sender elsewhere at {endpoint.shape.pull_path}")
    previous = len(endpoint.config.secrets) - 1
    # A secret that differs from the sender's makes every link fail, silently for the reader.
    typer.echo(
        "  links signed with NEWSLETTER_SECRET"
        + (f" and {previous} of NEWSLETTER_PREVIOUS_SECRETS" if previous else "")
        + ": a link of a test send checks that it is the sender's"
    )
