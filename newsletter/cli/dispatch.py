"""`newsletter dispatch`, which cron runs every few minutes: every ready issue that is due, delivered.

It logs one line per event (`--json`: one JSON object), for a log file or the journal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.context import load_settings, project_of
from newsletter.cli.output import user_errors
from newsletter.errors import IssueError, Problem

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.delivering.dispatch import DispatchConfig
    from newsletter.rendering.project import Project

Log = Callable[[str, dict[str, object]], None]

Now = Annotated[
    str | None,
    typer.Option("--now", metavar="TIME", help="Act as if it is this time (ISO 8601), to test or catch up."),
]
MaxMessages = Annotated[int | None, typer.Option("--max", min=1, help="Send at most N messages in this run.")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line instead of text.")]
CatchUp = Annotated[
    list[Path] | None,
    typer.Option(
        "--catch-up",
        metavar="FILE",
        help="Send this ready issue even though its send_at is older than NEWSLETTER_DISPATCH_WINDOW; "
        "repeatable.",
    ),
]


def dispatch(
    now: Now = None, max_messages: MaxMessages = None, as_json: AsJson = False, catch_up: CatchUp = None
) -> None:
    """Deliver every ready issue whose send_at has passed; run it from cron every few minutes.

    Resumes unfinished deliveries, keeps the rate and daily limits, and never sends anyone an issue
    twice. Only one dispatch runs at a time; a second one exits at once. An issue further back than
    NEWSLETTER_DISPATCH_WINDOW that the ledger has no record of is not sent but reported (exit 1).

    With a bounce mailbox set (NEWSLETTER_IMAP_HOST or NEWSLETTER_MAILDIR) it reads that first, as
    `newsletter mailbox` does; if that fails, the sending goes on and the run exits 1.

    With NEWSLETTER_SUPPRESSIONS_URL set, the endpoint's unsubscribes are fetched before the first
    message; if that fails, nothing is sent in that run (exit 2).
    """
    from newsletter.cli.interrupt import stop_on_signals
    from newsletter.cli.mailbox import mailbox_first
    from newsletter.delivering.dispatch import dispatch as run_dispatch
    from newsletter.delivering.schedule import parse_time, timezone
    from newsletter.ledger import Ledger

    settings = load_settings()
    log = _event_printer(as_json)
    with user_errors():
        tz = timezone(settings.timezone)
        moment = parse_time(now, tz) if now else dt.datetime.now(tz)
        config = _dispatch_config(settings, tz, max_messages, catch_up or [])
        with (
            Ledger(settings.db) as ledger,
            stop_on_signals(lambda line: log("signal", {"message": line})) as config.interrupt,
        ):
            read = mailbox_first(settings, ledger, moment, log)
            result = run_dispatch(project_of(settings), ledger, config, now=moment, log=log)
    if not result.delivered and not result.already_running and result.exit_code == 0:
        log("idle", {"message": "nothing is due"})
    raise typer.Exit(max(result.exit_code, read))


def _event_printer(as_json: bool) -> Log:
    """A log line per event, stamped with the local time: words for a person, or a JSON object."""

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

    return log


def _dispatch_config(
    settings: Settings, tz: dt.tzinfo, max_messages: int | None, catch_up: list[Path]
) -> DispatchConfig:
    from newsletter.cli.pull import dispatch_refresh
    from newsletter.delivering.dispatch import DispatchConfig
    from newsletter.delivering.loop import Limiter

    return DispatchConfig(
        envelope=settings.envelope(for_real=True),
        sender=settings.smtp_sender(),
        options=settings.options(),
        limiter=Limiter(settings.limiter_rate()),
        timezone=tz,
        default_recipients=settings.recipients,
        max_messages=max_messages,
        report_to=settings.report_addresses(),
        window=settings.window(),
        catch_up=_catch_up(project_of(settings), catch_up),
        stale_after=settings.stale_after(),
        require_approval=settings.require_approval,
        refresh=dispatch_refresh(settings),
    )


def _catch_up(project: Project, files: list[Path]) -> frozenset[Path]:
    """The --catch-up files, resolved; each must be an issue file of the project."""
    known = {path.resolve() for path in project.issue_files()}
    for path in files:
        if path.resolve() not in known:
            raise IssueError(
                [Problem(str(path), None, "--catch-up", f"not an issue file in {project.issues_dir}/")]
            )
    return frozenset(path.resolve() for path in files)
