"""`newsletter doctor`: checks the From domain's DNS, the relay and a round trip, and says what to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.context import load_settings
from newsletter.cli.output import EXIT_FAILED, EXIT_OK, user_errors

if TYPE_CHECKING:
    from newsletter.composing.message import Envelope, Outgoing
    from newsletter.config import Settings
    from newsletter.doctor.findings import Finding


def doctor(
    to: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Where the round-trip message goes; default the bounce mailbox's address, read back.",
        ),
    ] = None,
    no_send: Annotated[
        bool, typer.Option("--no-send", help="Check DNS and the relay only; send no message.")
    ] = False,
    wait: Annotated[
        int, typer.Option(min=1, metavar="N", help="Seconds to wait for the round-trip message to arrive.")
    ] = 120,
) -> None:
    """Check, before the first send and whenever mail goes missing, what decides whether Gmail, Yahoo
    and Outlook.com take the mail and show its unsubscribe button: the From domain's SPF, DMARC and DKIM
    records, the relay (connection, TLS, login, From address), and one real message sent through the
    relay and read back from the bounce mailbox, whose signature and headers are checked.

    Each finding says what to change and where. Exit 1 when something would make mail be refused.
    """
    settings = load_settings()
    findings: list[Finding] = []
    with user_errors():
        _check_settings(settings, to)  # a mistake in the settings or --to stops before any finding
        findings += _show(_dns_findings(settings))
        relay = _show(_relay_findings(settings, to))
        findings += relay
        if not no_send:
            findings += _show(_round_trip_findings(settings, to, wait, relay_failed=_failed(relay)))
    typer.echo(_summary(findings))
    raise typer.Exit(EXIT_FAILED if _failed(findings) else EXIT_OK)


def _check_settings(settings: Settings, to: str | None) -> None:
    """What every part needs, in the order a person fixes it: --to, From, then what the message the
    relay check and the round trip compose needs (NEWSLETTER_UNSUBSCRIBE_URL, NEWSLETTER_SECRET), and
    the relay's settings."""
    if to:
        from newsletter.config.checks import address_setting

        address_setting("--to", to, display_name=False, example="reader@example.com")
    _from_domain(settings)
    settings.envelope(for_real=True)
    settings.smtp_sender()


def _summary(findings: list[Finding]) -> str:
    from newsletter.doctor.findings import Level

    errors = sum(f.level is Level.ERROR for f in findings)
    warnings = sum(f.level is Level.WARNING for f in findings)
    unchecked = sum(not f.checked for f in findings)
    return f"{errors} error(s), {warnings} warning(s)" + (
        f"; {unchecked} of them NOT checked (a lookup failed): this is no pass, run doctor again"
        if unchecked
        else ""
    )


def _show(findings: list[Finding]) -> list[Finding]:
    """Each finding as it comes: a round trip waits, and the DNS findings are worth reading meanwhile."""
    from newsletter.doctor.findings import Level

    marks = {Level.OK: ("ok", typer.colors.GREEN), Level.WARNING: ("warning", typer.colors.YELLOW)}
    for finding in findings:
        mark, colour = marks.get(finding.level, ("error", typer.colors.RED))
        typer.secho(f"{mark:>7}  {finding.area}: {finding.what}", fg=colour)
        if finding.fix:
            typer.echo(f"         fix: {finding.fix}")
    return findings


def _dns_findings(settings: Settings) -> list[Finding]:
    """SPF, DMARC and DKIM of the From domain (and the envelope sender's)."""
    from newsletter.config.checks import bounce_address_setting
    from newsletter.doctor.dns import DnsSetup, dns_findings
    from newsletter.doctor.spf import Relay

    from_domain = _from_domain(settings)
    bounce = bounce_address_setting(settings.bounce_address) if settings.bounce_address else None
    profile = settings.relay_profile()
    relay = Relay(
        title=profile.title if profile else None,
        includes=profile.spf_include if profile else (),
        host=settings.smtp_host or (profile.host if profile else None),
    )
    setup = DnsSetup(
        from_domain=from_domain,
        envelope_domain=bounce.rpartition("@")[2] if bounce else from_domain,
        relay=relay,
        dkim_selector=settings.dkim_selector,
        dkim_domain=settings.dkim_domain.strip().rstrip(".").lower() if settings.dkim_domain else None,
        dkim_key_file=settings.dkim_key_file,
        dns_server=settings.dns_server,
    )
    return dns_findings(setup)


