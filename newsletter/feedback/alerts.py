"""Mail to the staff (NEWSLETTER_REPORT_TO) about what the bounce mailbox showed that a person must
act on: refusals that blame the sender rather than the address, with what to fix, a mailbox that
cannot be read, and a dispatch held because the unsubscribes of the endpoint cannot be fetched.

The summary of a delivery goes out once, when the delivery completes; bounces arrive after that, so a
refusal found later would reach nobody but the log. A refusal is mailed when a pass first records it;
a mailbox that cannot be read is mailed once a day while it lasts (a ledger note keeps when).
"""

from __future__ import annotations

import datetime as dt

from newsletter.delivering.staff_mail import Staff, mail_staff, staff_message
from newsletter.ledger import Ledger

_FAILED_NOTE = "mailbox failure mailed at"
_PULL_NOTE = "pull failure mailed at"
_FAILED_EVERY = dt.timedelta(hours=24)


def mail_refusals(staff: Staff, fixes: list[str], where: str, when: dt.datetime) -> str | None:
    """Tell the staff what each new refusal that blames the sender asks to fix; why not, if it failed."""
    lines = [
        f"Reading the bounce mailbox ({where}), mail servers were found refusing the newsletter because "
        "of how it is sent, not because of the address. Nobody was suppressed for these; until it is "
        "fixed, more readers at those providers will not get it.",
        "",
        *(f"- {words}" for words in fixes),
        "",
        "Details: newsletter status",
    ]
    subject = f"Newsletter: {len(fixes)} refusal{'s' if len(fixes) != 1 else ''} to fix in how it is sent"
    return mail_staff(staff, staff_message(staff, subject, when, "alert.refused", "\n".join(lines)))


def mail_failure(staff: Staff, ledger: Ledger, problem: str, when: dt.datetime) -> str | None:
    """Tell the staff the mailbox cannot be read, at most once a day; why not, if it failed."""
    text = (
        f"The bounce mailbox cannot be read: {problem}.\n\nUntil it is fixed, bounces, complaints and "
        "unsubscribe mails are not acted on (newsletters still go out). This message is sent at most "
        "once a day while it lasts.\n"
    )
    subject = "Newsletter: the bounce mailbox cannot be read"
    return _once_a_day(staff, ledger, _FAILED_NOTE, subject, text, "alert.mailbox", when)


def mail_pull_failure(staff: Staff, ledger: Ledger, problem: str, when: dt.datetime) -> str | None:
    """Tell the staff that dispatch holds the newsletter because the unsubscribes cannot be fetched,
    at most once a day; why not, if it failed."""
    text = (
        f"Dispatch is holding the newsletter: {problem}.\n\nNothing is sent until the unsubscribes of "
        "the endpoint can be fetched again: a late newsletter is better than mail to someone who left. "
        "Dispatch tries again at every run; once NEWSLETTER_DISPATCH_WINDOW has passed it no longer "
        "sends the issue by itself (newsletter dispatch --catch-up FILE does). This message is sent at "
        "most once a day while it lasts.\n"
    )
    subject = "Newsletter held: the unsubscribes cannot be fetched"
    return _once_a_day(staff, ledger, _PULL_NOTE, subject, text, "alert.pull", when)


def _once_a_day(
    staff: Staff, ledger: Ledger, note: str, subject: str, text: str, about: str, when: dt.datetime
) -> str | None:
    last = ledger.note(note)
    if last is not None and when - dt.datetime.fromisoformat(last) < _FAILED_EVERY:
        return None
    why = mail_staff(staff, staff_message(staff, subject, when, about, text))
    if why is None:
        ledger.set_note(note, when.isoformat())
    return why
