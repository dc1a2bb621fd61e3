"""The DNS answers the doctor's checks need: each name and type asked once, and a server that fails
(SERVFAIL) or stays silent (a timeout) turned into LookupFailed, which names what could not be looked up."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver


@dataclass(frozen=True)
class Answer:
    name: str
    canonical: str  # where CNAMEs led; the name itself without one
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
        except dns.resolver.NXDOMAIN:
            return Answer(name, name, (), exists=False)
        except dns.resolver.NoAnswer:
            return Answer(name, name, (), exists=True)
        except dns.exception.Timeout:
            raise LookupFailed(name, kind, f"{self.server} did not answer", answered=False) from None
        except dns.resolver.NoNameservers:
            raise LookupFailed(name, kind, f"{self.server} answered SERVFAIL", answered=True) from None
        except dns.exception.DNSException as e:
            raise LookupFailed(name, kind, str(e) or type(e).__name__, answered=False) from None
        return Answer(name, answer.canonical_name.to_text().rstrip(".").lower(), _values(answer), exists=True)


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


def trouble(failed: LookupFailed) -> str:
    """What a finding says about a lookup that failed."""
    return f"could not look up the {failed.kind} record of {failed.name}: {failed.why}"


TROUBLE_FIX = (
    "check NEWSLETTER_DNS_SERVER (empty: the system's resolvers) and the network, then run doctor again; "
    "if other resolvers fail too, the domain's DNS hosting is at fault and receivers will defer the mail"
)
