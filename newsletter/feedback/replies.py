"""Mail from people and their mailboxes rather than from mail servers: an unsubscribe request mailed
to the list's unsubscribe address, an out-of-office or other automatic reply, and a
challenge-response ("please confirm you are human"). Only the first is acted on."""

from __future__ import annotations

import re
from email.message import Message

from newsletter.feedback.mail import address, addresses, body_text, header, headers
from newsletter.model import address_key

# In the languages the product writes in: English, Dutch, French, German.
_UNSUBSCRIBE = re.compile(
    r"\b(?:unsubscribe|uitschrijven|uitschrijving|uit te schrijven|afmelden|afmelding|af te melden"
    r"|d[ée]sabonner|d[ée]sabonnement|d[ée]sinscri(?:re|ption)|abmelden|abbestellen|austragen|remove me)\b",
    re.IGNORECASE,
)
# A request that says it is none: "ik wil me NIET uitschrijven", "I do not want to unsubscribe": a
# "not" at most three words before the word (so "uitschrijven, ik ben niet meer bij …" still asks).
_NEGATION = re.compile(
    r"\b(?:niet|geen|nooit|not|don'?t|never|nicht|kein|pas|ne)\b(?:\W+\w+){0,3}?\W+" + _UNSUBSCRIBE.pattern,
    re.IGNORECASE,
)
# A mail that only mentions the word among much else is a question or a story, not a request.
_SHORT_REQUEST_WORDS = 40
# Where a reply's own words end and the message it quotes begins.
_QUOTE_START = re.compile(
    r"^\s*(?:>|-{2,}\s*(?:original|oorspronkelijk|urspr[üu]ngliche|message d'origine)"
    r"|(?:from|van|von|de|sent|verzonden|gesendet|envoy[ée]) ?:|on .+ wrote:$|op .+ schreef .+:$)",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autoreply"
    r"|automatisch antwoord|automatisch bericht|afwezig(?:heid)?|niet aanwezig|met vakantie|on vacation"
    r"|vacation reply|away from (?:the office|my desk)|r[ée]ponse automatique|absence|abwesenheit"
    r"|automatische antwort)",
    re.IGNORECASE,
)
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-Vacation")
_CHALLENGE_HEADERS = ("x-challenge", "x-boxbe", "x-spamarrest", "x-spam-arrest", "x-mailinblack")
_CHALLENGE_WORDS = re.compile(
    r"confirm (?:that )?you are (?:a )?(?:human|real person|not a (?:robot|spammer))"
    r"|(?:verify|prove) (?:that )?you are (?:a )?(?:human|real person)|sender verification"
    r"|challenge[- ]response|waiting for your confirmation|awaiting (?:your )?(?:confirmation|verification)"
    r"|confirm your (?:message|e-?mail|address) to|bevestig dat u (?:een )?mens bent"
    r"|spam ?arrest|boxbe|mailinblack",
    re.IGNORECASE,
)
# Senders that are machines, never readers asking to leave.
_MACHINES = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|no-?reply|bounces?)\b", re.I)


def own_words(message: Message) -> str:
    """The first lines of the mail's text, up to where it quotes another message."""
    lines: list[str] = []
    for line in body_text(message).splitlines()[:60]:
        if _QUOTE_START.search(line):
            break
        lines.append(line)
    return "\n".join(lines)


def auto_reply_sign(message: Message, *, generated: bool = True) -> str:
    """The header or subject that shows an automatic reply, "" if none.

    `generated=False` does not count `Auto-Submitted: auto-generated` alone: a mail client's
    unsubscribe button may send its request so.
    """
    submitted = header(message, "Auto-Submitted").lower()
    if (
        submitted
        and not submitted.startswith("no")
        and (generated or not submitted.startswith("auto-generated"))
    ):
        return f"Auto-Submitted: {submitted}"
    for name in _AUTO_HEADERS:
        if headers(message, name):
            return f"{name} header"
    precedence = header(message, "Precedence").lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    subject = header(message, "Subject")
    if _AUTO_SUBJECT.search(subject):
        return f"subject {subject!r}"
    return ""


def challenge_sign(message: Message) -> str:
    for name in message:
        if name.lower().startswith(_CHALLENGE_HEADERS):
            return f"{name} header"
    for text in (header(message, "Subject"), body_text(message, 4000)):
        found = _CHALLENGE_WORDS.search(text)
        if found:
            return repr(found.group(0))
    return ""


def unsubscribe_reader(message: Message, mailto: str | None) -> tuple[str, str] | None:
    """(reader, what they wrote) for a request to leave mailed to `mailto`; None for anything else.

    The mail must be addressed to `mailto` (envelope or header), say so in its subject or in a short
    text of its own, not say "not" anywhere in them (a question, "I do NOT want to leave", is for a
    person to answer), not be an automatic reply, and come From an address, the reader's (Sender and Reply-To
    are not used: they may name someone else).
    """
    if not mailto:
        return None
    delivered = addresses(message, "Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
    if address_key(mailto) not in {address_key(a) for a in delivered}:
        return None
    if auto_reply_sign(message, generated=False):
        return None  # an automatic reply that quotes "unsubscribe" asks for nothing
    reader = address(header(message, "From"))
    if not reader or _MACHINES.match(reader) or address_key(reader) == address_key(mailto):
        return None
    subject = header(message, "Subject")
    words = own_words(message)
    if _NEGATION.search(subject) or _NEGATION.search(words):
        return None  # left for a person: it may say the opposite of what it seems to
    if _UNSUBSCRIBE.search(subject):
        return reader, f"subject {subject!r}"
    found = _UNSUBSCRIBE.search(words)
    if found and len(words.split()) <= _SHORT_REQUEST_WORDS:
        return reader, f"wrote {found.group(0)!r}"
    return None
