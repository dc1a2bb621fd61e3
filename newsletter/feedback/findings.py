"""What one mail in the bounce mailbox turned out to be (`classify`): a bounce with its failed
recipients, a complaint, an unsubscribe request, or something to leave alone, with the words that
show it. Pure data, no ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from newsletter.feedback.blame import Blamed

FindingKind = Literal["bounce", "complaint", "unsubscribe", "auto_reply", "challenge", "unclassified"]


@dataclass(frozen=True)
class Failure:
    """One recipient a bounce reports as not delivered."""

    recipient: str  # the Final-Recipient, or the address the heuristic found
    status: str  # RFC 3463 code, "5.1.1"; "" if the bounce gives none
    words: str  # the server's words, on one line
    permanent: bool  # 5.x.x; False for 4.x.x, `Action: delayed` and a full mailbox
    blamed: Blamed  # "sender": the refusal is about our domain, server or content, not the address
    fix: str = ""  # for a refusal that blames the sender: what staff should fix
    original_recipient: str = ""  # the DSN's Original-Recipient: the address before forwarding
    action: str = ""  # the DSN's Action ("failed", "delayed"); "" for a bounce of another form


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    message_id: str | None  # of this mail itself, with <>
    # The Message-ID of the message it answers, from the returned headers (or the report's own
    # fields): how it is matched to the ledger. None when nothing was returned.
    original_message_id: str | None = None
    envelope: tuple[str, ...] = ()  # whom it was delivered to (Delivered-To…): a VERP address
    failures: tuple[Failure, ...] = ()  # for a bounce
    reader: str = ""  # for a complaint or an unsubscribe request: the reader it names
    detail: str = ""  # what it is in words: the form, the report type, the subject, why left alone
    form: str = ""  # how it was read: "RFC 3464", "ARF", "flufl.bounce", "mailto"…
