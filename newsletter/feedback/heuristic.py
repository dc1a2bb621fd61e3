"""Bounces that are not RFC 3464 reports (qmail, older Exchange, Yahoo and other home-grown forms),
read with flufl.bounce, the detectors GNU Mailman uses. It names the failed addresses and whether
they failed for good; the status code and the server's words are taken from the text beside each
address, with care: only from the paragraph that names it."""

from __future__ import annotations

import logging
import re
from email.message import Message

from flufl.bounce import all_failures

from newsletter.feedback.blame import basic_code, enhanced_code, judge, tidy
from newsletter.feedback.findings import Failure
from newsletter.feedback.mail import address, header, message_id, parts, text_of

# flufl.bounce logs a detector's exception with its traceback before raising it again; we handle the
# exception (`failures`), and a traceback on the mailbox run's terminal would only alarm. Without a
# handler of its own the log would reach logging's last resort, stderr; an application that sets up
# logging still gets the records.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())

_DAEMONS = re.compile(r"^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster|mail delivery)", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non-?delivery|delivery (?:status|fail|problem|notification|has failed)"
    r"|failure notice|failed delivery|returned mail|mail delivery failed|could not be delivered"
    r"|niet (?:afgeleverd|bezorgd)|onbestelbaar|unzustellbar|non remis",
    re.IGNORECASE,
)


def looks_like_bounce(message: Message) -> bool:
    """Sent by a mail system about a delivery: from a mailer daemon, with an empty envelope sender or
    a subject of that kind. An out-of-office reply with a null sender has neither of the others."""
    sender = address(header(message, "From")) or header(message, "From")
    return bool(_DAEMONS.match(sender) or _BOUNCE_SUBJECT.search(header(message, "Subject")))


def failures(message: Message) -> tuple[Failure, ...]:
    """The failures flufl.bounce finds, each with its code and words from the text near it."""
    try:
        temporary, permanent = all_failures(message)
    # A heuristic that trips over a hostile mail must not stop the mailbox run: the mail stays
    # where it is, unclassified.
    except Exception:  # noqa: BLE001
        return ()
    text = "\n".join(text_of(p) for p in parts(message) if p.get_content_type() == "text/plain")
    found: list[Failure] = []
    for raw, is_permanent in sorted([(a, True) for a in permanent] + [(a, False) for a in temporary]):
        recipient = raw.decode("ascii", errors="replace")
        words = _paragraph_about(text, recipient)
        status = enhanced_code(words)
        judgement = judge(status, words, permanent=is_permanent)
        found.append(
            Failure(
                recipient=recipient,
                status=status,
                words=words,
                permanent=judgement.permanent,
                blamed=judgement.blamed,
                fix=judgement.fix,
            )
        )
    return tuple(found)


def _paragraph_about(text: str, recipient: str) -> str:
    """The server's words about `recipient`: the lines after the one that names it, to a blank line,
    if they hold a status code; "" when the text says nothing that can be trusted about it."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if recipient.lower() not in line.lower():
            continue
        block = [line.split(">:", 1)[-1] if ">:" in line else line]
        for following in lines[i + 1 : i + 8]:
            if not following.strip():
                break
            block.append(following)
        words = tidy(" ".join(block).replace(f"<{recipient}>", "").strip(" :"))
        if enhanced_code(words) or basic_code(words):
            return words
    return ""


def original_message_id(message: Message) -> str | None:
    """The Message-ID of the copy a bounce of this kind quotes in its text ("Below this line is a
    copy of the message."), or of an attached message."""
    for part in parts(message):
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and (found := message_id(header(inner, "Message-ID"))):
                return found
        elif part.get_content_maintype() == "text":
            quoted = re.search(r"^Message-ID:\s*(<[^<>\s]+>)", text_of(part), re.IGNORECASE | re.MULTILINE)
            if quoted:
                return quoted.group(1)
    return None
