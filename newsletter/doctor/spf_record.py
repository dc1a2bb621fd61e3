"""One SPF record read as RFC 7208 writes it: its terms (mechanisms with their qualifier, domain and
CIDR lengths; modifiers) and what in it is not SPF, which makes receivers treat it as a permerror."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# The mechanisms and what each takes after it: a domain, an address, CIDR lengths.
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
# The terms that make a receiver ask DNS (RFC 7208 section 4.6.4); at most 10 per evaluation.
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
_VERSION = re.compile(r"v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)")
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)")
_DOMAIN_CIDR = re.compile(r"(?::(?P<domain>[^/]+))?(?:/(?P<c4>\d+))?(?://(?P<c6>\d+))?")
_MACRO = re.compile(r"%\{[slodiphcrtv]\d*r?[.\-+,/_=]*\}|%%|%_|%-")
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


@dataclass(frozen=True)
class Term:
    text: str
    name: str  # the mechanism or modifier, lower case
    qualifier: str = "+"  # "" for a modifier
    domain: str | None = None  # include:, a:, mx:, ptr:, exists:, redirect=, exp=
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4:, ip6:
    cidr4: int = 32
    cidr6: int = 128

    @property
    def modifier(self) -> bool:
        return not self.qualifier

    @property
    def macro(self) -> bool:
        """Its domain is filled in per message (%{i} and the like): it cannot be followed beforehand."""
        return self.domain is not None and "%" in self.domain


@dataclass(frozen=True)
class Record:
    text: str
    terms: tuple[Term, ...]
    problems: tuple[str, ...]  # what makes receivers give a permerror
    ignored: tuple[str, ...]  # modifiers SPF does not know: receivers skip them

    def mechanisms(self) -> list[Term]:
        return [t for t in self.terms if not t.modifier]

    def modifier(self, name: str) -> Term | None:
        return next((t for t in self.terms if t.modifier and t.name == name), None)

    def all_qualifier(self) -> str | None:
        return next((t.qualifier for t in self.mechanisms() if t.name == "all"), None)


def spf_records(txt: tuple[str, ...] | list[str]) -> list[str]:
    """The TXT values that are SPF records (v=spf1 then a space or the end)."""
    return [value for value in txt if _VERSION.match(value)]


def parse(text: str) -> Record:
    terms: list[Term] = []
    problems: list[str] = []
    ignored: list[str] = []
    for token in text.split()[1:]:
        try:
            term = _term(token)
        except ValueError as e:
            problems.append(f"{token!r}: {e}")
            continue
        if term is None:
            ignored.append(token)
            continue
        terms.append(term)
    for name in ("redirect", "exp"):
        if sum(t.modifier and t.name == name for t in terms) > 1:
            problems.append(f"{name}= appears more than once")
    return Record(text, tuple(terms), tuple(problems), tuple(ignored))


def _term(token: str) -> Term | None:
    """The term `token`; None for a modifier SPF does not know; ValueError saying what is wrong."""
    modifier = _MODIFIER.fullmatch(token)
    if modifier and ":" not in modifier[1] and "/" not in modifier[1]:
        name = modifier[1].lower()
        if name not in ("redirect", "exp"):
            return None
        return Term(token, name, "", domain=_domain(modifier[2]))
    mechanism = _MECHANISM.fullmatch(token)
    if not mechanism or mechanism[2].lower() not in MECHANISMS:
        raise ValueError("not an SPF mechanism (all, include, a, mx, ptr, ip4, ip6, exists) or modifier")
    qualifier, name, rest = mechanism[1] or "+", mechanism[2].lower(), mechanism[3]
    if name == "all":
        if rest:
            raise ValueError("all takes nothing after it")
        return Term(token, name, qualifier)
    if name in ("ip4", "ip6"):
        return Term(token, name, qualifier, network=_network(name, rest))
    if name in ("include", "exists", "ptr"):
        if (rest or name != "ptr") and (not rest.startswith(":") or rest == ":"):
            raise ValueError(f"{name} needs a domain after a colon, e.g. {name}:example.com")
        if "/" in rest:
            raise ValueError(f"{name} takes no CIDR length")
        return Term(token, name, qualifier, domain=_domain(rest[1:]) if rest else None)
    parts = _DOMAIN_CIDR.fullmatch(rest)
    if not parts:
        raise ValueError(f"write {name}, {name}:example.com or {name}:example.com/24//64")
    cidr4, cidr6 = int(parts["c4"] or 32), int(parts["c6"] or 128)
    if cidr4 > 32 or cidr6 > 128:
        raise ValueError("a CIDR length is at most /32 for IPv4 and //128 for IPv6")
    domain = _domain(parts["domain"]) if parts["domain"] else None
    return Term(token, name, qualifier, domain=domain, cidr4=cidr4, cidr6=cidr6)


def _network(name: str, rest: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not rest.startswith(":"):
        raise ValueError(
            f"{name} needs an address, e.g. {'ip4:192.0.2.0/24' if name == 'ip4' else 'ip6:2001:db8::/32'}"
        )
    try:
        if name == "ip4":
            return ipaddress.IPv4Network(rest[1:], strict=False)
        return ipaddress.IPv6Network(rest[1:], strict=False)
    except ValueError:
        kind = "IPv4" if name == "ip4" else "IPv6"
        raise ValueError(f"{rest[1:]!r} is not an {kind} address or network") from None


def _domain(value: str) -> str:
    """A domain-spec: a domain name, or one with macros (checked for their syntax only)."""
    if "%" in value:
        if "%" in _MACRO.sub("", value):
            raise ValueError(f"{value!r} holds a % that is no SPF macro")
        return value
    labels = value.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a domain name")
    return value.rstrip(".").lower()
