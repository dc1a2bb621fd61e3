"""What a mail server's refusal means: permanent or temporary, and whether it is about the address
or about us, the sender (our domain's authentication, our server's reputation, the content, the size).

A refusal that blames the sender says nothing about the reader's address, so it suppresses nobody;
it comes with what staff should fix. Status codes are RFC 3463's enhanced codes (class.subject.detail,
e.g. 5.1.1), taken from the DSN's Status field, or from the server's words with care.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Blamed = Literal["address", "sender"]

# An enhanced status code, not part of an IP address or a version number ("192.5.1.1", "5.1.1.2").
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A basic SMTP reply code at the start of a reply line: "550 " or "550-".
_BASIC = re.compile(r"(?<![\d.])([245]\d\d)(?=[ -])")


def enhanced_code(text: str) -> str:
    """The first enhanced status code in the text, "" if none."""
    found = _ENHANCED.search(text)
    return ".".join(found.groups()) if found else ""


def basic_code(text: str) -> str:
    found = _BASIC.search(text)
    return found.group(1) if found else ""


def tidy(words: str, limit: int = 500) -> str:
    """The server's words on one line: without the diagnostic type ("smtp;") and without the code
    repeated on every line of a multi-line reply ("550-5.1.1 … 550-5.1.1 … 550 5.1.1 …")."""
    text = " ".join(words.split())
    text = re.sub(r"^(?:smtp|x-[\w-]+|utf-8)\s*;\s*", "", text, flags=re.IGNORECASE)
    lead = re.match(r"([245]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3})\s+)?", text)
    if lead:
        code, enhanced = lead.group(1), lead.group(2)
        repeat = re.escape(code) + r"[ -]" + (re.escape(enhanced) if enhanced else "")
        rest = re.sub(r"\s" + repeat + r"(?=\s)", "", text[lead.end() :])
        text = " ".join([code, *([enhanced] if enhanced else []), *rest.split()])
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Judgement:
    permanent: bool
    blamed: Blamed
    fix: str  # for a refusal that blames the sender: what staff should do about it


_AUTH_FIX = (
    "set up SPF, DKIM and DMARC for the domain of NEWSLETTER_FROM (ask whoever runs its DNS and mail "
    "server), so that receivers can tell the mail is really ours"
)
_BLOCKLIST_FIX = (
    "the sending server's address is on a blocklist or has a poor reputation: ask whoever runs "
    "NEWSLETTER_SMTP_HOST to look it up and have it removed"
)
_RATE_FIX = "the receiver takes mail from us only so fast: lower NEWSLETTER_RATE, and send again later"
_CONTENT_FIX = (
    "the receiver's spam filter refused the content: check the links, images and wording of the issue, "
    "and that SPF, DKIM and DMARC are set up for the domain of NEWSLETTER_FROM"
)
_SIZE_FIX = (
    "the message is too big for the receiving server: use smaller images, or host them "
    "(NEWSLETTER_ASSET_BASE_URL) instead of embedding them"
)
_SENDER_ADDRESS_FIX = (
    "the receiver refused our sender address: check that the domain of NEWSLETTER_FROM (and of the "
    "bounce address) exists and receives mail"
)
_RELAY_FIX = (
    "the receiving server would not take mail for that domain (relaying denied): it may no longer be that "
    "domain's mail server; if it repeats, ask the receiver's postmaster"
)
_POLICY_FIX = (
    "the receiving server refused the mail by its own policy, not because of the address; if it repeats "
    "for this domain, ask its postmaster"
)

# In order: the first that matches "<status> <words>" names the fix.
_SENDER_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), fix)
    for pattern, fix in (
        # RFC 7372's 5.7.20-5.7.27 (no DKIM, SPF failed, reverse DNS…), Outlook's 5.7.509 and 5.7.515.
        (
            r"\b[45]\.7\.(?:2[0-7]|509|515)\b|\bdmarc\b|\bspf\b|\bdkim\b|unauthenticated|not authenticated"
            r"|authentication (?:level|requirements|checks?)\b|ptr record|reverse dns",
            _AUTH_FIX,
        ),
        # Outlook's 5.7.606-649 (banned IP), 5.7.650 (reputation) and 5.7.708 (traffic not accepted).
        (
            r"\b[45]\.7\.(?:6[0-4]\d|650|708)\b|spamhaus|spamcop|barracuda|\bsorbs\b|\bsurbl\b|\buribl\b"
            r"|block ?list|black ?list|\brbl\b|dnsbl|blocked using|listed (?:at|on|in|by)|reputation"
            r"|traffic not accepted",
            _BLOCKLIST_FIX,
        ),
        (r"rate.?limit|too many (?:messages|connections|recipients)|unusual rate|throttl", _RATE_FIX),
        (
            r"\bspam\b|unsolicited|\bjunk\b|\bcontent\b|virus|malware|phish|suspicious|\[p\d\]",
            _CONTENT_FIX,
        ),
        (
            r"\b[45]\.3\.4\b|\b[45]\.2\.3\b|too (?:big|large)|size (?:limit|exceeds)|message length exceeds"
            r"|exceeds (?:the )?(?:maximum|size|message size)",
            _SIZE_FIX,
        ),
        (
            r"\b[45]\.1\.[78]\b|sender address rejected|sender domain|domain of sender",
            _SENDER_ADDRESS_FIX,
        ),
        (
            r"relay(?:ing)? (?:access )?(?:denied|not permitted)|unable to relay|not permitted to relay",
            _RELAY_FIX,
        ),
    )
)
# Words that blame the address, which win over a bare policy code ("5.7.1 … user unknown").
_ADDRESS_WORDS = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|does not exist|doesn't exist"
    r"|not found|invalid recipient|unknown recipient|recipient unknown|mailbox unavailable|no mailbox"
    r"|account (?:is )?disabled|inactive",
    re.IGNORECASE,
)
_POLICY = re.compile(r"\b[45]\.7\.\d{1,3}\b|polic(?:y|ies)|\bblocked\b", re.IGNORECASE)


def judge(status: str, words: str, *, action: str = "", permanent: bool | None = None) -> Judgement:
    """Permanence and blame of one refusal.

    `status` is the DSN's Status ("" if none); `permanent` what a heuristic parser said, when there is
    no status. A full mailbox (x.2.2) is temporary whatever its class: the address exists, and most
    servers send 552 5.2.2 for a mailbox that will have room again. `Action: delayed` is temporary.
    """
    code = status or enhanced_code(words)
    if code.endswith(".0.0") and (specific := enhanced_code(words)) and specific[0] == code[0]:
        code = specific  # "Status: 5.0.0" says less than the server's "550 5.7.1 …"
    klass = code[:1] or basic_code(words)[:1]
    if action.lower() == "delayed" or code[2:] == "2.2":
        is_permanent = False
    elif klass in ("4", "5"):
        is_permanent = klass == "5"
    else:
        is_permanent = permanent if permanent is not None else action.lower() == "failed"
    subject = f"{code} {words}"
    for pattern, fix in _SENDER_RULES:
        if pattern.search(subject):
            return Judgement(is_permanent, "sender", fix)
    if not _ADDRESS_WORDS.search(words) and _POLICY.search(subject):
        return Judgement(is_permanent, "sender", _POLICY_FIX)
    return Judgement(is_permanent, "address", "")
