"""One pass over the bounce mailbox: every message read, judged by a handler, and the ones it acted on
taken out of the folder; what was done, counted for a person.

The handler is the seam to what decides: given one message's bytes it records what the message says
(a bounce, a complaint, an unsubscribe request) and answers with a `Verdict`. A message it acted on
now or before (`moved`) leaves the folder; one it left alone (an out-of-office reply, a bounce of
another mailing, something it does not understand) stays where it was, unseen as it was.

Recording comes first and taking out last, so a pass that stops in between (a lost connection, a
kill) leaves a message that was recorded in the folder: the next pass reads it again, the handler
knows its evidence, and it is taken out then. Reading the same mailbox twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from newsletter.feedback.mailbox import Lost, Source
from newsletter.ledger import Ledger


class Verdict(Protocol):
    """What the handler made of one message."""

    @property
    def moved(self) -> bool:
        """Acted on (recorded now or by an earlier pass): the message leaves the folder."""
        ...

    @property
    def kind(self) -> str:
        """What it is, one word: bounced_hard, bounced_soft, complained, unsubscribed, sender_blamed;
        for mail left alone e.g. auto-reply, challenge, other-mailing, unclassified."""
        ...

    @property
    def words(self) -> str:
        """The server's words; for a refusal that blames the sender, what to fix."""
        ...


Handle = Callable[[bytes], Verdict]


@dataclass(frozen=True)
class LeftAlone:
    """A verdict that leaves the message where it is."""

    kind: str = "unclassified"
    words: str = ""
    moved: bool = False


def leave_alone(data: bytes) -> Verdict:  # noqa: ARG001 - a Handle
    """The handler that acts on nothing: every message stays where it is, counted as not understood."""
    return LeftAlone()


# How the summary says each kind, one and several; a kind not named here is shown as it is.
_TAKEN_WORDS = {
    "bounced_hard": ("hard bounce", "hard bounces"),
    "bounced_soft": ("soft bounce", "soft bounces"),
    "complained": ("complaint", "complaints"),
    "unsubscribed": ("unsubscribe", "unsubscribes"),
    "sender_blamed": ("refusal that blames the sender", "refusals that blame the sender"),
}
_LEFT_WORDS = {
    "auto-reply": ("out-of-office", "out-of-office"),
    "out-of-office": ("out-of-office", "out-of-office"),
    "challenge": ("challenge-response", "challenge-responses"),
    "other-mailing": ("for another mailing", "for other mailings"),
    "another mailing": ("for another mailing", "for other mailings"),
    "unclassified": ("not understood", "not understood"),
    # As `feedback.handle` names them.
    "auto_reply": ("automatic reply", "automatic replies"),
    "other_mailing": ("for another mailing", "for other mailings"),
    "unknown_reader": ("about an address never sent to", "about addresses never sent to"),
}


def _counted(counts: Counter[str], words: dict[str, tuple[str, str]]) -> list[str]:
    order = [k for k in words if counts[k]] + sorted(k for k in counts if k not in words and counts[k])
    return [f"{counts[k]} {words.get(k, (k, k))[0 if counts[k] == 1 else 1]}" for k in order]


@dataclass
class PassReport:
    """What one pass did."""

    where: str
    dry_run: bool = False
    taken: Counter[str] = field(default_factory=Counter)  # by kind: acted on, out of the folder
    left: Counter[str] = field(default_factory=Counter)  # by kind: left where they were
    fixes: list[str] = field(default_factory=list)  # what the refusals that blame the sender say
    details: list[str] = field(default_factory=list)  # a dry run: what each message is, in order
    lost: str | None = None  # the connection was lost: why; the rest is read next time
    busy: bool = False  # another pass was reading the mailbox

    @property
    def messages(self) -> int:
        return self.taken.total() + self.left.total()

    def sentence(self) -> str:
        """'12 messages in INBOX on …: 5 hard bounces, 2 soft bounces, 1 complaint, 1 refusal that blames
        the sender; 2 left alone (1 out-of-office, 1 for another mailing)'. What each refusal asks to
        fix is in `fix_lines`."""
        if self.busy:
            return f"{self.where}: another mailbox pass is reading it right now; nothing done"
        if not self.messages:
            return f"no messages in {self.where}"
        total = self.messages
        said = f"{total} message{'s' if total != 1 else ''} in {self.where}"
        parts = []
        if self.taken:
            parts.append(", ".join(_counted(self.taken, _TAKEN_WORDS)))
        if self.left:
            parts.append(f"{self.left.total()} left alone ({', '.join(_counted(self.left, _LEFT_WORDS))})")
        return f"{said}: {'; '.join(parts)}"

    def fix_lines(self) -> list[str]:
        """One line per refusal that blames the sender: the server's words and what to fix (SPF, DKIM,
        DMARC, a blocklist, a content or policy block). Nobody was suppressed for these."""
        return [f"refused because of the sender, not the address: {words}" for words in self.fixes]

    @property
    def exit_code(self) -> int:
        """0 done; 1 the connection was lost midway (the next pass goes on)."""
        return 1 if self.lost else 0


def read_mailbox(
    source: Source, handle: Handle, ledger: Ledger | None, *, dry_run: bool = False
) -> PassReport:
    """One pass: every message of the folder judged by `handle`, those acted on taken out of it.

    `ledger` holds the lock that keeps two passes (a cron'd `mailbox` and a dispatch) from reading at
    once; None for a dry run, which takes nothing out (its handler must not record either). Raises
    MailboxError when the mailbox cannot be used, before any message is read.
    """
    report = PassReport(source.description, dry_run=dry_run)
    if ledger is None:
        _read(source, handle, report, dry_run=dry_run)
        return report
    with ledger.lock("mailbox") as mine:
        if not mine:
            report.busy = True
            return report
        _read(source, handle, report, dry_run=dry_run)
    return report


def _read(source: Source, handle: Handle, report: PassReport, *, dry_run: bool) -> None:
    with source.open(dry_run=dry_run) as folder:
        try:
            for batch in folder.batches():
                taken = []
                for message in batch:
                    verdict = handle(message.data)
                    if dry_run:
                        report.details.append(str(verdict))
                    if verdict.moved:
                        taken.append(message.key)
                        report.taken[verdict.kind] += 1
                        if verdict.kind == "sender_blamed" and verdict.words not in report.fixes:
                            report.fixes.append(verdict.words)
                    else:
                        report.left[verdict.kind] += 1
                if not dry_run:
                    folder.take(taken)
        except Lost as e:
            report.lost = str(e)
