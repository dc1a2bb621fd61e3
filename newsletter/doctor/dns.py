"""The doctor's DNS part: what receivers look up about the From domain and the envelope sender's before
they take a message (SPF, DMARC, the DKIM key, whether the domains receive mail), each finding saying
which record to add or change, and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.doctor.dkim_key import dkim_findings
from newsletter.doctor.dmarc import dmarc_findings
from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import LookupFailed, Lookups, unchecked
from newsletter.doctor.spf import Relay, spf_findings

AREA = "DNS"


@dataclass(frozen=True)
class DnsSetup:
    """What the settings say, as plain values: the doctor reads no settings itself."""

    from_domain: str
    envelope_domain: str  # NEWSLETTER_BOUNCE_ADDRESS's domain, or the From domain
    relay: Relay
    dkim_selector: str | None = None
    dkim_domain: str | None = None  # NEWSLETTER_DKIM_DOMAIN; None: the From domain
    dkim_key_file: Path | None = None
    dns_server: str | None = None  # NEWSLETTER_DNS_SERVER; None: the system's resolvers


def dns_findings(setup: DnsSetup, *, timeout: float = 5.0) -> list[Finding]:
    lookups = Lookups.of(setup.dns_server, timeout=timeout)
    findings: list[Finding] = []
    if setup.envelope_domain != setup.from_domain:
        role = "the envelope sender's domain, NEWSLETTER_BOUNCE_ADDRESS: receivers check SPF here"
        findings += spf_findings(lookups, setup.envelope_domain, role=role, relay=setup.relay)
        findings += spf_findings(lookups, setup.from_domain, role="the From domain", relay=None)
    else:
        role = "the From domain, also the envelope sender's"
        findings += spf_findings(lookups, setup.from_domain, role=role, relay=setup.relay)
    findings += dmarc_findings(lookups, setup.from_domain, envelope_domain=setup.envelope_domain)
    dkim_domain = setup.dkim_domain or setup.from_domain
    findings += dkim_findings(lookups, setup.dkim_selector, dkim_domain, setup.dkim_key_file)
    for domain in dict.fromkeys((setup.from_domain, setup.envelope_domain)):
        findings.append(receives_mail(lookups, domain, bounces=domain == setup.envelope_domain))
    return findings


def receives_mail(lookups: Lookups, domain: str, *, bounces: bool = False) -> Finding:
    """Whether `domain` has an MX (or an address): receivers refuse mail from a domain that could not
    take the replies and bounces, and Gmail and Outlook.com refuse a domain that does not exist."""
    where = f"mail to {domain}"
    fix = f"add an MX record at {domain} naming the server that receives its mail (e.g. 10 mx.{domain})"
    try:
        exchanges = lookups.mx(domain)
        if exchanges == [(0, "")] or exchanges == [(0, ".")]:
            return Finding.error(
                AREA,
                f"{where}: a null MX says {domain} takes no mail, so receivers may "
                "refuse mail from it and bounces cannot return",
                fix.replace("add", "put"),
            )
        hosts = [host.rstrip(".").lower() for _, host in exchanges]
        if bounces and hosts and all(host.endswith(".amazonses.com") for host in hosts):
            # A custom MAIL FROM domain of Amazon SES: its MX takes SES's feedback, no mailbox's mail.
            return Finding.error(
                AREA,
                f"{where}: its MX is Amazon SES's ({', '.join(hosts)}), so the bounces sent to "
                "NEWSLETTER_BOUNCE_ADDRESS never reach a mailbox that `newsletter mailbox` reads",
                "set NEWSLETTER_BOUNCE_ADDRESS to an address of a mailbox at your own domain (e.g. "
                "bounces@ the From domain): SES forwards the bounces there; keep this domain as SES's "
                "custom MAIL FROM",
            )
        if exchanges:
            return Finding.ok(AREA, f"{where}: MX {', '.join(host for _, host in exchanges)}")
        if lookups.addresses(domain):
            return Finding.warning(
                AREA,
                f"{where}: no MX record, only an address record; mail to {domain} "
                "goes to that host, which may not take it",
                fix,
            )
        exists = lookups.txt(domain).exists
    except LookupFailed as e:
        return unchecked(AREA, f"whether {domain} receives mail", e)
    state = "has no MX nor address record" if exists else "does not exist in DNS"
    return Finding.error(
        AREA,
        f"{where}: {domain} {state}, so receivers refuse its mail as undeliverable for replies and bounces",
        fix,
    )
