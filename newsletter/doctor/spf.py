"""The doctor's SPF findings for a domain: one record, SPF syntax, at most 10 DNS lookups and 2 void
lookups, an `all` that refuses strangers, and the relay's servers covered (its include, or the
addresses of the SMTP host)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import LookupFailed, Lookups, unchecked
from newsletter.doctor.spf_walk import Walk, walk

AREA = "DNS"
_LIMIT = 10
_VOID_LIMIT = 2


@dataclass(frozen=True)
class Relay:
    """Whose servers the SPF must cover: a provider's include(s), or else the SMTP host."""

    title: str | None = None  # "Microsoft 365"
    includes: tuple[str, ...] = ()
    host: str | None = None  # NEWSLETTER_SMTP_HOST


def spf_findings(lookups: Lookups, domain: str, *, role: str, relay: Relay | None) -> list[Finding]:
    """The SPF of `domain`, described as `role` (e.g. "the From domain"); `relay` None: not checked for
    the relay's servers (a domain receivers do not check SPF on)."""
    where = f"SPF of {domain} ({role})"
    try:
        found = walk(lookups, domain)
        if found.record is None:
            return [_missing(where, domain, found.records, relay)]
        findings = _record_findings(where, domain, found)
        if relay is not None:
            findings += _relay_findings(lookups, where, domain, found, relay)
    except LookupFailed as e:
        return [unchecked(AREA, f"SPF of {domain} ({role})", e)]
    if not any(f.fix for f in findings):
        findings.insert(
            0,
            Finding.ok(AREA, f"{where}: {found.record.text} ({_counted(found.lookups, 'DNS lookup')} of 10)"),
        )
    return findings


def _counted(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _missing(where: str, domain: str, records: int, relay: Relay | None) -> Finding:
    if records:
        return Finding.error(
            AREA,
            f"{where}: {records} v=spf1 TXT records; receivers treat that as a permerror and SPF fails",
            f"merge them into one TXT record at {domain} and delete the others",
        )
    includes = f"include:{relay.includes[0]}" if relay and relay.includes else ""
    record = f"v=spf1 {includes} -all" if includes else "v=spf1 include:NAME ~all"
    return Finding.error(
        AREA,
        f"{where}: no SPF record; Gmail, Yahoo and Outlook.com refuse or junk bulk mail without one",
        f'add a TXT record at {domain}: "{record}"'
        + ("" if includes else ", NAME being the include your relay's provider documents (or ip4:ADDRESS)"),
    )


def _record_findings(where: str, domain: str, found: Walk) -> list[Finding]:
    findings = [
        Finding.error(
            AREA,
            f"{where}: {problem}; receivers treat the record as a permerror",
            f"correct the TXT record at {domain} (RFC 7208 section 5 lists the mechanisms)",
        )
        for problem in found.problems
    ]
    if found.ignored:
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: receivers ignore {', '.join(found.ignored)} (not an SPF modifier)",
                f"correct the spelling (redirect=, exp=) or remove it from the TXT record at {domain}",
            )
        )
    if found.lookups > _LIMIT:
        costs = ", ".join(f"{term} {n}" for term, n in found.costs if n)
        findings.append(
            Finding.error(
                AREA,
                f"{where}: {found.lookups} DNS lookups through its includes ({costs}); receivers stop at 10 "
                "and SPF fails (permerror)",
                f"at {domain}, remove includes of services you no longer send with, and replace a, mx and "
                "includes you control by their ip4:/ip6: addresses, until 10 lookups are left",
            )
        )
    if len(found.voids) > _VOID_LIMIT:
        findings.append(
            Finding.error(
                AREA,
                f"{where}: {len(found.voids)} void lookups, names without records "
                f"({', '.join(found.voids)}); receivers allow 2 and then fail SPF (permerror)",
                f"remove those terms from the TXT record at {domain}, or publish the names",
            )
        )
    findings += _all_findings(where, domain, found)
    if found.ptr:
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: uses ptr (in the SPF of {', '.join(found.ptr)}), deprecated by RFC 7208 and "
                "ignored or penalised by some receivers",
                "replace ptr by the ip4:/ip6: addresses it stood for",
            )
        )
    return findings


def _all_findings(where: str, domain: str, found: Walk) -> list[Finding]:
    findings: list[Finding] = []
    if found.plus_all:
        findings.append(
            Finding.error(
                AREA,
                f"{where}: +all (in the SPF of {', '.join(found.plus_all)}) lets anyone send as {domain}; "
                "receivers distrust such a record",
                f"end the TXT record at {domain} in -all or ~all instead",
            )
        )
    if found.all_qualifier == "?":
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: ?all says nothing about servers not listed (neutral)",
                f"end the TXT record at {domain} in ~all (or -all once every sender is listed)",
            )
        )
    elif found.all_qualifier is None and not found.redirected and not found.macros:
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: no all and no redirect=: servers not listed get a neutral result",
                f"end the TXT record at {domain} in ~all (or -all once every sender is listed)",
            )
        )
    return findings


def _relay_findings(lookups: Lookups, where: str, domain: str, found: Walk, relay: Relay) -> list[Finding]:
    if relay.includes:
        # A profile may name several includes that each cover its servers (Brevo's current one and
        # that of older Sendinblue accounts): one of them is enough.
        reached = [name for name in relay.includes if name in found.reached]
        if reached:
            return [Finding.ok(AREA, f"{where}: includes {reached[0]} for {relay.title}")]
        wanted = relay.includes[0]
        return [
            Finding.error(
                AREA,
                f"{where}: does not include {wanted}, so {relay.title}'s servers fail SPF",
                f"add include:{wanted} before the all in the TXT record at {domain}",
            )
        ]
    if relay.host is None:
        return [
            Finding.warning(
                AREA,
                f"{where}: no relay is set, so whose servers it must cover is unknown",
                "set NEWSLETTER_RELAY (a provider) or NEWSLETTER_SMTP_HOST and run doctor again",
            )
        ]
    return [_host_finding(lookups, where, domain, found, relay.host)]


def _host_finding(lookups: Lookups, where: str, domain: str, found: Walk, host: str) -> Finding:
    """Whether the SMTP host's addresses are listed: a warning at most, as the server mail is handed
    to need not be the one it leaves from."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(a) for a in lookups.addresses(host)]
    covered = [a for a in addresses if any(a.version == n.version and a in n for n in found.networks)]
    shown = ", ".join(map(str, addresses)) or "no address"
    if covered:
        return Finding.ok(AREA, f"{where}: lists NEWSLETTER_SMTP_HOST {host} ({shown})")
    return Finding.warning(
        AREA,
        f"{where}: should cover the servers of the relay NEWSLETTER_SMTP_HOST={host}; its address "
        f"({shown}) is not among the record's ip4/ip6/a/mx (mail may leave from other addresses)",
        f"add the include: or ip4:/ip6: your relay's provider documents to the TXT record at {domain}, "
        "or set NEWSLETTER_RELAY to its profile",
    )
