"""The mail in tests/mail/ — bounces, complaints, unsubscribe requests and replies as servers and
readers send them — and a ledger whose deliveries they answer.

The corpus answers the issue 2026-01 of the list nieuwsbrief.example.org, sent by POM Limburg
<nieuwsbrief@example.org> with the envelope sender bounces+{token}@example.org (VERP): the Message-IDs
and VERP tags in the files are the ones the product gives those readers (`message_id`). `corpus_ledger`
writes a delivery of that issue to 300 readers plus the corpus's own, every one sent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from newsletter.composing import message
from newsletter.ledger import Ledger
from newsletter.model import Recipient

MAIL = Path(__file__).resolve().parent / "mail"
LIST_ID = "nieuwsbrief.example.org"
BOUNCE_ADDRESS = "bounces+{token}@example.org"
UNSUBSCRIBE_MAILTO = "afmelden@example.org"
ISSUE = "2026-01"
T0 = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)

# The readers the corpus's mail is about, each in the delivery.
READERS = [
    f"{name}@example.com"
    for name in (
        "an.peeters",
        "bram.janssens",
        "chris.maes",
        "dirk.wouters",
        "els.claes",
        "frank.jacobs",
        "greet.mertens",
        "hans.willems",
        "ilse.goossens",
        "jan.wouters",
        "karin.dubois",
        "kim.peeters",
        "luc.lambert",
        "marc.dupont",
        "nina.hermans",
        "olaf.smet",
        "pieter.vos",
        "rita.segers",
        "sofie.aerts",
    )
]
AUDIENCE = [Recipient(f"lid{i:03d}@example.com", f"Lid{i}") for i in range(1, 301)] + [
    Recipient(email, email.split(".")[0].title()) for email in READERS
]


def message_id(email: str, issue: str = ISSUE) -> str:
    """The Message-ID the product gives this reader's copy of `issue`."""
    return message.message_id(issue, LIST_ID, email, "example.org")


def mail(name: str) -> bytes:
    """The bytes of tests/mail/<name>.eml, as received."""
    return (MAIL / f"{name}.eml").read_bytes()


def corpus_names() -> list[str]:
    return sorted(p.stem for p in MAIL.glob("*.eml"))


def deliver(ledger: Ledger, issue: str, at: dt.datetime) -> None:
    """`issue` delivered to the whole audience at `at`, with the product's Message-IDs."""
    ledger.start(
        issue,
        subject=f"Nieuwsbrief {issue}",
        content_hash=f"hash-{issue}",
        audience_source="leden.csv",
        recipients=AUDIENCE,
        now=at,
        list_id=LIST_ID,
    )
    for person in AUDIENCE:
        ledger.mark_sending(issue, person.email, message_id(person.email, issue), at)
        ledger.mark(issue, person.email, "sent", "250 2.0.0 Ok: queued", at)


def corpus_ledger(path: Path, issues: dict[str, dt.datetime] | None = None) -> Path:
    """A ledger file at `path` with the deliveries of `issues` (default: 2026-01 at T0), closed."""
    with Ledger(path) as ledger:
        for issue, at in (issues or {ISSUE: T0}).items():
            deliver(ledger, issue, at)
    return path


def answering(data: bytes, issue: str, email: str, serial: str) -> bytes:
    """A copy of a corpus mail about `email`'s copy of ISSUE, made about its copy of `issue` instead,
    with a Message-ID of its own (`serial` in it): the same server's answer to another issue."""
    old, new = message_id(email), message_id(email, issue)
    tag_old, tag_new = old.split(".")[1].split("@")[0], new.split(".")[1].split("@")[0]
    data = data.replace(old[1:-1].encode(), new[1:-1].encode()).replace(tag_old.encode(), tag_new.encode())
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(b"message-id:"):
            lines[i] = (
                b"Message-Id: <"
                + serial.encode()
                + b"@mail.example.org>"
                + (b"\r" if line.endswith(b"\r") else b"")
            )
            break
    return b"\n".join(lines)
