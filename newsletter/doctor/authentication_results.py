"""The receiving server's verdict on the round-trip message: its Authentication-Results (RFC 8601).

A message can carry such headers from any hop, and a sender can write one that says "pass" about
itself: only those of the receiving server count, that is the topmost header (it adds its own on top)
and any other with the same authserv-id.
"""

from __future__ import annotations

import re

from newsletter.doctor.findings import Finding

AREA = "round trip"
METHODS = ("spf", "dkim", "dmarc")
_RESULT = re.compile(r"(?:^|;)\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.I)
_COMMENT = re.compile(r"\([^()]*\)")
# The best result a method had among the receiver's headers: any pass is a pass.
_RANK = {
    "pass": 0,
    "none": 1,
    "neutral": 1,
    "policy": 1,
    "temperror": 2,
    "softfail": 2,
    "fail": 3,
    "permerror": 3,
}
_FIXES = {
    "spf": "the SPF record of the envelope sender's domain must include the relay (the DNS part above)",
    "dkim": "the relay's DKIM signing and its key in DNS (the signature findings above)",
    "dmarc": "SPF or DKIM must pass for a domain that aligns with From (the findings above)",
}


def authserv_id(header: str) -> str:
    return _COMMENT.sub("", header).split(";", 1)[0].strip().split()[0].lower() if header.strip() else ""


def results(header: str) -> dict[str, str]:
    """spf, dkim, dmarc → their best result in one header's text."""
    found: dict[str, str] = {}
    for method, result in _RESULT.findall(_COMMENT.sub("", " ".join(header.split()))):
        method, result = method.lower(), result.lower()
        if method not in found or _RANK.get(result, 3) < _RANK.get(found[method], 3):
            found[method] = result
    return found


def authentication_findings(headers: list[str]) -> list[Finding]:
    """`headers`: every Authentication-Results of the message, topmost first."""
    if not headers:
        return [
            Finding.warning(
                AREA,
                "the receiving server wrote no Authentication-Results: its own verdict is unknown",
                "send the round trip to a mailbox at a large provider (doctor --to ADDRESS that "
                "NEWSLETTER_IMAP_* can read), which writes one",
            )
        ]
    server = authserv_id(headers[0])
    trusted = [h for h in headers if authserv_id(h) == server]
    combined: dict[str, str] = {}
    for header in trusted:
        for method, result in results(header).items():
            if method not in combined or _RANK.get(result, 3) < _RANK.get(combined[method], 3):
                combined[method] = result
    ignored = len(headers) - len(trusted)
    note = f" ({ignored} from other hops left aside: anyone can write one)" if ignored else ""
    found = [Finding.ok(AREA, f"Authentication-Results of {server}{note}")]
    for method in METHODS:
        result = combined.get(method, "none")
        what = f"{server} says {method}={result}"
        rank = _RANK.get(result, 3)
        if rank == 0:
            found.append(Finding.ok(AREA, what))
        elif rank >= 3:
            found.append(Finding.error(AREA, what, _FIXES[method]))
        else:
            found.append(Finding.warning(AREA, what, _FIXES[method]))
    return found
