"""The pull of the endpoint's unsubscribes (NEWSLETTER_SUPPRESSIONS_URL) as the commands run it:
`suppress pull` on its own, `send` (also its dry run) before it counts or sends, and dispatch before
its first message. Without the setting there is nothing to pull: the endpoint writes into this ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from newsletter.cli.output import EXIT_BAD_INPUT, error, print_errors, user_errors
from newsletter.errors import NewsletterError, PullError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.feedback.pull import Endpoint, Pulled
    from newsletter.ledger import Ledger


def endpoint(settings: Settings) -> Endpoint | None:
    """The endpoint of NEWSLETTER_SUPPRESSIONS_URL, None without it; a mistake in it is exit 2."""
    from newsletter.config.pull import suppressions_endpoint

    with user_errors():
        return suppressions_endpoint(settings)


def pull_once(settings: Settings, source: Endpoint) -> Pulled:
    """One pull into the ledger of NEWSLETTER_DB, made if there is none yet; PullError when the
    endpoint's answer cannot be had, LedgerError when the ledger cannot be written."""
    from newsletter.feedback.pull import pull
    from newsletter.ledger import Ledger

    with Ledger(settings.db) as ledger:
        return pull(source, ledger, dt.datetime.now(dt.UTC))


def pull_before_sending(settings: Settings) -> None:
    """Pull before a send counts or sends; if that fails, one line and exit 2: nothing is sent."""
    source = endpoint(settings)
    if source is None:
        return
    try:
        pulled = pull_once(settings, source)
    except PullError as e:
        error(e.held_back)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except NewsletterError as e:
        print_errors(e.lines())
        raise typer.Exit(EXIT_BAD_INPUT) from None
    typer.echo(pulled.sentence())


def dispatch_refresh(settings: Settings) -> Callable[[Ledger, dt.datetime], str] | None:
    """What dispatch runs before its first message: the pull into its ledger, the line it logs."""
    source = endpoint(settings)
    if source is None:
        return None

    def refresh(ledger: Ledger, now: dt.datetime) -> str:
        from newsletter.feedback.pull import pull

        try:
            return pull(source, ledger, now).sentence()
        except PullError as e:
            _tell_staff(settings, ledger, str(e), now)
            raise

    return refresh


def _tell_staff(settings: Settings, ledger: Ledger, problem: str, now: dt.datetime) -> None:
    """Mail NEWSLETTER_REPORT_TO that dispatch holds the issue, once a day; a mail that cannot go
    changes nothing (dispatch logs the failed pull itself)."""
    from newsletter.delivering.staff_mail import Staff
    from newsletter.feedback.alerts import mail_pull_failure

    with contextlib.suppress(NewsletterError):
        to = settings.report_addresses()
        if to:
            mail_pull_failure(
                Staff(settings.envelope(for_real=True), settings.smtp_sender(), to), ledger, problem, now
            )
