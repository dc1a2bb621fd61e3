"""What one mail in the bounce mailbox is, from its bytes alone: `classify(data) -> Finding`.

In this order, the first that fits:
1. a delivery status notification (RFC 3464): per recipient the address, Action, Status and the
   server's words, and the Message-ID of the message it returns;
2. an abuse report of a feedback loop (ARF, RFC 5965): the complaining reader and the Message-ID;
3. a request to leave mailed to the list's unsubscribe address (List-Unsubscribe's mailto);
4. a challenge-response ("please confirm you are human");
5. a bounce of another form that flufl.bounce reads (qmail, older Exchange, Yahoo…);
6. an out-of-office or other automatic reply;
7. anything else: unclassified.

Pure: no ledger, no I/O. Whether a bounce is about one of our messages is `handle`'s business.
"""

from __future__ import annotations

from email.message import Message

from newsletter.feedback import heuristic
from newsletter.feedback.findings import Failure, Finding, FindingKind
from newsletter.feedback.mail import addresses, header, message_id, parse
from newsletter.feedback.replies import auto_reply_sign, challenge_sign, unsubscribe_reader
from newsletter.feedback.reports import delivery_status, feedback_report, report_type

__all__ = ["Failure", "Finding", "FindingKind", "classify"]

_ENVELOPE = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_NOT_COMPLAINTS = {
    "not-spam": "a feedback report that the message is not spam",
    "auth-failure": (
        "an authentication failure report (RFC 6591) about the sending domain: check its SPF, DKIM and DMARC"
    ),
}


def classify(data: bytes, *, unsubscribe_mailto: str | None = None) -> Finding:
    """What the mail `data` (as received, CRLF or LF) is; see the module's docstring for the order."""
    message = parse(data)
    own_id = message_id(header(message, "Message-ID"))
    envelope = tuple(addresses(message, *_ENVELOPE))
    kind = report_type(message)
    if kind == "delivery-status":
        return _status_finding(message, own_id, envelope)
    if kind == "feedback-report":
        return _feedback_finding(message, own_id, envelope)
    request = unsubscribe_reader(message, unsubscribe_mailto)
    if request is not None:
        reader, words = request
        answers = message_id(header(message, "In-Reply-To")) or None  # a reply to one issue
        return Finding(
            "unsubscribe",
            own_id,
            original_message_id=answers,
            envelope=envelope,
            reader=reader,
            detail=words,
            form="mailto",
        )
    sign = challenge_sign(message)
    if sign:
        return _left("challenge", own_id, envelope, f"a challenge-response ({sign})")
    if heuristic.looks_like_bounce(message):
        failures = heuristic.failures(message)
        if failures:
            return Finding(
                "bounce",
                own_id,
                original_message_id=heuristic.original_message_id(message),
                envelope=envelope,
                failures=failures,
                detail=_about(message),
                form="flufl.bounce",
            )
    sign = auto_reply_sign(message)
    if sign:
        return _left("auto_reply", own_id, envelope, f"an automatic reply ({sign})")
    if heuristic.looks_like_bounce(message):
        return _left(
            "unclassified", own_id, envelope, f"a bounce in a form that cannot be read: {_about(message)}"
        )
    return _left("unclassified", own_id, envelope, f"not understood: {_about(message)}")


def _left(kind: FindingKind, own_id: str | None, envelope: tuple[str, ...], detail: str) -> Finding:
    return Finding(kind, own_id, envelope=envelope, detail=detail)


def _about(message: Message) -> str:
    sender = header(message, "From") or "no sender"
    return f"from {sender}, subject {header(message, 'Subject')!r}"


def _status_finding(message: Message, own_id: str | None, envelope: tuple[str, ...]) -> Finding:
    report = delivery_status(message)
    envelope = (*envelope, report.returned_from) if report.returned_from else envelope
    if not report.failures:
        actions = ", ".join(sorted(set(report.actions))) or "none"
        return _left(
            "unclassified",
            own_id,
            envelope,
            f"a delivery status notification without a failure (Action: {actions})",
        )
    return Finding(
        "bounce",
        own_id,
        original_message_id=report.original_message_id,
        envelope=envelope,
        failures=report.failures,
        detail=_about(message),
        form="RFC 3464",
    )


def _feedback_finding(message: Message, own_id: str | None, envelope: tuple[str, ...]) -> Finding:
    report = feedback_report(message)
    envelope = (*envelope, report.returned_from) if report.returned_from else envelope
    if report.feedback_type in _NOT_COMPLAINTS:
        return _left("unclassified", own_id, envelope, _NOT_COMPLAINTS[report.feedback_type])
    agent = f" from {report.agent}" if report.agent else ""
    return Finding(
        "complaint",
        own_id,
        original_message_id=report.original_message_id,
        envelope=envelope,
        reader=report.reader,
        detail=f"{report.feedback_type} report{agent}",
        form="ARF",
    )