def _from_domain(settings: Settings) -> str:
    from email.utils import parseaddr

    from newsletter.config.checks import address_setting
    from newsletter.errors import ConfigError

    if not settings.from_:
        raise ConfigError(
            "set NEWSLETTER_FROM (e.g. Newsletter <newsletter@example.org>): doctor checks its domain"
        )
    return parseaddr(address_setting("NEWSLETTER_FROM", settings.from_))[1].rpartition("@")[2]


def _failed(findings: list[Finding]) -> bool:
    from newsletter.doctor.findings import Level

    return any(f.level is Level.ERROR for f in findings)


def _trip(settings: Settings, to: str | None) -> tuple[Envelope, Outgoing, str]:
    """The round-trip message (its token, and so its envelope sender, made here) and the envelope."""
    import datetime as dt

    from newsletter.config.checks import address_setting
    from newsletter.doctor.round_trip import doctor_message, new_token, round_trip_address

    envelope = settings.envelope(for_real=True)
    token = new_token()
    address = address_setting("--to", to, display_name=False, example="reader@example.com") if to else None
    message = doctor_message(
        envelope, round_trip_address(envelope, address, token), token, dt.datetime.now(dt.UTC)
    )
    return envelope, message, token


def _relay_findings(settings: Settings, to: str | None) -> list[Finding]:
    """Connection, TLS and certificate, login, and the From address accepted."""
    from email.utils import parseaddr

    from newsletter.doctor.relay import RelayCheck, relay_findings

    envelope, message, _ = _trip(settings, to)
    check = RelayCheck(
        sender=settings.smtp_sender(),
        envelope_from=message.envelope_from,
        from_address=parseaddr(envelope.sender)[1],
        recipient=message.recipient.email,
        issue_size=lambda: _issue_size(settings),
    )
    return relay_findings(check)


def _issue_size(settings: Settings) -> int | None:
    """The size of the newest issue's message, as `render` and `validate` report it, or None when
    there is none that renders."""
    import datetime as dt

    from newsletter.cli.context import project_of
    from newsletter.composing.files import message_size
    from newsletter.errors import NewsletterError

    project = project_of(settings)
    latest = project.latest_issue()
    if latest is None:
        return None
    try:
        envelope = settings.envelope(for_real=False, sign=False)
        return message_size(project.render(latest)[1], envelope, date=dt.datetime.now(dt.UTC))
    except NewsletterError:
        return None


def _round_trip_findings(
    settings: Settings, to: str | None, wait: int, *, relay_failed: bool
) -> list[Finding]:
    """One real message through the relay, read back over IMAP and checked."""
    from email.utils import parseaddr

    from newsletter.doctor.alignment import domain_of
    from newsletter.doctor.findings import Finding
    from newsletter.doctor.lookups import Lookups
    from newsletter.doctor.round_trip import AREA, RoundTrip, not_readable, round_trip_findings

    envelope, message, token = _trip(settings, to)
    if relay_failed:
        return [Finding.warning(AREA, "not sent: the relay check failed", "the relay's findings above")]
    mailbox = settings.mailbox_source()
    if mailbox is None:
        return [not_readable(message.recipient.email)]
    trip = RoundTrip(
        sender=settings.smtp_sender(),
        message=message,
        token=token,
        mailbox=mailbox,
        from_domain=domain_of(parseaddr(envelope.sender)[1]),
        wait=wait,
        lookups=Lookups.of(settings.dns_server),
        selector=settings.dkim_selector,
    )
    return round_trip_findings(trip)
