"""The doctor's DMARC findings: the record at _dmarc.<From domain> (or at its organisational domain),
its policy, and what its alignment asks of the envelope sender and the DKIM signature."""

from __future__ import annotations

import re

from newsletter.doctor.alignment import organisational_domain
from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import LookupFailed, Lookups, unchecked

AREA = "DNS"
_VERSION = re.compile(r"v\s*=\s*DMARC1\s*(;|$)")
_POLICIES = ("none", "quarantine", "reject")


def tags(record: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in record.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            found.setdefault(name.strip().lower(), value.strip())
    return found


def dmarc_findings(lookups: Lookups, from_domain: str, *, envelope_domain: str) -> list[Finding]:
    organisational = organisational_domain(from_domain)
    try:
        name, records = f"_dmarc.{from_domain}", _records(lookups, f"_dmarc.{from_domain}")
        if not records and organisational != from_domain:
            name, records = f"_dmarc.{organisational}", _records(lookups, f"_dmarc.{organisational}")
    except LookupFailed as e:
        return [unchecked(AREA, f"DMARC of {from_domain}", e)]
    if len(records) != 1:
        return [_missing(from_domain, organisational, name, len(records))]
    return _policy_findings(
        name, records[0], from_domain, envelope_domain, subdomain=name != f"_dmarc.{from_domain}"
    )


def _records(lookups: Lookups, name: str) -> list[str]:
    return [value for value in lookups.txt(name).values if _VERSION.match(value)]


def _missing(from_domain: str, organisational: str, name: str, records: int) -> Finding:
    if records:
        return Finding.error(
            AREA,
            f"DMARC of {from_domain}: {records} v=DMARC1 records at {name}; receivers then apply none, "
            "and Gmail, Yahoo and Outlook.com refuse bulk mail without DMARC",
            f"keep one TXT record at {name} and delete the others",
        )
    return Finding.error(
        AREA,
        f"DMARC of {from_domain}: no record at _dmarc.{from_domain}"
        + (f" nor at _dmarc.{organisational}" if organisational != from_domain else "")
        + "; Gmail, Yahoo and Outlook.com refuse bulk mail without DMARC",
        f'add a TXT record at _dmarc.{organisational}: "v=DMARC1; p=none; rua=mailto:dmarc@{organisational}" '
        "(then tighten p= once the reports show all your mail passing)",
    )


def _policy_findings(
    name: str, record: str, from_domain: str, envelope_domain: str, *, subdomain: bool
) -> list[Finding]:
    where = f"DMARC of {from_domain} ({name})"
    found = tags(record)
    policy = found.get("sp", found.get("p")) if subdomain else found.get("p")
    policy_tag = "sp" if subdomain and "sp" in found else "p"
    findings: list[Finding] = []
    if found.get("p", "").lower() not in _POLICIES or found.get("sp", "none").lower() not in _POLICIES:
        return [
            Finding.error(
                AREA,
                f"{where}: {record!r} has no valid p= (none, quarantine or reject), so receivers may "
                "ignore it",
                f"write p=none, p=quarantine or p=reject in the TXT record at {name}",
            )
        ]
    assert policy is not None
    if policy.lower() == "none":
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: {policy_tag}=none meets Gmail's and Yahoo's requirement but protects nobody "
                f"from mail forged in the name of {from_domain}",
                f"once the rua reports show your mail passing, change {policy_tag}=none to "
                f"{policy_tag}=quarantine, "
                f"later {policy_tag}=reject, in the TXT record at {name}",
            )
        )
    elif found.get("pct", "100") != "100":
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: pct={found['pct']}: the {policy_tag}={policy} policy applies to only that share "
                "of the mail that fails",
                f"remove pct= (or write pct=100) in the TXT record at {name}",
            )
        )
    if "rua" not in found:
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: no rua=, so no receiver sends you reports of who sends as {from_domain}",
                f"add rua=mailto:ADDRESS (a mailbox that reads aggregate reports) to the TXT record "
                f"at {name}",
            )
        )
    findings += _alignment(where, name, found, from_domain, envelope_domain)
    if not any(f.fix for f in findings):
        findings.insert(0, Finding.ok(AREA, f"{where}: {record}"))
    return findings


def _alignment(
    where: str, name: str, found: dict[str, str], from_domain: str, envelope_domain: str
) -> list[Finding]:
    strict = found.get("aspf", "r").lower() == "s"
    aligned = (
        envelope_domain == from_domain
        if strict
        else (organisational_domain(envelope_domain) == organisational_domain(from_domain))
    )
    findings: list[Finding] = []
    if not aligned:
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: the envelope sender's domain {envelope_domain} does not align with {from_domain}"
                + (" (aspf=s: strict)" if strict else "")
                + ", so SPF cannot pass DMARC; only DKIM can",
                "use a NEWSLETTER_BOUNCE_ADDRESS at "
                + (from_domain if strict else organisational_domain(from_domain))
                + ", or make sure the relay signs with DKIM for "
                + from_domain,
            )
        )
    if found.get("adkim", "r").lower() == "s":
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: adkim=s (strict): the relay's DKIM signature must have d={from_domain} exactly, "
                "not a parent domain nor the provider's",
                f"check the relay signs with d={from_domain}, or remove "
                f"adkim=s from the TXT record at {name}",
            )
        )
    return findings
