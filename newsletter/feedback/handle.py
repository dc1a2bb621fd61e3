"""One mail from the bounce mailbox, acted on: `handle(data, ledger, rules, now) -> Verdict`.

What `classify` found is matched to the ledger, in this order:
1. the Message-ID of the message it answers (`ledger.find_message`);
2. the VERP tag of the address it was delivered to (`bounces+{token}@…`, `ledger.find_tag`);
3. for a report that returned no Message-ID: the address it names, if the ledger sent to it.
A report whose returned Message-ID the ledger does not know is about another mailing: left alone,
even when the address is one of ours.

Then, per address: a permanent failure suppresses it (bounced); a temporary one is counted, and the
`soft_bounce_limit`-th within `soft_bounce_period` suppresses it; a refusal that blames the sender is
recorded for staff and suppresses nobody; a complaint and an unsubscribe request suppress.

Reading the same mail twice changes nothing: each row's evidence is the mail's Message-ID (or a
digest of its bytes) and the address. A soft bounce's evidence is the message it answers, the issue
and the address, instead: a server that sends "still trying" notices on the first day and gives up on
the fifth, for one mailbox that is full, has failed once, not three times.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace

from newsletter.composing import tokens
from newsletter.delivering.schedule import describe
from newsletter.feedback.classify import Failure, Finding, classify
from newsletter.feedback.verdict import Entry, Rules, Verdict, verdict
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import SUPPRESSES, Feedback
from newsletter.model import address_key
from newsletter.reading.recipients import check_address

__all__ = ["Rules", "Verdict", "handle"]


_KIND_WORDS = {"bounce": "a bounce for", "complaint": "a complaint about"}


@dataclass(frozen=True)
class _Sent:
    """The message a report answers: to whom, in which issue."""

    issue: str
    email: str


def handle(data: bytes, ledger: Ledger, rules: Rules, now: dt.datetime) -> Verdict:
    """Classify the mail `data`, record what it says in `ledger`, and say what happened."""
    finding = classify(data, unsubscribe_mailto=rules.unsubscribe_mailto)
    # The same mail fetched over IMAP (CRLF) or from a Maildir (LF) is one piece of evidence.
    proof = finding.message_id or "sha256:" + hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()
    if finding.kind in ("auto_reply", "challenge", "unclassified"):
        return Verdict("left alone", left_alone=finding.kind, note=finding.detail)
    if finding.kind == "unsubscribe":
        return _unsubscribe(finding, ledger, rules, now, proof)
    sent = _sent(finding, ledger, rules)
    tagged = _tagged(finding, rules)
    if sent is None and tagged:
        # Addressed to a tagged bounce address whose message the ledger did not record (a test send,
        # another project's): about no delivery of ours, whatever address it names.
        return Verdict(
            "left alone",
            left_alone="other_mailing",
            note=f"{_KIND_WORDS[finding.kind]} a message the ledger did not send: it came back to {tagged}",
        )
    if sent is None and finding.original_message_id:
        return Verdict(
            "left alone",
            left_alone="other_mailing",
            note=f"{_KIND_WORDS[finding.kind]} another mailing: it answers {finding.original_message_id}, "
            "which the ledger did not send",
        )
    if finding.kind == "complaint":
        return _complaint(finding, sent, ledger, now, proof)
    entries: list[Entry] = []
    strangers: list[str] = []
    for failure in finding.failures:
        whom = _addressee(failure, sent, len(finding.failures), ledger)
        if whom is None:
            strangers.append(failure.recipient or "a recipient without an address")
        else:
            entries.append(_bounce(failure, whom, ledger, rules, now, proof))
    note = f"a bounce for {', '.join(strangers)}, not an address the ledger sent to" if strangers else ""
    return verdict(entries, "unknown_reader", note)


def _sent(finding: Finding, ledger: Ledger, rules: Rules) -> _Sent | None:
    if finding.original_message_id and (hit := ledger.find_message(finding.original_message_id)):
        return _Sent(*hit)
    if rules.bounce_address:
        for candidate in finding.envelope:
            tag = tokens.tag_in_address(rules.bounce_address, candidate)
            if tag and (hit := ledger.find_tag(tag)):
                return _Sent(*hit)
    return None


def _tagged(finding: Finding, rules: Rules) -> str | None:
    """The tagged bounce address (VERP) the mail was delivered to, if any."""
    if not rules.bounce_address:
        return None
    return next((a for a in finding.envelope if tokens.tag_in_address(rules.bounce_address, a)), None)


def _addressee(failure: Failure, sent: _Sent | None, reported: int, ledger: Ledger) -> _Sent | None:
    """Whom one failure is about. With the message known, its recipient: a report of one failure is
    about that message's address even when a forward changed it. Else (or for one of several failures
    that names another address) the address it names, if the ledger sent to it."""
    named = [a for a in (failure.original_recipient, failure.recipient) if a]
    if sent is not None and (reported == 1 or address_key(sent.email) in {address_key(a) for a in named}):
        return sent
    for candidate in named:
        issue = ledger.latest_issue_to(candidate)
        if issue is not None:
            return _Sent(issue, candidate)
    return None


def _record(ledger: Ledger, event: Feedback, *, suppress_as: str | None = None, count: str = "") -> Entry:
    listed_before = bool(event.email) and ledger.is_suppressed(event.email)
    new = ledger.record(event, suppress_as=suppress_as)
    suppresses = bool(suppress_as or SUPPRESSES.get(event.kind))
    return Entry(
        kind=event.kind,
        email=event.email,
        issue=event.issue,
        detail=event.detail,
        new=new,
        suppressed=new and suppresses and not listed_before,
        count=count,
    )


def _bounce(
    failure: Failure, whom: _Sent, ledger: Ledger, rules: Rules, now: dt.datetime, proof: str
) -> Entry:
    key = address_key(whom.email)
    words = failure.words or failure.status or "no reason given"
    if (
        failure.recipient
        and address_key(failure.recipient) != key
        and failure.recipient.lower() not in words.lower()
    ):
        words = f"{words} (as {failure.recipient})"
    base = Feedback("bounced_hard", whom.email, "mailbox", now, whom.issue, words, f"{proof} {key}")
    if failure.blamed == "sender":
        detail = f"{words} — to fix: {failure.fix}"
        return _record(ledger, replace(base, kind="sender_blamed", detail=detail))
    if failure.permanent:
        return _record(ledger, base)
    evidence = f"soft bounce {whom.issue} {key}"
    soft = replace(base, kind="bounced_soft", evidence=evidence)
    if ledger.knows_evidence(evidence):
        return _record(ledger, soft)  # records nothing: says "already"
    period = describe(rules.soft_bounce_period)
    count = ledger.soft_bounces(whom.email, now - rules.soft_bounce_period) + 1
    if count < rules.soft_bounce_limit:
        return _record(ledger, soft, count=f"{count} of {rules.soft_bounce_limit} in {period}")
    detail = f"{count} temporary failures in {period}: {words}"
    return _record(ledger, replace(soft, detail=detail), suppress_as="bounced")


def _complaint(finding: Finding, sent: _Sent | None, ledger: Ledger, now: dt.datetime, proof: str) -> Verdict:
    if sent is None and finding.reader and (issue := ledger.latest_issue_to(finding.reader)):
        sent = _Sent(issue, finding.reader)
    if sent is None:
        who = (
            f"{finding.reader}, an address the ledger never sent to" if finding.reader else "nobody it names"
        )
        return Verdict("left alone", left_alone="unknown_reader", note=f"a complaint about {who}")
    evidence = f"{proof} {address_key(sent.email)}"
    event = Feedback("complained", sent.email, "mailbox", now, sent.issue, finding.detail, evidence)
    return verdict([_record(ledger, event)], "unknown_reader", "")


def _unsubscribe(finding: Finding, ledger: Ledger, rules: Rules, now: dt.datetime, proof: str) -> Verdict:
    """A request mailed to the unsubscribe address suppresses its sender, whether or not the ledger
    sent to that address: leaving a list one is not on changes nothing for anyone else."""
    try:  # as the audience is written: the domain in lower case, in unicode
        reader = check_address(finding.reader)
    except ValueError:
        reader = finding.reader
    if ledger.latest_issue_to(reader) is None:
        # Written from an address no issue went to ("please remove my work address"): suppressing
        # the sender would change nothing, and the reader it means would go on getting the issue.
        return Verdict(
            "left alone",
            left_alone="unknown_reader",
            note=f"an unsubscribe request from {reader}, an address no issue went to: see whom it means",
        )
    detail = f"mailed {rules.unsubscribe_mailto}, {finding.detail}"
    # The issue it replies to, when it is a reply to one of ours; else the last one the reader had.
    replied = ledger.find_message(finding.original_message_id) if finding.original_message_id else None
    event = Feedback(
        "unsubscribed",
        reader,
        "mailto",
        now,
        replied[0] if replied else ledger.latest_issue_to(reader),
        detail,
        f"{proof} {address_key(reader)}",
    )
    return verdict([_record(ledger, event)], "unknown_reader", "")
