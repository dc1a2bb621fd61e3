"""An SPF record followed through its includes and redirects as a receiver would evaluate it, without
a message: the DNS lookups it costs (RFC 7208 section 4.6.4), the void lookups, the domains reached,
the networks it lists, and what makes it a permerror."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from newsletter.doctor.lookups import Lookups
from newsletter.doctor.spf_record import LOOKUP_TERMS, Record, Term, parse, spf_records

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Past this many lookups the evaluation has failed anyway; deeper includes are not followed.
_FOLLOW_UNTIL = 30
_MX_HOSTS = 10


@dataclass
class Walk:
    domain: str
    records: int = 0  # v=spf1 records at the domain itself
    record: Record | None = None
    lookups: int = 0
    costs: list[tuple[str, int]] = field(default_factory=list)  # lookups of each term at the top
    voids: list[str] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)  # domains reached through include: and redirect=
    problems: list[str] = field(default_factory=list)  # permerrors, each naming where
    ignored: list[str] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    plus_all: list[str] = field(default_factory=list)  # domains whose record ends in +all
    ptr: list[str] = field(default_factory=list)
    macros: list[str] = field(default_factory=list)
    all_qualifier: str | None = None  # of the record in force at the top, after redirect=
    redirected: bool = False


def walk(lookups: Lookups, domain: str) -> Walk:
    """The SPF of `domain` followed to the end. Raises LookupFailed when the DNS does not answer."""
    found = Walk(domain)
    values = spf_records(lookups.txt(domain).values)
    found.records = len(values)
    if len(values) != 1:
        return found
    found.record = parse(values[0])
    found.all_qualifier = _follow(lookups, found, domain, found.record, [domain], top=True)
    return found


def _follow(
    lookups: Lookups, found: Walk, domain: str, record: Record, stack: list[str], *, top: bool
) -> str | None:
    """Walks one record; the qualifier of its `all` (or that of the record it redirects to)."""
    found.problems += [f"{problem} (in the SPF of {domain})" for problem in record.problems]
    found.ignored += record.ignored
    qualifier = record.all_qualifier()
    if qualifier == "+":
        found.plus_all.append(domain)
    for term in record.mechanisms():
        before = found.lookups
        _mechanism(lookups, found, domain, term, stack)
        if top and found.lookups > before:
            found.costs.append((term.text, found.lookups - before))
    redirect = record.modifier("redirect")
    if redirect is None or qualifier is not None:  # an `all` makes redirect= void (section 6.1)
        return qualifier
    before = found.lookups
    target = _nested(lookups, found, redirect, stack, "redirect=")
    if top:
        found.redirected = True
        found.costs.append((redirect.text, found.lookups - before))
    return target


def _mechanism(lookups: Lookups, found: Walk, domain: str, term: Term, stack: list[str]) -> None:
    if term.name in LOOKUP_TERMS and term.macro:
        found.lookups += 1
        found.macros.append(term.text)
        return
    if term.name == "include":
        _nested(lookups, found, term, stack, "include:")
    elif term.name in ("a", "mx"):
        found.lookups += 1
        _addresses(lookups, found, term, term.domain or domain)
    elif term.name == "ptr":
        found.lookups += 1
        found.ptr.append(domain)
    elif term.name == "exists":
        found.lookups += 1
        if not lookups.ask(term.domain or domain, "A").values:
            found.voids.append(term.text)
    elif term.network is not None:
        found.networks.append(term.network)


def _nested(lookups: Lookups, found: Walk, term: Term, stack: list[str], how: str) -> str | None:
    """Follows include: or redirect= to `term.domain`; the qualifier of the `all` found there."""
    found.lookups += 1
    target = term.domain or ""
    if term.macro:
        found.macros.append(term.text)
        return None
    found.reached.append(target)
    if target in stack:
        found.problems.append(f"{how}{target} leads back to itself (a loop)")
        return None
    if found.lookups > _FOLLOW_UNTIL:
        return None
    answer = lookups.txt(target)
    values = spf_records(answer.values)
    if not answer.exists or not answer.values:
        found.voids.append(f"{how}{target}")
    if len(values) != 1:
        many = "more than one SPF record" if values else "no SPF record"
        found.problems.append(f"{how}{target}: {target} has {many}")
        return None
    return _follow(lookups, found, target, parse(values[0]), [*stack, target], top=False)


def _addresses(lookups: Lookups, found: Walk, term: Term, name: str) -> None:
    if term.name == "a":
        hosts = [name]
    else:
        exchanges = lookups.mx(name)
        if len(exchanges) > _MX_HOSTS:
            found.problems.append(f"{term.text}: {name} has {len(exchanges)} MX hosts, more than SPF's 10")
        hosts = [host for _, host in exchanges[:_MX_HOSTS] if host]
        if not hosts:
            found.voids.append(term.text)
            return
    addresses = [address for host in hosts for address in lookups.addresses(host)]
    if term.name == "a" and not addresses:
        found.voids.append(term.text)
    for address in addresses:
        ip = ipaddress.ip_address(address)
        length = term.cidr4 if ip.version == 4 else term.cidr6
        found.networks.append(ipaddress.ip_network(f"{ip}/{length}", strict=False))
