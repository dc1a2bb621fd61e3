"""Mail for the staff, which dispatch sends to NEWSLETTER_REPORT_TO: the summary when an issue's
delivery is complete (with what came back so far, `came_back`), and the alert when a dispatch seems
hung.

It goes through the issue's own sender, from its From address, DKIM-signed as the issue is. One that
cannot be sent is reported back as a reason, never raised: the delivery it is about went on
regardless, and dispatch logs it and tries again next run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from newsletter.composing.message import Envelope
from newsletter.delivering.came_back import came_back
from newsletter.errors import NewsletterError
from newsletter.ledger import Ledger
from newsletter.ledger.lock import Holder
from newsletter.model import Issue
from newsletter.sending.base import Sender, SendFailure


@dataclass(frozen=True)
class Staff:
    """Whom the staff mail goes to (NEWSLETTER_REPORT_TO), from whom and through which sender."""

    envelope: Envelope
    sender: Sender
    to: list[str]


def _message(envelope: Envelope, to: list[str], subject: str, when: dt.datetime, about: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = envelope.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(about, domain=envelope.domain)
    message["Auto-Submitted"] = "auto-generated"
    return message


def report_message(
    ledger: Ledger, envelope: Envelope, slug: str, issue: Issue, to: list[str], when: dt.datetime
) -> EmailMessage:
    """The summary for the staff: counts, what came back so far (unsubscribes, complaints, bounces,
    refusals that blame the sender with what to fix), and every failed address with the server's reply."""
    counts = ledger.counts(slug)
    failed = ledger.rows(slug, "failed")
    back = came_back(ledger, slug)
    lines = [
        f"The delivery of {slug} is complete.",
        "",
        f"Subject:   {issue.subject}",
        f"Audience:  {counts.audience}",
        f"Sent:      {counts.sent}",
        f"Failed:    {counts.failed}",
        f"Unknown:   {counts.unknown}",
        f"Suppressed: {counts.skipped}",
        "",
        "Came back so far:",
        *(f"{name + ':':<16}{value}" for name, value in back.figures()),
    ]
    if back.blamed:
        lines += ["", "Refused because of the sender, not the address (nobody was suppressed for it):"]
        lines += [
            f'- {b.count} {"time" if b.count == 1 else "times"}, e.g. "{b.words}"; to fix: {b.fix}'
            for b in back.blamed
        ]
    if failed:
        lines += ["", "Failed addresses (fix or remove them in the audience file):"]
        lines += [f"- {row.recipient.email}: {row.last_reply}" for row in failed]
    lines += ["", "Details: newsletter status --failed"]
    subject = f"Newsletter {slug}: {counts.sent} sent, {counts.failed} failed"
    message = _message(envelope, to, subject, when, f"report.{slug}")
    message.set_content("\n".join(lines) + "\n")
    return message


def alert_message(
    envelope: Envelope, to: list[str], holder: Holder, problem: str, when: dt.datetime
) -> EmailMessage:
    """The alert that a dispatch holds the lock and may be hung (`problem` says how to find it)."""
    subject = f"Newsletter dispatch may be hung (pid {holder.pid})"
    message = _message(envelope, to, subject, when, "alert.dispatch")
    message.set_content(
        f"{problem}.\n\nWhile it holds the lock, no newsletter is sent. This message is sent once for "
        "this process; the dispatch log says more.\n"
    )
    return message


def staff_message(staff: Staff, subject: str, when: dt.datetime, about: str, text: str) -> EmailMessage:
    """A plain message to the staff, from the issue's sender."""
    message = _message(staff.envelope, staff.to, subject, when, about)
    message.set_content(text if text.endswith("\n") else text + "\n")
    return message


def mail_staff(staff: Staff, message: EmailMessage) -> str | None:
    """Send `message` to each of the staff, over one connection; why not, if it could not be sent."""
    data = message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if staff.envelope.dkim is not None:
        # From the issue's own From address: signed as the issue is, or DMARC may file it as spam.
        data = staff.envelope.dkim.sign(data)
    sender_address = parseaddr(staff.envelope.sender)[1]
    try:
        with staff.sender.connect() as connection:
            for address in staff.to:
                connection.send(sender_address, address, data)
    except (SendFailure, NewsletterError) as e:
        return str(e)
    return None
