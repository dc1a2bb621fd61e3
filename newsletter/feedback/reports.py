"""The two machine-readable reports a mail server or a mailbox provider sends back: the delivery
status notification (RFC 3464, multipart/report; report-type=delivery-status) and the abuse report
of a feedback loop (ARF, RFC 5965, report-type=feedback-report)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from newsletter.feedback.blame import judge, tidy
from newsletter.feedback.findings import Failure
from newsletter.feedback.mail import POLICY, address, header, message_id, parts, returned_headers

_STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")
_FEEDBACK_PARTS = ("message/feedback-report",)
_STATUS = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})")


def report_type(message: Message) -> str:
    """ "delivery-status", "feedback-report" or "" for a mail that carries neither report."""
    kinds = {part.get_content_type() for part in parts(message)}
    if kinds & set(_STATUS_PARTS):
        return "delivery-status"
    if kinds & set(_FEEDBACK_PARTS):
        return "feedback-report"
    return ""


def _field_blocks(part: Message) -> Iterator[Message]:
    """The groups of fields of a report part: per message first, then per recipient.

    The stdlib parses message/delivery-status into one Message per group; a part it does not know
    (message/global-delivery-status, message/feedback-report) comes as one Message whose body holds
    the groups after the first.
    """
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    for block in blocks:
        if not isinstance(block, Message):
            continue
        yield block
        rest = block.get_payload()
        if isinstance(rest, str) and rest.strip():
            for text in re.split(r"\n[ \t\r]*\n", rest):
                if text.strip():
                    yield HeaderParser(policy=POLICY).parsestr(text.strip() + "\n")


def _original_id(message: Message, per_message: Message | None) -> str | None:
    """The returned message's Message-ID; else what the report's own fields or threading headers say."""
    returned = returned_headers(message)
    if returned is not None and (found := message_id(header(returned, "Message-ID"))):
        return found
    for source, name in ((per_message, "X-Original-Message-ID"), (message, "In-Reply-To")):
        if source is not None and (found := message_id(header(source, name))):
            return found
    return None


@dataclass(frozen=True)
class StatusReport:
    failures: tuple[Failure, ...]
    original_message_id: str | None
    returned_from: str  # the returned message's Return-Path: our envelope sender, a VERP address
    actions: tuple[str, ...]  # every recipient's Action, "delivered" ones included


def delivery_status(message: Message) -> StatusReport:
    failures: list[Failure] = []
    actions: list[str] = []
    per_message: Message | None = None
    for part in parts(message):
        if part.get_content_type() not in _STATUS_PARTS:
            continue
        for block in _field_blocks(part):
            recipient = header(block, "Final-Recipient") or header(block, "Original-Recipient")
            if not recipient:
                per_message = per_message or block
                continue
            action = header(block, "Action").lower()
            actions.append(action)
            found = _STATUS.match(header(block, "Status"))
            status = found.group(1) if found else ""
            if action not in ("failed", "delayed") and not (action == "" and status[:1] in ("4", "5")):
                continue  # delivered, relayed, expanded: not a failure
            words = tidy(header(block, "Diagnostic-Code")) or status
            judgement = judge(status, words, action=action)
            failures.append(
                Failure(
                    recipient=address(recipient) or "",
                    status=status,
                    words=words,
                    permanent=judgement.permanent,
                    blamed=judgement.blamed,
                    fix=judgement.fix,
                    original_recipient=address(header(block, "Original-Recipient")) or "",
                    action=action,
                )
            )
    returned = returned_headers(message)
    return StatusReport(
        failures=tuple(failures),
        original_message_id=_original_id(message, per_message),
        returned_from=(address(header(returned, "Return-Path")) or "") if returned is not None else "",
        actions=tuple(actions),
    )


@dataclass(frozen=True)
class FeedbackReport:
    feedback_type: str  # "abuse", "fraud", "virus", "other", "not-spam", "auth-failure"
    reader: str  # Original-Rcpt-To, Removal-Recipient or the returned message's To; "" if none
    original_message_id: str | None
    returned_from: str
    agent: str  # who reports it: the User-Agent field


def feedback_report(message: Message) -> FeedbackReport:
    fields: Message | None = None
    for part in parts(message):
        if part.get_content_type() in _FEEDBACK_PARTS:
            fields = next(_field_blocks(part), None)
            break
    returned = returned_headers(message)
    candidates = [
        *((header(fields, "Original-Rcpt-To"), header(fields, "Removal-Recipient")) if fields else ()),
        *((header(returned, "To"),) if returned is not None else ()),
    ]
    reader = next((a for c in candidates if c and (a := address(c))), "")
    return FeedbackReport(
        feedback_type=(header(fields, "Feedback-Type") if fields else "").lower() or "abuse",
        reader=reader,
        original_message_id=_original_id(message, None),
        returned_from=(address(header(returned, "Return-Path")) or "") if returned is not None else "",
        agent=header(fields, "User-Agent") if fields else "",
    )
