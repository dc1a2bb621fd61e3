"""What came back after an issue, in plain words for the staff: readers who unsubscribed or
complained, messages that bounced (for good or for now), and refusals that blame the sender rather
than an address, each with what to fix. `status` shows it under its tables, and dispatch's report
mail when a delivery is complete.

A refusal that blames the sender suppresses nobody (the address is fine; the next issue would be
refused the same way until the cause is fixed), so what to fix matters more than the count. It is
read from the server's words: the enhanced status codes Microsoft and Google document, else words
such as SPF, DMARC or "block list".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsletter.ledger import Ledger
from newsletter.model import address_key

# What to fix, by what the server's words say; the first that matches. Checked on lower-case words.
_FIXES: tuple[tuple[str, str], ...] = (
    (
        r"5\.7\.(515|509|26|27|23)\b|\bspf\b|\bdkim\b|\bdmarc\b|authenticat",
        "the receiving servers cannot verify that the domain of NEWSLETTER_FROM sent it: publish an SPF "
        "record and DKIM signing for that domain, and a DMARC policy (whoever runs its DNS or the mail "
        "relay can do this)",
    ),
    (
        r"5\.7\.(606|511)\b|block ?list|black ?list|spamhaus|\brbl\b|reputation|banned|\blisted\b",
        "the sending server is on a block list or has a poor reputation: ask whoever runs the mail relay "
        "(NEWSLETTER_SMTP_HOST) to have it delisted, or send through another relay",
    ),
    (
        r"5\.7\.28\b|too many|rate limit|unusual rate|throttl",
        "the provider limits how fast it takes mail from this sender: lower NEWSLETTER_RATE (and "
        "NEWSLETTER_DAILY_LIMIT) and let dispatch spread the issue over more time",
    ),
    (
        r"spam|content|policy|5\.7\.1\b|5\.7\.0\b",
        "the server took the message for spam or against its policy: check the links (a shortened or "
        "blocked domain) and the images, and send a test to an address at that provider",
    ),
)
_DEFAULT_FIX = (
    "the server refused the sender, not the address: give its words to whoever runs the mail relay "
    "(NEWSLETTER_SMTP_HOST)"
)
_WORDS = 200  # of the server's words, shown; the ledger keeps them all
_FIX_MARK = " — to fix: "


def what_to_fix(words: str) -> str:
    """What to do about a refusal that blames the sender, from the server's words."""
    lowered = words.lower()
    for pattern, fix in _FIXES:
        if re.search(pattern, lowered):
            return fix
    return _DEFAULT_FIX


@dataclass(frozen=True)
class Blame:
    """Refusals that blame the sender for the same reason: how many, one of them, and what to fix."""

    count: int
    words: str
    fix: str


@dataclass(frozen=True)
class CameBack:
    """What came back after one issue so far."""

    issue: str
    unsubscribed: int = 0
    complained: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    blamed: tuple[Blame, ...] = ()
    soft_suppressed: int = 0  # of the soft bounces, addresses suppressed since for failing again and again

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    def _bounced_words(self) -> str:
        words = f"{self.bounced} ({self.bounced_hard} for good, {self.bounced_soft} for now"
        if self.soft_suppressed:
            words += f"; {self.soft_suppressed} suppressed since, after repeated failures"
        return words + ")"

    def figures(self) -> list[tuple[str, str]]:
        """(name, value) for the report mail, in its order."""
        return [
            ("Unsubscribed", str(self.unsubscribed)),
            ("Complained", f"{self.complained} (marked it as spam)" if self.complained else "0"),
            ("Bounced", self._bounced_words()),
            ("Sender refused", str(sum(b.count for b in self.blamed))),
        ]

    def summary(self) -> str:
        """'4 unsubscribed, 1 complained, 3 bounced (2 for good, 1 for now)'; '' when nothing came."""
        parts = []
        if self.unsubscribed:
            parts.append(f"{self.unsubscribed} unsubscribed")
        if self.complained:
            parts.append(f"{self.complained} complained (marked it as spam)")
        if self.bounced:
            bounced = self._bounced_words()
            number, _, rest = bounced.partition(" ")
            parts.append(f"{number} bounced {rest}")
        return ", ".join(parts)

    def lines(self) -> list[str]:
        """The lines `status` prints for the issue: the summary, then each reason the sender was
        refused for, with what to fix; none when nothing came back."""
        shown = [f"{self.issue}: came back: {self.summary()}"] if self.summary() else []
        for blame in self.blamed:
            times = "1 refusal blames" if blame.count == 1 else f"{blame.count} refusals blame"
            shown.append(
                f"{self.issue}: {times} the sender, not the address (nobody was suppressed for it): "
                f'"{blame.words}"; to fix: {blame.fix}'
            )
        return shown


def came_back(ledger: Ledger, issue: str) -> CameBack:
    """What the ledger's feedback holds for `issue`."""
    counts = ledger.feedback_counts(issue)
    return CameBack(
        issue,
        unsubscribed=counts["unsubscribed"],
        complained=counts["complained"],
        bounced_hard=counts["bounced_hard"],
        bounced_soft=counts["bounced_soft"],
        blamed=_blamed(ledger, issue),
        soft_suppressed=_soft_suppressed(ledger, issue),
    )


def _soft_suppressed(ledger: Ledger, issue: str) -> int:
    """Addresses that bounced for now after `issue` and are suppressed as bounced since."""
    soft = {address_key(e.email) for e in ledger.feedback(kind="bounced_soft", issue=issue)}
    if not soft:
        return 0
    return sum(1 for s in ledger.suppressions() if s.reason == "bounced" and address_key(s.email) in soft)


def _blamed(ledger: Ledger, issue: str) -> tuple[Blame, ...]:
    """The sender-blamed refusals of `issue` by what to fix: servers put message ids in their words,
    so the same cause rarely has the same words twice."""
    by_fix: dict[str, list[str]] = {}
    for event in ledger.feedback(kind="sender_blamed", issue=issue):
        detail = " ".join(event.detail.split())
        # The mailbox records the server's words and what it made of them ("… — to fix: …"): its
        # reading of the status code is kept rather than guessed again from the words.
        words, _, fix = detail.partition(_FIX_MARK)
        by_fix.setdefault(fix or what_to_fix(words), []).append(words or "(no words)")
    return tuple(
        Blame(len(words), _cut(words[0]), fix)
        for fix, words in sorted(by_fix.items(), key=lambda item: -len(item[1]))
    )


def _cut(words: str) -> str:
    return words if len(words) <= _WORDS else words[: _WORDS - 1] + "…"
