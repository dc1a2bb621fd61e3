"""The doctor's round trip: one real message, composed as an issue is (From, List-Id, List-Unsubscribe
and its One-Click POST, a Message-ID of our domain), sent through the relay, read back from the bounce
mailbox, taken out of it, and checked as the receiver got it (`received`).

Its Message-ID and Subject carry a token of its own, which is how the copy is found among the
mailbox's mail; a bounce that quotes it is recognised too.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr

from newsletter.composing.message import Composer, Envelope, Outgoing
from newsletter.composing.tokens import bounce_address
from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import Lookups
from newsletter.doctor.received import Copy, received_findings
from newsletter.errors import MailboxError, SendError
from newsletter.feedback.mailbox import Source
from newsletter.model import Recipient, Rendered
from newsletter.model.merge import Plan
from newsletter.sending.base import SendFailure
from newsletter.sending.smtp import SMTPSender

AREA = "round trip"
POLL = 3.0  # seconds between looks into the mailbox


def new_token() -> str:
    return secrets.token_hex(6)


def round_trip_address(envelope: Envelope, to: str | None, token: str) -> str:
    """--to, else the bounce address (its {token} filled) or the From address."""
    if to:
        return to
    if envelope.bounce_address:
        return bounce_address(envelope.bounce_address, f"<doctor-{token}@{envelope.domain}>")
    return _from_address(envelope)


def _from_address(envelope: Envelope) -> str:
    return parseaddr(envelope.sender)[1]


def doctor_message(envelope: Envelope, to: str, token: str, now: dt.datetime) -> Outgoing:
    """The round-trip message, through the Composer every issue goes through."""
    text = (
        f"This message was sent by `newsletter doctor` (check {token}) to see how the mail arrives.\n"
        "It is taken out of the mailbox again once read; if you see it, it can be deleted.\n"
    )
    html = f"<!doctype html><html><body><p>{text.replace(chr(10), '<br>')}</p></body></html>"
    name = _display_name(envelope) or "newsletter"
    rendered = Rendered(
        slug=f"doctor-{token}",
        language="en",
        subject=Plan.compile(f"newsletter doctor: round trip {token}"),
        preheader=Plan.compile(""),
        html=Plan.compile(html),
        text=Plan.compile(text),
        fields=(),
        images=(),
        list_name=name,
    )
    return Composer(rendered, envelope, date=now).compose(Recipient(email=to))


def _display_name(envelope: Envelope) -> str:
    return parseaddr(envelope.sender)[0]


@dataclass(frozen=True)
class RoundTrip:
    sender: SMTPSender
    message: Outgoing
    token: str
    mailbox: Source
    from_domain: str
    wait: float
    lookups: Lookups
    selector: str | None = None  # NEWSLETTER_DKIM_SELECTOR
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def round_trip_findings(trip: RoundTrip) -> list[Finding]:
    to = trip.message.recipient.email
    # Signed already when the tool signs (NEWSLETTER_DKIM_KEY_FILE): the Composer does it, as for an issue.
    data = trip.message.data
    try:
        with trip.sender.connect() as connection:
            reply = connection.send(trip.message.envelope_from, to, data)
    except (SendError, SendFailure) as e:
        return [
            Finding.error(
                AREA,
                f"the relay did not take the round-trip message to {to} ({e})",
                "the relay check above passed, so the relay refused the message itself: for Microsoft 365 "
                "'5.2.252 SendAsDenied' means NEWSLETTER_SMTP_USERNAME may not send as NEWSLETTER_FROM",
            )
        ]
    found = [Finding.ok(AREA, f"sent {trip.message.message_id} to {to} ({reply})")]
    try:
        copy, other = _read_back(trip)
    except MailboxError as e:
        return [*found, Finding.error(AREA, f"cannot read the bounce mailbox: {e}", "the setting it names")]
    if other is not None:
        return [*found, _bounced(to, other)]
    if copy is None:
        return [*found, _missing(trip, to)]
    found.append(Finding.ok(AREA, f"arrived in {trip.mailbox.description} and was taken out of it again"))
    return found + received_findings(
        Copy(copy, trip.from_domain, trip.message.envelope_from, to, trip.selector),
        trip.lookups,
    )


def _read_back(trip: RoundTrip) -> tuple[bytes | None, bytes | None]:
    """The copy (or a bounce that quotes it) once it is in the mailbox, taken out; (None, None) when
    `wait` seconds went by without it."""
    message_id = trip.message.message_id.encode()
    deadline = trip.clock() + trip.wait
    heads = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    while True:
        with trip.mailbox.open() as folder:
            for batch in folder.batches():
                for fetched in batch:
                    if trip.token.encode() not in fetched.data:
                        continue
                    folder.take([fetched.key])
                    found = str(heads.parsebytes(fetched.data).get("Message-ID", "")).strip().encode()
                    return (fetched.data, None) if found == message_id else (None, fetched.data)
        left = deadline - trip.clock()
        if left <= 0:
            return None, None
        trip.sleep(min(POLL, left))


_DIAGNOSTIC = re.compile(rb"^(?:Diagnostic-Code|Status):[^\r\n]*", re.I | re.M)


def _bounced(to: str, bounce: bytes) -> Finding:
    said = b"; ".join(m.group(0) for m in _DIAGNOSTIC.finditer(bounce)).decode("utf-8", "replace")
    return Finding.error(
        AREA,
        f"a bounce came back instead of the round-trip message to {to}" + (f": {said}" if said else ""),
        "what the receiving server says there: a refusal that names SPF, DKIM or DMARC is the DNS part "
        "above; one that names the address means --to (or NEWSLETTER_BOUNCE_ADDRESS) is wrong",
    )


def _missing(trip: RoundTrip, to: str) -> Finding:
    return Finding.error(
        AREA,
        f"the round-trip message did not arrive in {trip.mailbox.description} within {trip.wait:g} s",
        f"look in the spam folder of {to} (then the DKIM, SPF and DMARC findings matter most); the relay "
        f"may still queue it (run doctor with a longer --wait); or {to} is not delivered to the mailbox "
        "NEWSLETTER_IMAP_* or NEWSLETTER_MAILDIR reads: give --to an address that is",
    )


def not_readable(to: str) -> Finding:
    return Finding.warning(
        AREA,
        f"no bounce mailbox to read the round-trip message back from; nothing was sent to {to}",
        "set NEWSLETTER_IMAP_HOST (with NEWSLETTER_IMAP_USERNAME and NEWSLETTER_IMAP_PASSWORD) or "
        "NEWSLETTER_MAILDIR to the mailbox that address is delivered to",
    )
