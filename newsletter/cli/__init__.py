"""The `newsletter` command: parses arguments, calls the library, prints. Nothing imports it."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import os
import sys
import time
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from newsletter import __version__
from newsletter.cli.help import PlainCommand, PlainGroup
from newsletter.errors import ConfigError, IssueError, LedgerError, NewsletterError, Problem

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from newsletter.config import Settings
    from newsletter.delivering.campaign import (
        Campaign,
    )
    from newsletter.delivering.loop import Event, Options, RunReport
    from newsletter.ledger import Ledger
    from newsletter.model import Recipient, Rendered
    from newsletter.reading.issues import LoadedIssue
    from newsletter.reading.recipients import Audience
    from newsletter.rendering.project import Project
    from newsletter.sending.smtp import SMTPSender

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

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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


def _err(line: str) -> None:
    typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)


def _say(line: str) -> None:
    typer.secho(line, fg=typer.colors.YELLOW, err=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """A NewsletterError becomes one red line per problem and exit code 2; no traceback."""
    try:
        yield
    except NewsletterError as e:
        for line in e.lines():
            _err(line)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _settings() -> Settings:
    from newsletter.config import load_settings

    with _user_errors():
        return load_settings()


def _project(settings: Settings) -> Project:
    from newsletter.rendering.project import Project

    return Project(
        issues_dir=settings.issues_dir,
        layouts_dir=settings.layouts_dir,
        asset_base_url=settings.asset_base_url,
        archive_url=settings.archive_url,
    )


Files = Annotated[list[Path], typer.Argument(help="Issue files, e.g. issues/2026-01.yaml.")]
File = Annotated[Path, typer.Argument(help="An issue file, e.g. issues/2026-01.yaml.")]


@app.command(cls=PlainCommand, rich_help_panel="Write")
def validate(
    files: Files,
    recipients: Annotated[
        Path | None,
        typer.Option(
            "--recipients", "-r", help="Also check the issues' merge fields against this audience CSV."
        ),
    ] = None,
) -> None:
    """Check issue files: every mistake with its file, line and field. Exit 2 if any."""
    from newsletter.rendering.size import GMAIL_CLIP_BYTES

    project = _project(_settings())
    failed = False
    for path in files:
        try:
            loaded, rendered = project.render(path, audience=True)
            audience = _audience_of(loaded, rendered, recipients) if recipients else None
        except NewsletterError as e:
            failed = True
            for line in e.lines():
                _err(line)
            continue
        if audience is not None:
            _print_skipped(audience)
        size = len(rendered.html.fill(tuple("" for _ in rendered.fields)).encode())
        typer.echo(
            f"ok: {path}: {len(loaded.issue.sections)} sections, HTML {size / 1024:.0f} KB, "
            f"status {loaded.issue.status}"
        )
        if audience is not None:
            typer.echo(
                f"ok: {path} fits {audience.source}: {audience.count} recipients, "
                f"{len(audience.skipped)} rows skipped"
            )
        if size > GMAIL_CLIP_BYTES:
            typer.secho(
                f"warning: {path}: the HTML is over Gmail's {GMAIL_CLIP_BYTES // 1024} KB; Gmail will "
                "hide its end behind 'View entire message'. Shorten it.",
                fg=typer.colors.YELLOW,
            )
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def _audience_of(loaded: LoadedIssue, rendered: Rendered, recipients: Path) -> Audience:
    # The campaign module brings the sending code; only `validate --recipients` needs it.
    from newsletter.delivering.campaign import check_audience

    return check_audience(loaded, rendered, recipients)


@app.command(cls=PlainCommand, rich_help_panel="Write")
def render(
    file: File,
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FOLDER", help="Folder for the results.")
    ] = Path("build"),
) -> None:
    """Render an issue to OUT/<slug>.html, .txt and .eml (the whole message for a sample reader)."""
    from newsletter.composing import message
    from newsletter.model import SAMPLE_RECIPIENT
    from newsletter.rendering.size import GMAIL_CLIP_BYTES

    settings = _settings()
    project = _project(settings)
    with _user_errors():
        loaded, rendered = project.render(file)
        envelope = settings.envelope(for_real=False)
        composer = message.Composer(rendered, envelope, date=dt.datetime.now(dt.UTC))
        outgoing = composer.compose(SAMPLE_RECIPIENT)
    email = message.parse(outgoing.data)
    html_part = email.get_body(("html",))
    text_part = email.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    html = html_part.get_content()
    out.mkdir(parents=True, exist_ok=True)
    targets = {
        "html": out / f"{loaded.slug}.html",
        "txt": out / f"{loaded.slug}.txt",
        "eml": out / f"{loaded.slug}.eml",
    }
    targets["html"].write_text(html, encoding="utf-8")
    targets["txt"].write_text(text_part.get_content().replace("\r\n", "\n"), encoding="utf-8")
    targets["eml"].write_bytes(outgoing.data)
    size = len(html.encode())
    typer.echo(f"rendered {file} for {SAMPLE_RECIPIENT.email}:")
    for kind, path in targets.items():
        typer.echo(f"  {kind:4} {path}")
    typer.echo(f"HTML {size / 1024:.1f} KB of Gmail's {GMAIL_CLIP_BYTES // 1024} KB before it clips")
    if size > GMAIL_CLIP_BYTES:
        typer.secho("warning: Gmail will clip this email; shorten it", fg=typer.colors.YELLOW)
    if not settings.from_:
        typer.echo("(sender and unsubscribe address are examples: set them in .env to send)")
    _warn(settings.envelope_warnings())


def _warn(lines: list[str]) -> None:
    for line in lines:
        typer.secho(f"warning: {line} (a real send refuses it)", fg=typer.colors.YELLOW, err=True)


@app.command(cls=PlainCommand, rich_help_panel="Write")
def new(
    slug: Annotated[str, typer.Argument(help="The new issue's name, e.g. 2026-02.")],
    from_: Annotated[
        Path | None, typer.Option("--from", help="Start from this issue instead of the latest.")
    ] = None,
) -> None:
    """Start the next issue as a draft copy of the latest one (or --from FILE)."""
    project = _project(_settings())
    with _user_errors():
        path = project.new_issue(slug, from_)
    typer.echo(f"created {path} (status: draft); preview it with: newsletter preview {path}")


@app.command(cls=PlainCommand, rich_help_panel="Write")
def schema(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write it; '-' for standard output.")
    ] = Path("issue.schema.json"),
) -> None:
    """Write the JSON Schema of issue files, which editors use to check and complete them."""
    text = issue_schema()
    if str(out) == "-":
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    # Editors resolve the path from the issue file's folder, not from where this command ran.
    issues_dir = _settings().issues_dir
    relative = Path(os.path.relpath(out.resolve(), issues_dir.resolve())).as_posix()
    typer.echo(f"wrote {out}; an issue file in {issues_dir}/ names it on its first line:")
    typer.echo(f"# yaml-language-server: $schema={relative}")


def issue_schema() -> str:
    from newsletter.model import Issue

    document = Issue.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "Newsletter issue"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- sending -------------------------------------------------------------------------------------


def _print_skipped(audience: Audience) -> None:
    for skipped in audience.skipped:
        typer.secho(
            f"skipped {audience.source}:{skipped.line}: {skipped.email or '(empty)'}: {skipped.reason}",
            fg=typer.colors.YELLOW,
            err=True,
        )


def _table(title: str, cells: list[tuple[str, int]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=True, header_style="bold")
    for column, _ in cells:
        table.add_column(column, justify="right")
    table.add_row(*(str(value) for _, value in cells))
    _console().print(table)


def _summary(report: RunReport, title: str) -> None:
    from newsletter.delivering.selection import figures

    _table(title, figures(report.counts))
    typer.echo(
        f"this run: {report.sent} sent, {report.failed} failed, {report.unknown} unknown, "
        f"{report.retried} retries"
        + (f", {report.recovered} recovered from an interrupted run" if report.recovered else "")
    )
    for email, reply in report.failures:
        typer.secho(f"failed: {email}: {reply}", fg=typer.colors.RED)


def _console() -> Console:
    # Piped into a log file, rich would squeeze tables to 80 columns.
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=120)


class _Progress:
    """A progress bar on a terminal; one plain line per message otherwise (cron mail, log files)."""

    def __init__(self, total: int, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.tty = sys.stdout.isatty()
        self.progress: Progress | None = None
        if self.tty and total:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s"),
                TimeRemainingColumn(),
            )
            self.task = self.progress.add_task(label, total=total, rate=0.0)
        self.started = time.monotonic()

    def __enter__(self) -> _Progress:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        if self.progress is not None:
            if event.kind != "retry":
                rate = event.done / max(time.monotonic() - self.started, 1e-6)
                self.progress.update(self.task, completed=event.done, rate=rate)
            return
        stamp = dt.datetime.now().astimezone().strftime("%H:%M:%S")
        typer.echo(f"{stamp} {event.kind:7} {event.email} {event.reply}".rstrip())


@app.command(cls=PlainCommand, rich_help_panel="Send")
def send(
    file: File,
    recipients: Annotated[
        Path | None,
        typer.Option("--recipients", "-r", help="Audience CSV (default: the issue's or the setting)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build every message into the outbox folder; send nothing.")
    ] = False,
    test: Annotated[
        list[str] | None,
        typer.Option(
            "--test",
            metavar="ADDRESS",
            help="Send only to this address, subject prefixed [TEST]; repeatable.",
        ),
    ] = None,
    test_team: Annotated[
        bool,
        typer.Option("--test-team", help="Send the test to the addresses in NEWSLETTER_TEST_RECIPIENTS."),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before a real send (for cron).")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Send at most N messages this run.")
    ] = None,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Send again to those refused for good, once the cause is fixed."),
    ] = False,
) -> None:
    """Send an issue: --dry-run to the outbox, --test to yourself, or for real to the whole audience.

    A real send can be stopped at any moment (Ctrl-C, a crash, a reboot): run the same command again
    and only those who did not get it yet are sent it. A dry run selects as the real send would.
    """
    from newsletter.delivering import approval
    from newsletter.delivering.campaign import announcement, next_step, plan, prepare, reading
    from newsletter.delivering.schedule import timezone
    from newsletter.ledger import Ledger

    settings = _settings()
    project = _project(settings)
    testing = bool(test) or test_team
    if retry_failed and testing:
        _err("--retry-failed is for the real send (or its --dry-run), not for a test send")
        raise typer.Exit(EXIT_BAD_INPUT)
    with _user_errors():
        test_addresses = list(test or [])
        if test_team:
            test_addresses += settings.test_addresses()
            if not settings.test_addresses():
                raise ConfigError(
                    "--test-team: set NEWSLETTER_TEST_RECIPIENTS, e.g. me@example.org,colleague@example.org"
                )
        envelope = settings.envelope(for_real=not dry_run)
        campaign = prepare(
            project,
            file,
            envelope,
            recipients_file=recipients,
            default_recipients=settings.recipients,
            now=dt.datetime.now(dt.UTC),
        )
    _print_skipped(campaign.audience)
    with _user_errors():
        if dry_run:
            _dry_run(campaign, settings, file, recipients, limit, retry_failed)
        sender = settings.smtp_sender()
        if testing:
            _test_send(campaign, sender, settings, test_addresses)
        approved = approval.gate(
            settings.db, campaign, timezone(settings.timezone), settings.require_approval
        )
        options = settings.options(limit)
        with reading(settings.db) as known:
            chosen = plan(campaign, known, options, retry_failed=retry_failed)
        for line in announcement(campaign, chosen, file, sender.description):
            typer.echo(line)
        if approved:
            typer.echo(f"approval:   {approved}")
        if not yes:
            if not sys.stdin.isatty():
                _err("a real send asks for confirmation; pass --yes to send without asking (cron)")
                raise typer.Exit(EXIT_BAD_INPUT)
            typer.confirm(approval.confirmation(campaign, chosen.now), abort=True)
        elif warning := approval.draft_warning(campaign, chosen.now):
            # On stdout with the summary it follows: stderr stays one line per error.
            typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)
        ledger = Ledger(settings.db)
    try:
        report = _send_live(campaign, sender, ledger, settings, options, chosen.now, retry_failed)
    finally:
        ledger.close()
    for warning in campaign.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)
    _summary(report, f"{campaign.slug}: delivery")
    typer.echo(next_step(report, f"newsletter status {file}"))
    raise typer.Exit(report.exit_code)


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

    _warn(settings.envelope_warnings())
    with stop_on_signals(_say) as interrupt, reading(settings.db) as ledger:
        done = dry_run_send(
            campaign,
            settings.outbox,
            settings.options(limit),
            interrupt,
            ledger=ledger,
            retry_failed=retry_failed,
        )
    outbox = done.outbox
    _table(f"dry run of {campaign.slug}: nothing was sent", projected(done.plan, done.report.sent))
    typer.echo(
        f"a real send {done.plan.sentence()}; {outbox.count} messages written to {outbox.folder}/, "
        f"{outbox.bytes_written / 1024 / max(outbox.count, 1):.1f} KB each on average"
    )
    again = f" --recipients {recipients}" if recipients else ""
    typer.echo(f"next: newsletter send {file}{again} --test you@example.org, then without --test")
    raise typer.Exit(EXIT_OK if done.report.exit_code == 0 else EXIT_FAILED)


def _test_send(campaign: Campaign, sender: SMTPSender, settings: Settings, addresses: list[str]) -> NoReturn:
    """Send the test, saying whose fields it carries and, for each address, what became of it."""
    from newsletter.cli.interrupt import stop_on_signals
    from newsletter.delivering.campaign import send_test

    with stop_on_signals(_say) as interrupt:
        result = send_test(campaign, sender, addresses, settings.options(), interrupt=interrupt)
    typer.echo(f"test send of {campaign.slug}, personalised as {result.persona}")
    for problem, line in result.lines():
        if problem:
            _err(line)
        else:
            typer.echo(line)
    raise typer.Exit(result.exit_code)


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
        with stop_on_signals(_say) as interrupt, _Progress(total, campaign.slug) as progress:
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
        for line in e.lines():
            _err(line)
        if not isinstance(e, LedgerError):
            counts = ledger.counts(campaign.slug) if ledger.delivery(campaign.slug) else None
            if counts is not None and counts.sent:
                typer.echo(
                    f"{counts.sent} of {counts.audience} have it; once that is fixed, run the same "
                    f"command again to send to the {counts.open} still due (nobody gets it twice)"
                )
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command(cls=PlainCommand, rich_help_panel="Send")
def status(
    file: Annotated[
        Path | None, typer.Argument(help="An issue file; every issue, draft to sent, if omitted.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Print the failed addresses as CSV.")] = False,
) -> None:
    """Who got an issue and who did not, and why; without FILE, where every issue stands."""
    from newsletter.delivering.schedule import timezone
    from newsletter.ledger import Ledger

    settings = _settings()
    if file is None and not failed:
        _overview(settings)
        return
    if not settings.db.exists():
        typer.echo(f"nothing has been sent yet (no ledger at {settings.db})")
        return
    with _user_errors():
        tz = timezone(settings.timezone)
        ledger = Ledger.for_reading(settings.db)
        try:
            _status(ledger, file, failed, tz)
        finally:
            ledger.close()


def _status(ledger: Ledger, file: Path | None, failed: bool, tz: dt.tzinfo) -> None:
    from rich.table import Table

    from newsletter.delivering.selection import figures
    from newsletter.ledger import Counts

    slugs = [file.stem] if file else [d.issue for d in ledger.deliveries()]
    if failed:
        writer = csv.writer(sys.stdout)
        writer.writerow(["issue", "email", "status", "attempts", "reply"])
        for slug in slugs:
            for state in ("failed", "unknown", "pending"):
                for row in ledger.rows(slug, state):
                    writer.writerow([slug, row.recipient.email, row.status, row.attempts, row.last_reply])
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("issue")
    for column, _ in figures(Counts()):
        table.add_column(column, justify="right")
    table.add_column("finished")
    for slug in slugs:
        delivery = ledger.delivery(slug)
        if delivery is None:
            typer.echo(f"{slug}: not sent yet")
            continue
        finished = (
            delivery.finished_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if delivery.finished_at else "-"
        )
        table.add_row(slug, *(str(v) for _, v in figures(ledger.counts(slug))), finished)
    _console().print(table)
    for slug in slugs:
        for row in ledger.rows(slug, "failed"):
            typer.echo(f"{slug}: failed: {row.recipient.email}: {row.last_reply}")


def _overview(settings: Settings) -> None:
    from rich.table import Table

    from newsletter.delivering import approval
    from newsletter.delivering.overview import overview
    from newsletter.delivering.schedule import timezone
    from newsletter.ledger import Ledger

    with _user_errors():
        tz = timezone(settings.timezone)
        window = settings.window()
        ledger = Ledger.for_reading(settings.db) if settings.db.exists() else None
        try:
            states = overview(_project(settings), ledger, tz, dt.datetime.now(tz), window)
            approvals = approval.status_lines(
                _project(settings), ledger, tz, required=settings.require_approval
            )
        finally:
            if ledger:
                ledger.close()
    if not states:
        typer.echo(f"no issues in {settings.issues_dir}/ yet; start one with: newsletter new 2026-01")
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("issue", "state", "when", "sent", "pending", "unknown", "failed", "subject"):
        table.add_column(column)
    for s in states:
        when = s.finished or s.due
        c = s.counts
        numbers = ("", "", "", "") if c is None else (
            f"{c.sent}/{c.audience - c.skipped}", str(c.pending + c.sending), str(c.unknown), str(c.failed)
        )  # fmt: skip
        table.add_row(
            s.slug,
            s.state,
            when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when else "-",
            *numbers,
            s.note or s.subject,
        )
    _console().print(table)
    for line in approvals:
        typer.echo(line)


@app.command(cls=PlainCommand, rich_help_panel="Send")
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

    settings = _settings()
    with _user_errors():
        tz = timezone(settings.timezone)
        approved = approval.approval_of(
            _project(settings), file, by, settings.recipients, dt.datetime.now(tz)
        )
    with _ledger(settings) as ledger:
        approval.record(ledger, approved)
    for line in approval.summary(approved, file, tz):
        typer.echo(line)


suppress_app = typer.Typer(
    cls=PlainGroup, help="The suppression list: addresses that are never sent to.", no_args_is_help=True
)
app.add_typer(suppress_app, name="suppress", rich_help_panel="Send")


@contextmanager
def _ledger(settings: Settings, *, reading: bool = False) -> Iterator[Ledger]:
    """The ledger for a short command; its errors, also mid-way, are one line and exit 2."""
    from newsletter.ledger import Ledger

    with _user_errors():
        ledger = Ledger.for_reading(settings.db) if reading else Ledger(settings.db)
        try:
            yield ledger
        finally:
            ledger.close()


@suppress_app.command(cls=PlainCommand, name="add")
def suppress_add(
    emails: Annotated[list[str], typer.Argument(metavar="ADDRESSES", help="Addresses to suppress.")],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "by hand",
) -> None:
    """Never send to these addresses again."""
    checked = _checked_addresses(emails)
    with _ledger(_settings()) as ledger:
        added = ledger.suppress(checked, reason, dt.datetime.now(dt.UTC))
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
            _err(f"{where}{email!r} is not a valid address: {e}; nothing was changed")
            raise typer.Exit(EXIT_BAD_INPUT) from None
    return checked


@suppress_app.command(cls=PlainCommand, name="remove")
def suppress_remove(
    email: Annotated[str, typer.Argument(metavar="ADDRESS", help="The address to allow again.")],
) -> None:
    """Allow an address again."""
    (checked,) = _checked_addresses([email])
    with _ledger(_settings()) as ledger:
        removed = ledger.unsuppress(checked)
    typer.echo(f"{checked} {'removed' if removed else 'was not on the list'}")


@suppress_app.command(cls=PlainCommand, name="list")
def suppress_list() -> None:
    """Print the suppression list as CSV."""
    with _ledger(_settings(), reading=True) as ledger:
        listed = ledger.suppressions()
    writer = csv.writer(sys.stdout)
    writer.writerow(["email", "reason", "added_at"])
    writer.writerows(listed)


@suppress_app.command(cls=PlainCommand, name="import")
def suppress_import(
    file: Annotated[Path, typer.Argument(help="A CSV with an email column (e.g. your ESP's unsubscribes).")],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "imported",
) -> None:
    """Suppress every address in a CSV file."""
    from newsletter.reading.recipients import load as load_recipients

    with _user_errors():
        audience = load_recipients(file)
    _print_skipped(audience)
    with _ledger(_settings()) as ledger:
        added = ledger.suppress([r.email for r in audience.recipients], reason, dt.datetime.now(dt.UTC))
    typer.echo(f"{added} of {len(audience.recipients)} addresses added to the suppression list")


# -- preview and archive -------------------------------------------------------------------------


@app.command(cls=PlainCommand, rich_help_panel="Write")
def preview(
    file: File,
    port: Annotated[int, typer.Option(help="Port of the local preview server.")] = 8000,
    host: Annotated[
        str,
        typer.Option(metavar="ADDRESS", help="Address to listen on; the default keeps it on this computer."),
    ] = "127.0.0.1",
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the preview in the browser.")
    ] = True,
    recipients: Annotated[
        Path | None,
        typer.Option("--recipients", "-r", help="Audience CSV whose first rows you can preview as."),
    ] = None,
) -> None:
    """Show an issue in the browser at desktop and phone width, updated every time you save."""
    from newsletter.web.preview import Preview, serve

    settings = _settings()
    project = _project(settings)
    people = _preview_people(file, recipients or settings.recipients)
    with _user_errors():
        sender = settings.envelope(for_real=False).sender
    viewer = Preview(project, file, sender=sender, recipients=people)
    try:
        server = serve(viewer, host, port)
    except OSError as e:
        _err(f"cannot listen on {host}:{port} ({e.strerror}); pass another --port")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    url = f"http://{host}:{server.server_address[1]}/"
    typer.echo(f"previewing {file} at {url} (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(
            f"warning: listening on {host}: others on the network can see the preview, including "
            "the names and addresses of the first subscribers",
            fg=typer.colors.YELLOW,
        )
    for line in viewer.snapshot.errors:
        _err(line)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        viewer.stop()
        server.server_close()


def _preview_people(file: Path, default: Path | None) -> list[Recipient]:
    """The first rows of the issue's audience to personalise the preview with; none if unknown."""
    from newsletter.delivering.campaign import audience_path
    from newsletter.reading.issues import load as load_issue
    from newsletter.reading.recipients import load as load_recipients

    try:
        loaded = load_issue(file)
        source = audience_path(loaded, None, default)
        return list(itertools.islice(load_recipients(source), 10))
    except NewsletterError:
        return []


