"""What reading one mail from the bounce mailbox did, in words people read (`handle` returns it), and
the rules it went by."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from newsletter.ledger.feedback import FeedbackKind

Result = Literal["recorded", "already", "left alone"]
LeftAlone = Literal["auto_reply", "challenge", "other_mailing", "unknown_reader", "unclassified"]

# What a count of left-alone mail says, e.g. "3 automatic replies".
LEFT_ALONE_WORDS: dict[LeftAlone, tuple[str, str]] = {
    "auto_reply": ("automatic reply", "automatic replies"),
    "challenge": ("challenge-response", "challenge-responses"),
    "other_mailing": ("bounce of another mailing", "bounces of other mailings"),
    "unknown_reader": ("mail about an address the ledger never sent to", "mails about such addresses"),
    "unclassified": ("mail not understood", "mails not understood"),
}


@dataclass(frozen=True)
class Rules:
    """How the mailbox's mail is judged; `Settings.feedback_rules()` makes it from the settings."""

    unsubscribe_mailto: str | None = None  # NEWSLETTER_UNSUBSCRIBE_MAILTO
    bounce_address: str | None = None  # NEWSLETTER_BOUNCE_ADDRESS, perhaps with {token} (VERP)
    soft_bounce_limit: int = 3  # this many temporary failures…
    soft_bounce_period: dt.timedelta = dt.timedelta(days=90)  # …within this time suppress the address


@dataclass(frozen=True)
class Entry:
    """One thing recorded (or found recorded before) about one address."""

    kind: FeedbackKind
    email: str
    issue: str | None
    detail: str  # the words recorded with it: the server's, the reader's, what to fix
    new: bool  # False: the same evidence was recorded before, and nothing changed
    suppressed: bool  # this put the address on the suppression list
    count: str = ""  # for a soft bounce that did not suppress: "1 of 3 in 90 days"

    def describe(self) -> str:
        who = f"{self.email} ({self.issue})" if self.issue else self.email
        what = {
            "bounced_hard": f"hard bounce of {who}",
            "bounced_soft": f"soft bounce of {who}",
            "complained": f"complaint by {who}",
            "unsubscribed": f"unsubscribe request from {who}",
            "sender_blamed": f"refused because of the sender, not the address, for {who}",
        }[self.kind]
        if not self.new:
            return f"already recorded: {what}"
        if self.kind == "sender_blamed":
            return f"{what}; nobody suppressed: {self.detail}"
        if self.suppressed:
            return f"{what}, suppressed: {self.detail}"
        if self.kind == "bounced_soft":
            return f"{what}, {self.count}, not suppressed yet: {self.detail}"
        return f"{what}, already on the suppression list: {self.detail}"


@dataclass(frozen=True)
class Verdict:
    """`recorded` and `already` mail is done with (the mailbox reader moves it to the processed
    folder); `left alone` mail stays where it is, counted by `left_alone`."""

    result: Result
    entries: tuple[Entry, ...] = ()
    left_alone: LeftAlone | None = None
    note: str = ""  # what it (or a part of it) was and why it was left alone, in words

    @property
    def processed(self) -> bool:
        return self.result != "left alone"

    # What the mailbox pass (`run.Verdict`) reads of it: whether the mail leaves the folder, what it
    # was in one word, and the words staff need (for a refusal that blames the sender: what to fix).
    @property
    def moved(self) -> bool:
        return self.processed

    @property
    def kind(self) -> str:
        if self.entries:
            return self.entries[0].kind
        return self.left_alone or "unclassified"

    @property
    def words(self) -> str:
        return self.entries[0].detail if self.entries else self.note

    def describe(self) -> str:
        lines = [e.describe() for e in self.entries]
        if self.note:
            lines.append(f"left alone: {self.note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def verdict(entries: list[Entry], left_alone: LeftAlone, note: str) -> Verdict:
    """Recorded if anything was new, already if everything was known, else left alone."""
    if not entries:
        return Verdict("left alone", left_alone=left_alone, note=note)
    result: Result = "recorded" if any(e.new for e in entries) else "already"
    return Verdict(result, tuple(entries), note=note)
