"""`newsletter mailbox`, which cron runs (and dispatch, first): one pass over the bounce mailbox.

The handler that judges each message is made here (`_handler`), from the settings and the ledger:
the one seam between reading the mailbox and deciding what a message is.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.context import load_settings, open_ledger
from newsletter.cli.output import error, user_errors
from newsletter.errors import ConfigError, LedgerError, NewsletterError

if TYPE_CHECKING:
    from collections.abc import Callable

    from newsletter.config import Settings
    from newsletter.delivering.staff_mail import Staff
    from newsletter.feedback.run import Handle, PassReport
    from newsletter.ledger import Ledger

DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Say what each message is, recording nothing and moving nothing."),
]

NOT_SET = (
    "set NEWSLETTER_IMAP_HOST (and _USERNAME, _PASSWORD) or NEWSLETTER_MAILDIR to read the bounce mailbox "
    "(see .env.example)"
)


def mailbox(dry_run: DryRun = False) -> None:
    """Read the bounce mailbox once: bounces, complaints and unsubscribe mails go onto the suppression
    list.

    Run it from cron, or let `newsletter dispatch` run it before it sends. Mail it acted on is moved to
    NEWSLETTER_IMAP_PROCESSED_FOLDER (deleted only with NEWSLETTER_MAILBOX_DELETE=true); mail that is
    not for it, such as out-of-office replies, stays where it was, unread. Reading the same mail again
    changes nothing.
    """
    from newsletter.feedback.alerts import mail_refusals
    from newsletter.feedback.rehearsal import ledger_copy
    from newsletter.feedback.run import read_mailbox

    settings = load_settings()
    now = dt.datetime.now(dt.UTC)
    with user_errors():
        source = settings.mailbox_source()
        if source is None:
            raise ConfigError(NOT_SET)
        if dry_run:
            with ledger_copy(settings.db) as copy:
                report = read_mailbox(source, _handler(settings, copy, now), None, dry_run=True)
        else:
            with open_ledger(settings) as ledger:
                report = read_mailbox(source, _handler(settings, ledger, now), ledger)
    _print(report)
    if report.fixes and not dry_run:
        _tell_staff(settings, lambda staff: mail_refusals(staff, report.fixes, report.where, now), print_why)
    raise typer.Exit(report.exit_code)


def print_why(event: str, data: dict[str, object]) -> None:
    if event == "report-failed":
        error(str(data["message"]))


def _print(report: PassReport) -> None:
    prefix = "dry run, nothing recorded or moved: " if report.dry_run else ""
    typer.echo(prefix + report.sentence())
    for line in report.fix_lines():
        typer.echo(f"  {line}")
    for number, detail in enumerate(report.details, start=1):
        typer.echo(f"  {number}. " + detail.replace("\n", "\n     "))
    if report.lost:
        error(f"{report.lost}; what was recorded stays recorded, and the next run reads the rest")


def _handler(settings: Settings, ledger: Ledger, now: dt.datetime) -> Handle:
    """What judges each message (`feedback.handle`), recording in `ledger`."""
    from newsletter.feedback.handle import handle

    rules = settings.feedback_rules()
    return lambda data: handle(data, ledger, rules, now)


def mailbox_first(
    settings: Settings, ledger: Ledger, now: dt.datetime, log: Callable[[str, dict[str, object]], None]
) -> int:
    """Dispatch's first step when a bounce mailbox is set: one pass, logged. Its exit code: 0, or 1
    when it failed, which does not stop the sending (the suppression list is as it was)."""
    from newsletter.feedback.alerts import mail_failure, mail_refusals
    from newsletter.feedback.run import read_mailbox

    try:
        source = settings.mailbox_source()
        if source is None:
            return 0
        report = read_mailbox(source, _handler(settings, ledger, now), ledger)
    except LedgerError:
        raise  # the ledger is unusable: dispatch could not send either
    except NewsletterError as e:
        log("mailbox-failed", {"message": f"{e}; the suppression list is as it was"})
        problem = str(e)
        _tell_staff(settings, lambda staff: mail_failure(staff, ledger, problem, now), log)
        return 1
    log("mailbox", {"message": report.sentence()})
    for line in report.fix_lines():
        log("mailbox-refused", {"message": line})
    if report.fixes:
        _tell_staff(settings, lambda staff: mail_refusals(staff, report.fixes, report.where, now), log)
    if report.lost:
        log("mailbox-failed", {"message": f"{report.lost}; the next run reads the rest"})
        return 1
    return 0


def _tell_staff(
    settings: Settings, send: Callable[[Staff], str | None], log: Callable[[str, dict[str, object]], None]
) -> None:
    """Mail NEWSLETTER_REPORT_TO, if set, with `send`; a mail that cannot go is logged, never raised."""
    from newsletter.delivering.staff_mail import Staff

    try:
        to = settings.report_addresses()
        if not to:
            return
        why = send(Staff(settings.envelope(for_real=True), settings.smtp_sender(), to))
    except NewsletterError as e:
        why = str(e)
    if why is None:
        log("report-sent", {"message": "told NEWSLETTER_REPORT_TO"})
    else:
        log("report-failed", {"message": f"could not mail NEWSLETTER_REPORT_TO: {why}"})