@app.command(cls=PlainCommand, rich_help_panel="Publish")
def archive(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FOLDER", help="Folder for the web site.")
    ] = Path("site"),
    include_ready: Annotated[
        bool, typer.Option("--include-ready", help="Also publish issues that are ready but not sent yet.")
    ] = False,
) -> None:
    """Write a static web version of every sent issue, with an index page, newest first."""
    from newsletter.ledger import Ledger
    from newsletter.reading.issues import load as load_issue
    from newsletter.web.archive import build as build_archive

    settings = _settings()
    project = _project(settings)
    chosen: list[tuple[Path, str]] = []
    sent: dict[str, str] = {}
    if settings.db.exists():
        with _user_errors():
            ledger = Ledger.for_reading(settings.db)
            try:
                for delivery in ledger.deliveries():
                    if ledger.counts(delivery.issue).sent:
                        sent[delivery.issue] = delivery.started_at.astimezone().date().isoformat()
            finally:
                ledger.close()
    with _user_errors():
        for path in project.issue_files():
            if path.stem in sent:
                chosen.append((path, sent[path.stem]))
            elif include_ready:
                issue = load_issue(path).issue
                if issue.status == "ready" and issue.send_at is not None:
                    chosen.append((path, issue.send_at.date().isoformat()))
        unsubscribe = (settings.unsubscribe_url or "").replace("{token}", "").replace("{email}", "")
        pages = build_archive(project, chosen, out, unsubscribe_page=unsubscribe or "#")
    for page in pages:
        typer.echo(f"  {page.file}  {page.subject}")
    typer.echo(f"wrote {len(pages)} issue(s) and {out / 'index.html'}; upload the folder as it is")


