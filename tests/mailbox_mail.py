"""Mail as it arrives in a bounce mailbox, for the mailbox tests: Postfix's bounce of one of our messages
(RFC 3464), an out-of-office reply, a message nobody can place; and `StandIn`, a simple handler that
tells them apart by their subject and records the bounces in the ledger, until the mailbox tests run
with the real classifier. Plain helpers without asserts."""

from __future__ import annotations

import datetime as dt
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser

from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback

T0 = dt.datetime(2026, 1, 21, 8, 0, tzinfo=dt.UTC)


def postfix_bounce(recipient: str, n: int, original_id: str = "<2026-01.0a1b2c@example.org>") -> bytes:
    """What Postfix sends back when `recipient`'s mailbox does not exist: 550 5.1.1, the headers returned."""
    return f"""\
Return-Path: <>
Received: from mx.example.com (mx.example.com [192.0.2.25])
\tby imap.example.org (Postfix) with ESMTP id 4Zx{n:05d}
\tfor <bounces@example.org>; Wed, 21 Jan 2026 09:00:{n % 60:02d} +0100 (CET)
Date: Wed, 21 Jan 2026 09:00:{n % 60:02d} +0100 (CET)
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4Zx{n:05d}.1768982400/mx.example.com"
Message-Id: <20260121080000.4Zx{n:05d}@mx.example.com>

This is a MIME-encapsulated message.

--4Zx{n:05d}.1768982400/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mx.example.com[192.0.2.25] said: 550 5.1.1 <{recipient}>:
    Recipient address rejected: User unknown in local recipient table

--4Zx{n:05d}.1768982400/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 4Zx{n:05d}
Arrival-Date: Wed, 21 Jan 2026 09:00:00 +0100 (CET)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User
    unknown in local recipient table

--4Zx{n:05d}.1768982400/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: POM Limburg <nieuwsbrief@example.org>
To: <{recipient}>
Subject: Limburg op de internationale kaart
Message-ID: {original_id}

--4Zx{n:05d}.1768982400/mx.example.com--
""".replace("\n", "\r\n").encode()


def out_of_office(sender: str, n: int) -> bytes:
    return f"""\
From: {sender}
To: nieuwsbrief@example.org
Subject: Out of office: Limburg op de internationale kaart
Auto-Submitted: auto-replied
Date: Wed, 21 Jan 2026 09:01:{n % 60:02d} +0100
Message-ID: <ooo-{n}@example.com>
Content-Type: text/plain; charset=utf-8

Ik ben afwezig tot en met 2 februari. Voor dringende zaken: 043 000 00 00.
""".replace("\n", "\r\n").encode()


def stray(n: int) -> bytes:
    return f"""\
From: someone@example.com
To: bounces@example.org
Subject: Vraagje {n}
Date: Wed, 21 Jan 2026 10:00:00 +0100
Message-ID: <stray-{n}@example.com>

Kunt u mij bellen?
""".replace("\n", "\r\n").encode()


@dataclass(frozen=True)
class Judged:
    moved: bool
    kind: str
    words: str = ""


_FINAL = re.compile(r"^Final-Recipient:\s*rfc822;\s*(\S+)", re.M | re.I)


@dataclass
class StandIn:
    """A bounce by its subject, recorded in the ledger once by its Message-ID; an out-of-office reply
    and anything else left alone. `on_message` runs before each judgement (to stop a server midway)."""

    ledger: Ledger | None = None
    judged: list[str] = field(default_factory=list)  # the Message-ID of every message judged, in order
    recorded: int = 0
    on_message: Callable[[int], None] | None = None  # given how many were judged so far

    def __call__(self, data: bytes) -> Judged:
        message = BytesParser(policy=email.policy.default).parsebytes(data)
        subject, mid = str(message["Subject"]), str(message["Message-ID"])
        self.judged.append(mid)
        if self.on_message is not None:
            self.on_message(len(self.judged))
        if subject.startswith("Undelivered Mail"):
            found = _FINAL.search(data.decode("ascii", "replace"))
            email_address = found.group(1) if found else ""
            if self.ledger is not None and self.ledger.record(
                Feedback("bounced_hard", email_address, "mailbox", T0, detail="550 5.1.1", evidence=mid)
            ):
                self.recorded += 1
            return Judged(True, "bounced_hard", "550 5.1.1 User unknown")
        if subject.startswith("Out of office"):
            return Judged(False, "auto-reply")
        return Judged(False, "unclassified")
