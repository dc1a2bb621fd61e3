"""What the doctor checks on the round-trip message as the receiver got it: every DKIM signature
(`signatures`: why one fails, the key looked up through the doctor's resolver), whether the one of
From's domain signs the unsubscribe headers and with the selector the settings name, DKIM and SPF
alignment with From, and the receiving server's Authentication-Results.

Alignment is relaxed, as DMARC's default: the signature's d= (or the Return-Path's domain) and From's
domain have the same organisational domain (`alignment`).
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.message import Message

from newsletter.doctor.alignment import aligned, domain_of
from newsletter.doctor.authentication_results import authentication_findings
from newsletter.doctor.dkim_key import key_trouble, published
from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import LookupFailed, Lookups
from newsletter.doctor.signatures import Signature, verify_signatures

AREA = "round trip"
UNSUBSCRIBE = ("list-unsubscribe", "list-unsubscribe-post")
_SIGN_OURSELVES = "or sign with our own key: NEWSLETTER_DKIM_KEY_FILE, NEWSLETTER_DKIM_SELECTOR"


@dataclass(frozen=True)
class Copy:
    data: bytes  # the message as the mailbox holds it
    from_domain: str
    envelope_from: str  # what we gave as MAIL FROM
    to: str  # where it was sent
    selector: str | None = None  # NEWSLETTER_DKIM_SELECTOR: the key the DNS part checked


def received_findings(copy: Copy, lookups: Lookups) -> list[Finding]:
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(copy.data)
    signatures = verify_signatures(copy.data, lookups)
    spf_aligned, spf_finding = _spf_alignment(head, copy)
    return [
        *_dkim_findings(signatures, copy, spf_aligned=spf_aligned),
        *_selector_findings(signatures, copy, lookups),
        spf_finding,
        *authentication_findings(head.get_all("Authentication-Results") or []),
    ]


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
    if not s.checked:
        return Finding.error(AREA, f"{name} could not be verified: {s.why}", s.fix, checked=False)
    return Finding.error(AREA, f"{name} does not verify: {s.why}", s.fix)


def _selector_findings(signatures: list[Signature], copy: Copy, lookups: Lookups) -> list[Finding]:
    """The selector the relay signs From's domain with, when NEWSLETTER_DKIM_SELECTOR names another
    that has no key (or none is set): the DNS part then checked the wrong key, or none."""
    signing = [s for s in signatures if s.verified and aligned(s.domain, copy.from_domain)]
    if not signing or any(s.selector == copy.selector for s in signing):
        return []
    used = signing[0]
    fix = f"set NEWSLETTER_DKIM_SELECTOR={used.selector}, so that doctor --no-send checks the key in use"
    if copy.selector is None:
        return [Finding.warning(AREA, f"the relay signs {used.domain} with s={used.selector}", fix)]
    try:
        if key_trouble(published(lookups, copy.selector, used.domain)) is None:
            return []  # a second selector with a key of its own: a rotation under way, say
    except LookupFailed:
        return []
    return [
        Finding.warning(
            AREA,
            f"NEWSLETTER_DKIM_SELECTOR={copy.selector} has no usable key at "
            f"{copy.selector}._domainkey.{used.domain}, but the relay signs with s={used.selector}, "
            "which verifies",
            fix,
        )
    ]


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