# -- cron ----------------------------------------------------------------------------------------


@app.command(cls=PlainCommand, rich_help_panel="Send")
def dispatch(
    now: Annotated[
        str | None,
        typer.Option(
            "--now", metavar="TIME", help="Act as if it is this time (ISO 8601), to test or catch up."
        ),
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Send at most N messages in this run.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of text.")
    ] = False,
    catch_up: Annotated[
        list[Path] | None,
        typer.Option(
            "--catch-up",
            metavar="FILE",
            help="Send this ready issue even though its send_at is older than NEWSLETTER_DISPATCH_WINDOW; "
            "repeatable.",
        ),
    ] = None,
) -> None:
    """Deliver every ready issue whose send_at has passed; run it from cron every few minutes.

    Resumes unfinished deliveries, keeps the rate and daily limits, and never sends anyone an issue
    twice. Only one dispatch runs at a time; a second one exits at once. An issue further back than
    NEWSLETTER_DISPATCH_WINDOW that the ledger has no record of is not sent but reported (exit 1).
    """
    from newsletter.cli.interrupt import stop_on_signals
    from newsletter.delivering.dispatch import DispatchConfig
    from newsletter.delivering.dispatch import dispatch as run_dispatch
    from newsletter.delivering.loop import Limiter
    from newsletter.delivering.schedule import parse_time, timezone
    from newsletter.ledger import Ledger

    settings = _settings()

    def log(event: str, data: dict[str, object]) -> None:
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        if as_json:
            typer.echo(json.dumps({"time": stamp, "event": event, **data}, ensure_ascii=False))
            return
        words = " ".join(
            str(v) if k in ("issue", "email") else f"{k}={v}"
            for k, v in data.items()
            if v not in (None, "") and k != "message"
        )
        message = data.get("message") or ""
        typer.echo(f"{stamp} {event} {words} {message}".rstrip())

    with _user_errors():
        tz = timezone(settings.timezone)
        moment = parse_time(now, tz) if now else dt.datetime.now(tz)
        config = DispatchConfig(
            envelope=settings.envelope(for_real=True),
            sender=settings.smtp_sender(),
            options=settings.options(),
            limiter=Limiter(settings.limiter_rate()),
            timezone=tz,
            default_recipients=settings.recipients,
            max_messages=max_messages,
            report_to=settings.report_addresses(),
            window=settings.window(),
            catch_up=_catch_up(_project(settings), catch_up or []),
            stale_after=settings.stale_after(),
            require_approval=settings.require_approval,
        )
        ledger = Ledger(settings.db)
        try:
            with stop_on_signals(lambda line: log("signal", {"message": line})) as config.interrupt:
                result = run_dispatch(_project(settings), ledger, config, now=moment, log=log)
        finally:
            ledger.close()
    if not result.delivered and not result.already_running and result.exit_code == 0:
        log("idle", {"message": "nothing is due"})
    raise typer.Exit(result.exit_code)


def _catch_up(project: Project, files: list[Path]) -> frozenset[Path]:
    """The --catch-up files, resolved; each must be an issue file of the project."""
    known = {path.resolve() for path in project.issue_files()}
    for path in files:
        if path.resolve() not in known:
            raise IssueError(
                [Problem(str(path), None, "--catch-up", f"not an issue file in {project.issues_dir}/")]
            )
    return frozenset(path.resolve() for path in files)


def main() -> None:
    app()
