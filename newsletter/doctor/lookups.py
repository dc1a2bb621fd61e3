"""The DNS answers the doctor's checks need: each name and type asked once, and a server that fails
(SERVFAIL) or stays silent (a timeout) turned into LookupFailed, which names what could not be looked up.

A check whose lookup failed was not made, and a domain nobody checked is no pass: `unchecked` makes it
an error, so that the run exits 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from newsletter.doctor.findings import Finding
from newsletter.doctor.resolver import make_resolver
from newsletter.errors import ConfigError


@dataclass(frozen=True)
class Answer:
    name: str
    canonical: str  # where CNAMEs led, also when the target has no record; the name itself without one
    values: tuple[str, ...]
    exists: bool  # False for NXDOMAIN


class LookupFailed(Exception):
    def __init__(self, name: str, kind: str, why: str, *, answered: bool) -> None:
        super().__init__(f"{kind} of {name}: {why}")
        self.name = name
        self.kind = kind
        self.why = why
        # The server answered with a failure (SERVFAIL): receivers asking the same get it too.
        self.answered = answered


class Lookups:
    """Questions to one resolver; `server` says which, for the findings (e.g. "127.0.0.1:5353")."""

    def __init__(self, resolver: dns.resolver.Resolver, server: str) -> None:
        self.resolver = resolver
        self.server = server
        self._answers: dict[tuple[str, str], Answer] = {}

    @classmethod
    def of(cls, server: str | None, *, timeout: float = 5.0) -> Lookups:
        """Lookups asked of NEWSLETTER_DNS_SERVER's servers, or of the system's resolvers for None."""
        try:
            resolver = make_resolver(server, timeout=timeout)
        except dns.resolver.NoResolverConfiguration:
            raise ConfigError(
                "this machine names no DNS resolver (/etc/resolv.conf): set NEWSLETTER_DNS_SERVER to one, "
                "e.g. 192.0.2.53"
            ) from None
        if not server:
            return cls(resolver, "the system's resolver")
        servers = [part.strip() for part in server.split(",")]
        return cls(resolver, f"the DNS server{'s' if len(servers) > 1 else ''} {', '.join(servers)}")

    def txt(self, name: str) -> Answer:
        return self.ask(name, "TXT")

    def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) of each MX record, lowest preference first."""
        found = [value.split(" ", 1) for value in self.ask(name, "MX").values]
        return sorted((int(preference), host) for preference, host in found)

    def addresses(self, name: str) -> list[str]:
        return [*self.ask(name, "A").values, *self.ask(name, "AAAA").values]

    def ask(self, name: str, kind: str) -> Answer:
        key = (name.lower().rstrip("."), kind)
        if key not in self._answers:
            self._answers[key] = self._resolve(*key)
        return self._answers[key]

    def _resolve(self, name: str, kind: str) -> Answer:
        try:
            # Absolute, so that the system resolver's search domains are never tried.
            answer = self.resolver.resolve(dns.name.from_text(name), kind, search=False)
        except dns.resolver.NXDOMAIN as e:
            return Answer(name, _text(e.canonical_name) if e.kwargs else name, (), exists=False)
        except dns.resolver.NoAnswer as e:
            return Answer(name, _canonical(name, e.kwargs.get("response")), (), exists=True)
        except dns.exception.Timeout:
            raise LookupFailed(name, kind, f"{self.server} did not answer", answered=False) from None
        except dns.resolver.NoNameservers:
            raise LookupFailed(name, kind, f"{self.server} answered SERVFAIL", answered=True) from None
        except dns.exception.DNSException as e:
            raise LookupFailed(name, kind, str(e) or type(e).__name__, answered=False) from None
        return Answer(name, _text(answer.canonical_name), _values(answer), exists=True)


def _text(name: dns.name.Name) -> str:
    return name.to_text().rstrip(".").lower()


def _canonical(name: str, response: object) -> str:
    """Where the CNAMEs in an answer without the record asked for lead (Microsoft 365's selector CNAME
    whose target DKIM signing has not published yet)."""
    if isinstance(response, dns.message.QueryMessage):
        try:
            return _text(response.canonical_name())
        except (KeyError, dns.exception.DNSException):
            return name
    return name


def _values(answer: dns.resolver.Answer) -> tuple[str, ...]:
    values: list[str] = []
    for rdata in answer:
        if rdata.rdtype == dns.rdatatype.TXT:
            values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
        elif rdata.rdtype == dns.rdatatype.MX:
            values.append(f"{rdata.preference} {rdata.exchange.to_text().rstrip('.').lower()}")
        else:
            values.append(rdata.to_text())
    return tuple(values)


def unchecked(area: str, check: str, failed: LookupFailed) -> Finding:
    """The error for `check` (e.g. "SPF of example.org") that could not be made: an error whether the
    server failed or stayed silent, as nothing says the receivers will find what they need."""
    if failed.answered:
        fix = (
            f"the DNS hosting of {failed.name} fails (receivers get SERVFAIL too and defer the mail): ask "
            "whoever hosts that zone; if other resolvers answer, check NEWSLETTER_DNS_SERVER instead"
        )
    else:
        fix = (
            "check NEWSLETTER_DNS_SERVER (empty: the system's resolvers) and the network, then run doctor "
            "again: until then this is not checked"
        )
    return Finding.error(
        area,
        f"could not check {check}: {failed.why} (the {failed.kind} record of {failed.name})",
        fix,
        checked=False,
    )
