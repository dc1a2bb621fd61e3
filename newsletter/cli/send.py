"""`newsletter send`: the dry run to the outbox, the test send to yourself, and the real send.

The three build their messages through the same campaign (`delivering.campaign`); they differ in the
sender and in whether the ledger is written. Each ends the command with its own exit code.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from newsletter.cli.arguments import File
from newsletter.cli.context import load_settings, project_of
from newsletter.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    Progress,
    error,
    notice,
    print_errors,
    print_figures,
    print_skipped,
    user_errors,
    warn_envelope,
    warning,
)
from newsletter.cli.pull import pull_before_sending
from newsletter.errors import ConfigError, LedgerError, NewsletterError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.delivering.campaign import Campaign
    from newsletter.delivering.loop import Options, RunReport
    from newsletter.delivering.selection import Plan
    from newsletter.ledger import Ledger
    from newsletter.sending.smtp import SMTPSender

Recipients = Annotated[
    Path | None,
    typer.Option("--recipients", "-r", help="Audience CSV (default: the issue's or the setting)."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Build every message into the outbox folder; send nothing.")
]
Tests = Annotated[
    list[str] | None,
    typer.Option(
        "--test", metavar="ADDRESS", help="Send only to this address, subject prefixed [TEST]; repeatable."
    ),
]
TestTeam = Annotated[
    bool, typer.Option("--test-team", help="Send the test to the addresses in NEWSLETTER_TEST_RECIPIENTS.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before a real send (for cron).")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="Send at most N messages this run.")]
RetryFailed = Annotated[
    bool,
    typer.Option("--retry-failed", help="Send again to those refused for good, once the cause is fixed."),
]


def send(
    file: File,
    recipients: Recipients = None,
    dry_run: DryRun = False,
    test: Tests = None,
    test_team: TestTeam = False,
    yes: Yes = False,
    limit: Limit = None,
    retry_failed: RetryFailed = False,
) -> None:
    """Send an issue: --dry-run to the outbox, --test to yourself, or for real to the whole audience.

    A real send can be stopped at any moment (Ctrl-C, a crash, a reboot): run the same command again
    and only those who did not get it yet are sent it. A dry run selects as the real send would.
    With NEWSLETTER_SUPPRESSIONS_URL set, both first fetch the endpoint's unsubscribes, and stop if
    they cannot.
    """
    if dry_run and (test or test_team):
        error(
            f"--dry-run and {'--test' if test else '--test-team'} do different things: a dry run writes "
            "every message to the outbox, a test sends one to you; pass one of them"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    settings = load_settings()
    testing = bool(test) or test_team
    if retry_failed and testing:
        error("--retry-failed is for the real send (or its --dry-run), not for a test send")
        raise typer.Exit(EXIT_BAD_INPUT)
    with user_errors():
        test_addresses = _test_addresses(settings, test or [], test_team)
        campaign = _campaign(settings, file, recipients, for_real=not dry_run)
    print_skipped(campaign.audience)
    if not testing:
        # Before the dry run and the question count, as the real send will: who left is skipped.
        pull_before_sending(settings)
    with user_errors():
        if dry_run:
            _dry_run(campaign, settings, file, recipients, limit, retry_failed)
        sender = settings.smtp_sender()
        if testing:
            _test_send(campaign, sender, settings, test_addresses)
    _real_send(campaign, sender, settings, file, limit, yes=yes, retry_failed=retry_failed)


def _test_addresses(settings: Settings, given: list[str], team: bool) -> list[str]:
    """The --test addresses, then with --test-team those of NEWSLETTER_TEST_RECIPIENTS."""
    if not team:
        return given
    if not settings.test_addresses():
        raise ConfigError(
            "--test-team: set NEWSLETTER_TEST_RECIPIENTS, e.g. me@example.org,colleague@example.org"
        )
    return given + settings.test_addresses()


def _campaign(settings: Settings, file: Path, recipients: Path | None, *, for_real: bool) -> Campaign:
    from newsletter.delivering.campaign import prepare

    return prepare(
        project_of(settings),
        file,
        settings.envelope(for_real=for_real),
        recipients_file=recipients,
        default_recipients=settings.recipients,
        now=dt.datetime.now(dt.UTC),
    )


def _dry_run(
    campaign: Campaign,
    settings: Settings,
    file: Path,
    recipients: Path | None,
    limit: int | None,
    retry_failed: bool,
) -> NoReturn:
    """Write the messages the real send would send now; the real ledger is read, never written."""
    from newsletter.cli.interrupt import stop_on_signals
    from newsletter.delivering.campaign import dry_run as dry_run_send
    from newsletter.delivering.campaign import reading
    from newsletter.delivering.selection import projected

    warn_envelope(settings.envelope_warnings())
    with stop_on_signals(notice) as interrupt, reading(settings.db) as ledger:
        done = dry_run_send(
            campaign,
            settings.outbox,
            settings.options(limit),
            interrupt,
            ledger=ledger,
            retry_failed=retry_failed,
        )
    outbox = done.outbox
    print_figures(f"dry run of {campaign.slug}: nothing was sent", projected(done.plan, done.report.sent))
    written = (
        f"{outbox.count} messages written to {outbox.folder}/, "
        f"{outbox.bytes_written / 1024 / outbox.count:.1f} KB each on average"
        if outbox.count
        else "no messages written"
    )
    typer.echo(f"a real send {done.plan.sentence()}; {written}")
    typer.echo(f"a real send goes {_pace(settings, done.plan.now)}")
    if campaign.envelope.dkim is not None:
        typer.echo(f"signed with {campaign.envelope.dkim.description}, as a real send signs them")
    command = f"newsletter send {file}" + (f" --recipients {recipients}" if recipients else "")
    typer.echo(_after_dry_run(done.plan, command, retry_failed))
    raise typer.Exit(EXIT_OK if done.report.exit_code == 0 else EXIT_FAILED)


def _pace(settings: Settings, messages: int) -> str:
    """The rate and connections a real send keeps to, and whose figures they are (a relay profile)."""
    from newsletter.config import Settings
    from newsletter.config.sources import origins
    from newsletter.delivering.throttle import pace

    came = {origins(Settings).get(name, "default") for name in ("rate", "connections")}
    profiles = sorted(c for c in came if c.startswith("profile "))
    filled = f" (NEWSLETTER_RELAY's {profiles[0]})" if profiles else ""
    return pace(settings.limiter_rate(), settings.connections, messages) + filled


def _after_dry_run(plan: Plan, command: str, retry_failed: bool) -> str:
    """What helps after a dry run: the test then the real send, or, with nobody due, why not."""
    if plan.due == 0:
        if plan.failed:
            refused = f"{plan.failed} were refused for good"
            return f"nobody is due: {refused}: once the cause is fixed, {command} --retry-failed"
        if plan.in_doubt:
            return f"nobody is due: {plan.in_doubt} may or may not have it and are not sent it a third time"
        return "nobody is due: everyone still on the list has it"
    real = f"{command} --retry-failed" if retry_failed else "without --test"
    return f"next: {command} --test you@example.org, then {real}"


def _test_send(campaign: Campaign, sender: SMTPSender, settings: Settings, addresses: list[str]) -> NoReturn:
    """Send the test, saying whose fields it carries and, for each address, what became of it."""
    from newsletter.cli.interrupt import stop_on_signals
    from newsletter.delivering.campaign import send_test

    typer.echo(f"sending a test to {', '.join(addresses)} through {sender.host}:{sender.port}…")
    if campaign.envelope.dkim is not None:
        typer.echo(f"signed with {campaign.envelope.dkim.description}")
    with stop_on_signals(notice) as interrupt:
        result = send_test(campaign, sender, addresses, settings.options(), interrupt=interrupt)
    typer.echo(f"test send of {campaign.slug}, personalised as {result.persona}")
    for problem, line in result.lines():
        if problem:
            error(line)
        else:
            typer.echo(line)
    raise typer.Exit(result.exit_code)


def _real_send(
    campaign: Campaign,
    sender: SMTPSender,
    settings: Settings,
    file: Path,
    limit: int | None,
    *,
    yes: bool,
    retry_failed: bool,
) -> NoReturn:
    """Say what will go to whom, ask (unless --yes), send, and report what the run did."""
    from newsletter.delivering.campaign import next_step
    from newsletter.delivering.schedule import timezone
    from newsletter.ledger import Ledger

    with user_errors():
        options, chosen = _announce_and_ask(campaign, sender, settings, file, limit, yes, retry_failed)
        ledger = Ledger(settings.db)
    with ledger:
        report = _send_live(campaign, sender, ledger, settings, options, chosen.now, retry_failed)
    for line in campaign.warnings:
        warning(line)
    _print_report(report, f"{campaign.slug}: delivery")
    typer.echo(next_step(report, f"newsletter status {file}", timezone(settings.timezone)))
    raise typer.Exit(report.exit_code)


def _announce_and_ask(
    campaign: Campaign,
    sender: SMTPSender,
    settings: Settings,
    file: Path,
    limit: int | None,
    yes: bool,
    retry_failed: bool,
) -> tuple[Options, Plan]:
    """The approval check, then the issue, sender, audience and figures of this run, and the question;
    a draft sent with --yes gets a warning instead."""
    from newsletter.delivering import approval
    from newsletter.delivering.campaign import announcement, plan, reading
    from newsletter.delivering.schedule import timezone

    approved = approval.gate(settings.db, campaign, timezone(settings.timezone), settings.require_approval)
    options = settings.options(limit)
    with reading(settings.db) as known:
        chosen = plan(campaign, known, options, retry_failed=retry_failed)
    for line in announcement(campaign, chosen, file, sender.description):
        typer.echo(line)
    typer.echo(f"pace:       {_pace(settings, chosen.now)}")
    if approved:
        typer.echo(f"approval:   {approved}")
    if not yes:
        if not sys.stdin.isatty():
            error("a real send asks for confirmation; pass --yes to send without asking (cron)")
            raise typer.Exit(EXIT_BAD_INPUT)
        typer.confirm(approval.confirmation(campaign, chosen.now), abort=True)
    elif draft := approval.draft_warning(campaign, chosen.now):
        warning(draft)
    return options, chosen


def _send_live(
    campaign: Campaign,
    sender: SMTPSender,
    ledger: Ledger,
    settings: Settings,
    options: Options,
    total: int,
    retry_failed: bool,
) -> RunReport:
    """The real send under signal handling; a stop for bad settings or a broken ledger says what got out."""
    from newsletter.cli.interrupt import stop_on_signals
    from newsletter.delivering.campaign import send as send_campaign
    from newsletter.delivering.loop import Limiter

    try:
        with stop_on_signals(notice) as interrupt, Progress(total, campaign.slug) as progress:
            return send_campaign(
                campaign,
                sender,
                ledger,
                options=options,
                limiter=Limiter(settings.limiter_rate()),
                on_event=progress,
                interrupt=interrupt,
                retry_failed=retry_failed,
            )
    except NewsletterError as e:
        print_errors(e.lines())
        if not isinstance(e, LedgerError):
            counts = ledger.counts(campaign.slug) if ledger.delivery(campaign.slug) else None
            if counts is not None and counts.sent:
                typer.echo(
                    f"{counts.sent} of {counts.audience} have it; once that is fixed, run the same "
                    f"command again to send to the {counts.open} still due (nobody gets it twice)"
                )
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _print_report(report: RunReport, title: str) -> None:
    """The delivery's figures after the run, what this run did, and every final refusal."""
    from newsletter.delivering.selection import figures

    print_figures(title, figures(report.counts))
    typer.echo(
        f"this run: {report.sent} sent, {report.failed} failed, {report.unknown} unknown, "
        f"{report.retried} retries"
        + (f", {report.recovered} recovered from an interrupted run" if report.recovered else "")
    )
    for email, reply in report.failures:
        typer.secho(f"failed: {email}: {reply}", fg=typer.colors.RED)
