"""Whether two domains align as DMARC means it (RFC 7489 3.1): relaxed, the same organisational domain.

Without a public suffix list the organisational domain is the last two labels, or three under a
country's second-level suffix (example.co.uk). A wrong guess only makes the doctor call a signature
aligned or not where a receiver would disagree for an unusual suffix; it never touches the mail.
"""

from __future__ import annotations

_SECOND_LEVEL = {"co", "com", "net", "org", "ac", "gov", "edu", "ltd", "plc", "ne", "or", "gv"}


def organisational_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    keep = 3 if len(labels) > 2 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: `domain` (a DKIM d=, a Return-Path's) and From's share an organisational domain."""
    return organisational_domain(domain) == organisational_domain(from_domain)


def domain_of(address: str) -> str:
    return address.strip().strip("<>").rpartition("@")[2].lower().rstrip(".")
