"""What the doctor checks on the round-trip message as the receiver got it: every DKIM signature
(dkimpy, the key looked up through the doctor's resolver), whether the one of From's domain signs the
unsubscribe headers, DKIM and SPF alignment with From, and the receiving server's
Authentication-Results.

Alignment is relaxed, as DMARC's default: the signature's d= (or the Return-Path's domain) and From's
domain have the same organisational domain (`alignment`).
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.message import Message

import dkim
import dns.exception
import dns.resolver

from newsletter.doctor.alignment import aligned, domain_of
from newsletter.doctor.authentication_results import authentication_findings
from newsletter.doctor.findings import Finding
from newsletter.doctor.resolver import txt_records

AREA = "round trip"
UNSUBSCRIBE = ("list-unsubscribe", "list-unsubscribe-post")
_SIGN_OURSELVES = "or sign with our own key: NEWSLETTER_DKIM_KEY_FILE, NEWSLETTER_DKIM_SELECTOR"


@dataclass(frozen=True)
class Copy:
    data: bytes  # the message as the mailbox holds it
    from_domain: str
    envelope_from: str  # what we gave as MAIL FROM
    to: str  # where it was sent


@dataclass(frozen=True)
class Signature:
    domain: str
    selector: str
    signed: tuple[str, ...]  # h=, lower case
    verified: bool
    why: str  # why not, when not


def received_findings(copy: Copy, resolver: dns.resolver.Resolver) -> list[Finding]:
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(copy.data)
    signatures = verify_signatures(copy.data, resolver)
    spf_aligned, spf_finding = _spf_alignment(head, copy)
    return [
        *_dkim_findings(signatures, copy, spf_aligned=spf_aligned),
        spf_finding,
        *authentication_findings(head.get_all("Authentication-Results") or []),
    ]


def verify_signatures(data: bytes, resolver: dns.resolver.Resolver) -> list[Signature]:
    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:  # noqa: ARG001 - the resolver has its own
        try:
            records = txt_records(resolver, name.decode("ascii").rstrip("."))
        except dns.exception.DNSException as e:
            raise dkim.DnsTimeoutError(str(e)) from None
        return records[0].encode() if records else None

    checker = dkim.DKIM(data)
    count = sum(name.lower() == b"dkim-signature" for name, _ in checker.headers)
    found = []
    for index in range(count):
        try:
            tags = dkim.util.parse_tag_value(
                [v for k, v in checker.headers if k.lower() == b"dkim-signature"][index]
            )
        except dkim.util.InvalidTagValueList:
            found.append(Signature("?", "?", (), verified=False, why="the signature cannot be read"))
            continue
        domain = tags.get(b"d", b"?").decode("ascii", "replace").lower()
        selector = tags.get(b"s", b"?").decode("ascii", "replace")
        signed = tuple(h.strip().lower() for h in tags.get(b"h", b"").decode("ascii", "replace").split(":"))
        try:
            verified, why = (
                bool(checker.verify(idx=index, dnsfunc=dnsfunc)),
                "the body or a signed header changed",
            )
        except dkim.DKIMException as e:
            verified, why = False, str(e)
        found.append(Signature(domain, selector, signed, verified, "" if verified else why))
    return found


def _dkim_findings(signatures: list[Signature], copy: Copy, *, spf_aligned: bool) -> list[Finding]:
    if not signatures:
        return [_unsigned(copy)]
    found = []
    for s in signatures:
        name = f"DKIM signature d={s.domain} s={s.selector}"
        found.append(Finding.ok(AREA, f"{name} verifies") if s.verified else _broken(name, s))
    good = [s for s in signatures if s.verified]
    if not good:
        found.append(
            Finding.error(
                AREA,
                "no DKIM signature on the message verifies: Gmail, Yahoo and Outlook.com take it as unsigned",
                "the relay's DKIM signing and the key it publishes in DNS (the DNS part above names the "
                f"record), {_SIGN_OURSELVES}",
            )
        )
        return found
    ours = [s for s in good if aligned(s.domain, copy.from_domain)]
    if not ours:
        level = Finding.warning if spf_aligned else Finding.error
        domains = ", ".join(sorted({s.domain for s in good}))
        found.append(
            level(
                AREA,
                f"only the relay's own domain signs ({domains}), not {copy.from_domain}: DKIM does not "
                "align with From"
                + (
                    "; DMARC passes on SPF alone, which forwarding breaks"
                    if spf_aligned
                    else ", nor does SPF: DMARC fails, and Outlook.com refuses such bulk mail (550 5.7.515)"
                ),
                f"turn on DKIM for {copy.from_domain} at the relay (Microsoft 365: Defender portal, Email "
                f"authentication settings, DKIM; Amazon SES: Easy DKIM for the domain), {_SIGN_OURSELVES}",
            )
        )
        return found
    best = ours[0]
    missing = [h for h in UNSUBSCRIBE if h not in best.signed]
    if missing:
        found.append(
            Finding.error(
                AREA,
                f"the signature of {best.domain} leaves {', '.join(_spelled(h) for h in missing)} out of "
                "what it signs (h=): Gmail shows no unsubscribe button, and Gmail and Yahoo count the "
                "mail as lacking one-click unsubscribe",
                "the relay's DKIM signing settings (the headers it signs), "
                f"{_SIGN_OURSELVES}: our signature covers both",
            )
        )
    else:
        found.append(
            Finding.ok(
                AREA,
                f"the signature of {best.domain} aligns with From ({copy.from_domain}) and signs "
                "List-Unsubscribe and List-Unsubscribe-Post",
            )
        )
    return found


def _spelled(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


def _broken(name: str, s: Signature) -> Finding:
    return Finding.error(
        AREA,
        f"{name} does not verify ({s.why})",
        f"the key at {s.selector}._domainkey.{s.domain} must be the one the relay signs with; a relay or "
        "filter that changes the message after signing breaks it too",
    )


def _unsigned(copy: Copy) -> Finding:
    if aligned(domain_of(copy.to), copy.from_domain):
        return Finding.warning(
            AREA,
            f"the message came back without a DKIM signature; it went to {copy.to}, in From's own domain, "
            "and Microsoft 365 (like other hosted mail) does not sign mail delivered inside the organisation",
            "run doctor --to ADDRESS with a mailbox outside the organisation that the bounce mailbox "
            "settings (NEWSLETTER_IMAP_*) can read",
        )
    return Finding.error(
        AREA,
        "the message came back without a DKIM signature: Gmail and Yahoo require one from bulk senders",
        f"turn on DKIM signing for {copy.from_domain} at the relay, {_SIGN_OURSELVES}",
    )


_ANGLE = re.compile(r"<([^>]*)>")


def _spf_alignment(head: Message, copy: Copy) -> tuple[bool, Finding]:
    """SPF checks the envelope sender's domain: the Return-Path the receiving server wrote, else ours."""
    path = head.get("Return-Path")
    found = _ANGLE.search(str(path)) if path else None
    sender = found.group(1) if found else copy.envelope_from
    where = "Return-Path" if found else "envelope sender (no Return-Path came back)"
    domain = domain_of(sender)
    if not domain:
        return False, Finding.warning(
            AREA, "the Return-Path is empty: SPF cannot align with From", "the relay's bounce settings"
        )
    if aligned(domain, copy.from_domain):
        return True, Finding.ok(
            AREA, f"SPF's domain, the {where} {domain}, aligns with From ({copy.from_domain})"
        )
    return False, Finding.warning(
        AREA,
        f"SPF's domain, the {where} {domain}, does not align with From ({copy.from_domain}): DMARC rests on "
        "DKIM alone",
        "NEWSLETTER_BOUNCE_ADDRESS in From's domain, if the relay keeps the envelope sender (Amazon SES: "
        "a custom MAIL FROM domain)",
    )
