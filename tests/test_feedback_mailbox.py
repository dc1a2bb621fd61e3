"""The bounce mailbox's mail acted on against a real ledger that delivered an issue to 319 readers:
who is suppressed, with which reason, source and words; what is left alone; and that reading the
same mail again changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from mail_corpus import (
    BOUNCE_ADDRESS,
    ISSUE,
    READERS,
    T0,
    UNSUBSCRIBE_MAILTO,
    answering,
    corpus_ledger,
    corpus_names,
    mail,
    message_id,
)

from newsletter.config import Settings
from newsletter.delivering.came_back import came_back
from newsletter.errors import ConfigError
from newsletter.feedback.handle import Rules, Verdict, handle
from newsletter.ledger import Ledger

RULES = Rules(unsubscribe_mailto=UNSUBSCRIBE_MAILTO, bounce_address=BOUNCE_ADDRESS)
LATER = T0 + dt.timedelta(hours=3)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(corpus_ledger(tmp_path / "newsletter.sqlite3")) as ledger:
        yield ledger


def _state(ledger: Ledger) -> tuple[object, ...]:
    """Everything the mailbox may change: the suppression list, the feedback and the rows' statuses."""
    return (ledger.suppressions(), ledger.feedback(), ledger.counts(ISSUE))


def _read(name: str, ledger: Ledger, rules: Rules = RULES, at: dt.datetime = LATER) -> Verdict:
    return handle(mail(name), ledger, rules, at)


@pytest.mark.parametrize(
    ("name", "email", "words"),
    [
        ("postfix-user-unknown", "an.peeters@example.com", "550 5.1.1 <an.peeters@example.com>: Recipient"),
        ("exchange-online-recipient-not-found", "bram.janssens@example.com", "550 5.1.10 RESOLVER.ADR"),
        ("gmail-no-such-user", "chris.maes@example.com", "550 5.1.1 The email account that you tried"),
        ("qmail-no-mailbox", "nina.hermans@example.com", "Sorry, no mailbox here by that name. (#5.1.1)"),
        ("verp-forwarded", "rita.segers@example.com", "550 5.1.1 <rita@mail.example.com>"),
    ],
)
def test_a_hard_bounce_suppresses_its_reader_with_the_servers_words_once(
    name: str, email: str, words: str, ledger: Ledger
) -> None:
    verdict = _read(name, ledger)
    assert verdict.result == "recorded", verdict.describe()
    (entry,) = verdict.entries
    assert (entry.kind, entry.email, entry.issue, entry.suppressed) == ("bounced_hard", email, ISSUE, True)
    (listed,) = ledger.suppressions()
    assert (listed.email, listed.reason, listed.source, listed.issue) == (email, "bounced", "mailbox", ISSUE)
    assert listed.detail.startswith(words)
    assert f"hard bounce of {email} ({ISSUE}), suppressed: {words}" in verdict.describe()
    assert ledger.feedback_counts(ISSUE)["bounced_hard"] == 1
    before = _state(ledger)
    again = _read(name, ledger, at=LATER + dt.timedelta(minutes=5))
    assert (again.result, again.processed) == ("already", True)
    assert again.describe() == f"already recorded: hard bounce of {email} ({ISSUE})"
    assert _state(ledger) == before


def test_the_whole_corpus_read_twice_suppresses_exactly_who_left_or_is_gone(ledger: Ledger) -> None:
    first = {name: _read(name, ledger) for name in corpus_names()}
    listed = {(s.email.lower(), s.reason, s.source) for s in ledger.suppressions()}
    assert listed == {
        *(
            (f"{n}@example.com", "bounced", "mailbox")
            for n in ("an.peeters", "bram.janssens", "chris.maes", "nina.hermans", "olaf.smet", "rita.segers")
        ),
        ("jan.wouters@example.com", "complained", "mailbox"),
        ("kim.peeters@example.com", "complained", "mailbox"),
        ("karin.dubois@example.com", "unsubscribed", "mailto"),
        ("luc.lambert@example.com", "unsubscribed", "mailto"),
    }
    assert ledger.feedback_counts(ISSUE) == {
        "bounced_hard": 6,
        "bounced_soft": 2,  # dirk.wouters's full mailbox, pieter.vos's unreachable server
        "complained": 2,
        "unsubscribed": 2,
        "sender_blamed": 3,  # Outlook's 5.7.515, the spam filter, Spamhaus
    }
    left = {name: v.left_alone for name, v in first.items() if not v.processed}
    assert left == {
        "out-of-office-nl": "auto_reply",
        "out-of-office-en": "auto_reply",
        "challenge-response": "challenge",
        "dsn-other-mailing": "other_mailing",
    }
    # The readers still due in a delivery under way would be skipped: 10 suppressed of 319.
    assert ledger.counts(ISSUE).sent == 319
    before = _state(ledger)
    second = {name: _read(name, ledger, at=LATER + dt.timedelta(days=1)) for name in corpus_names()}
    assert {name: v.result for name, v in second.items()} == {
        name: "already" if v.processed else "left alone" for name, v in first.items()
    }
    assert _state(ledger) == before


def test_a_refusal_that_blames_the_sender_suppresses_nobody_and_says_what_to_fix(ledger: Ledger) -> None:
    verdict = _read("outlook-sender-not-authenticated", ledger)
    (entry,) = verdict.entries
    assert (verdict.result, entry.kind, entry.email, entry.suppressed) == (
        "recorded",
        "sender_blamed",
        "els.claes@example.com",
        False,
    )
    assert entry.detail.startswith("550 5.7.515 Access denied, sending domain [EXAMPLE.ORG] does not meet")
    assert "— to fix: set up SPF, DKIM and DMARC for the domain of NEWSLETTER_FROM" in entry.detail
    assert str(verdict).startswith(
        "refused because of the sender, not the address, for els.claes@example.com (2026-01); "
        "nobody suppressed: 550 5.7.515 Access denied"
    )
    assert ledger.suppressions() == []
    (recorded,) = ledger.feedback(kind="sender_blamed")
    assert recorded.detail == entry.detail
    assert ledger.feedback_counts(ISSUE)["sender_blamed"] == 1


@pytest.mark.parametrize(
    "name", ["dsn-other-mailing", "out-of-office-nl", "out-of-office-en", "challenge-response"]
)
def test_mail_that_is_no_bounce_of_ours_leaves_the_ledger_as_it_was(name: str, ledger: Ledger) -> None:
    before = _state(ledger)
    verdict = _read(name, ledger)
    assert (verdict.result, verdict.processed, verdict.entries) == ("left alone", False, ())
    assert _state(ledger) == before


def test_a_dsn_for_another_mailing_is_left_alone_though_the_address_is_ours(ledger: Ledger) -> None:
    verdict = _read("dsn-other-mailing", ledger)
    assert ledger.latest_issue_to("marc.dupont@example.com") == ISSUE
    assert verdict.left_alone == "other_mailing"
    assert str(verdict) == (
        "left alone: a bounce for another mailing: it answers <20260114093058.crm.7f3a91@crm.example.org>, "
        "which the ledger did not send"
    )
    assert not ledger.is_suppressed("marc.dupont@example.com")


def test_a_dsn_reporting_two_recipients_records_each_by_its_address(ledger: Ledger) -> None:
    verdict = _read("dsn-two-recipients", ledger)
    hard, soft = verdict.entries
    assert (hard.kind, hard.email, hard.suppressed) == ("bounced_hard", "olaf.smet@example.com", True)
    assert (soft.kind, soft.email, soft.suppressed, soft.count) == (
        "bounced_soft",
        "pieter.vos@example.com",
        False,
        "1 of 3 in 90 days",
    )
    assert (
        "soft bounce of pieter.vos@example.com (2026-01), 1 of 3 in 90 days, not suppressed yet: 451 4.4.1"
        in (verdict.describe())
    )
    assert [s.email for s in ledger.suppressions()] == ["olaf.smet@example.com"]
    assert len({f.evidence for f in ledger.feedback()}) == 2


def test_without_verp_a_bounce_that_returned_nothing_names_an_address_the_ledger_never_sent_to(
    ledger: Ledger,
) -> None:
    verdict = _read("verp-forwarded", ledger, Rules(unsubscribe_mailto=UNSUBSCRIBE_MAILTO))
    # The Original-Recipient is ours: the forwarder said whom the message was for.
    assert [e.email for e in verdict.entries] == ["rita.segers@example.com"]
    stripped = mail("verp-forwarded").replace(b"Original-Recipient: rfc822;rita.segers@example.com\n", b"")
    before = _state(ledger)
    verdict = handle(stripped, ledger, Rules(), LATER)
    assert (verdict.result, verdict.left_alone) == ("left alone", "unknown_reader")
    assert str(verdict) == "left alone: a bounce for rita@mail.example.com, not an address the ledger sent to"
    assert _state(ledger) == before


def test_a_complaint_is_matched_by_its_message_id_when_the_address_is_redacted(ledger: Ledger) -> None:
    verdict = _read("arf-complaint-yahoo", ledger)
    (entry,) = verdict.entries
    assert (entry.kind, entry.email, entry.issue, entry.suppressed) == (
        "complained",
        "jan.wouters@example.com",
        ISSUE,
        True,
    )
    (listed,) = ledger.suppressions()
    assert (listed.reason, listed.source, listed.detail) == (
        "complained",
        "mailbox",
        "abuse report from Yahoo!-Mail-Feedback/2.0",
    )
    assert ledger.feedback_counts(ISSUE)["complained"] == 1


@pytest.mark.parametrize(
    ("name", "email", "words"),
    [
        (
            "mailto-unsubscribe-gmail",
            "karin.dubois@example.com",
            "mailed afmelden@example.org, subject 'unsubscribe'",
        ),
        (
            "mailto-unsubscribe-nl",
            "Luc.Lambert@example.com",
            "mailed afmelden@example.org, subject 'Afmelden nieuwsbrief'",
        ),
    ],
)
def test_a_request_mailed_to_the_unsubscribe_address_suppresses_its_sender(
    name: str, email: str, words: str, ledger: Ledger
) -> None:
    verdict = _read(name, ledger)
    (entry,) = verdict.entries
    assert (entry.kind, entry.email, entry.issue, entry.suppressed) == ("unsubscribed", email, ISSUE, True)
    (listed,) = ledger.suppressions()
    assert (listed.email, listed.reason, listed.source, listed.detail) == (
        email,
        "unsubscribed",
        "mailto",
        words,
    )
    assert ledger.is_suppressed(email.lower())
    assert _read(name, ledger).result == "already"


def test_a_mail_without_a_message_id_is_known_by_its_bytes_whatever_its_line_ends(ledger: Ledger) -> None:
    data = mail("qmail-no-mailbox")
    assert b"\r\n" not in data
    assert b"\nMessage-ID" not in data.split(b"\n\n")[0]
    assert handle(data, ledger, RULES, LATER).result == "recorded"
    before = _state(ledger)
    assert handle(data.replace(b"\n", b"\r\n"), ledger, RULES, LATER).result == "already"
    assert _state(ledger) == before


@pytest.fixture
def three_issues(tmp_path: Path) -> Iterator[Ledger]:
    """2026-01, 2026-02 and 2026-03 delivered four weeks apart."""
    issues = {"2026-01": T0, "2026-02": T0 + dt.timedelta(days=28), "2026-03": T0 + dt.timedelta(days=56)}
    with Ledger(corpus_ledger(tmp_path / "newsletter.sqlite3", issues)) as ledger:
        yield ledger


DIRK = "dirk.wouters@example.com"


def test_a_full_mailbox_suppresses_at_the_third_issue_and_not_before(three_issues: Ledger) -> None:
    ledger = three_issues
    full = mail("mailbox-full-delayed")
    first = handle(full, ledger, RULES, T0 + dt.timedelta(hours=4))
    assert (first.entries[0].kind, first.entries[0].count) == ("bounced_soft", "1 of 3 in 90 days")
    # The same server, still trying the same message a day later: the same failure.
    retry = answering(full, "2026-01", DIRK, "20260121090215.8A1B2C3D4F")
    assert handle(retry, ledger, RULES, T0 + dt.timedelta(days=1)).result == "already"
    february = answering(full, "2026-02", DIRK, "20260217090215.9B2C3D4E5F")
    second = handle(february, ledger, RULES, T0 + dt.timedelta(days=28, hours=4))
    assert (second.entries[0].count, second.entries[0].suppressed) == ("2 of 3 in 90 days", False)
    assert not ledger.is_suppressed(DIRK)
    march = answering(full, "2026-03", DIRK, "20260317090215.0C3D4E5F6A")
    third = handle(march, ledger, RULES, T0 + dt.timedelta(days=56, hours=4))
    (entry,) = third.entries
    assert (entry.kind, entry.issue, entry.suppressed) == ("bounced_soft", "2026-03", True)
    (listed,) = ledger.suppressions()
    assert (listed.email, listed.reason, listed.source, listed.issue) == (
        DIRK,
        "bounced",
        "mailbox",
        "2026-03",
    )
    assert (
        listed.detail == "3 temporary failures in 90 days: 452 4.2.2 <dirk.wouters@example.com>: Mailbox full"
    )
    assert [ledger.feedback_counts(i)["bounced_soft"] for i in ("2026-01", "2026-02", "2026-03")] == [1, 1, 1]
    # What status says of it: bounced for now, and suppressed since.
    assert came_back(ledger, "2026-03").summary() == (
        "1 bounced (0 for good, 1 for now; 1 suppressed since, after repeated failures)"
    )


def test_temporary_failures_older_than_the_period_do_not_count(three_issues: Ledger) -> None:
    rules = Rules(soft_bounce_limit=2, soft_bounce_period=dt.timedelta(days=30))
    full = mail("mailbox-full-delayed")
    handle(full, three_issues, rules, T0)
    march = answering(full, "2026-03", DIRK, "20260317090215.0C3D4E5F6A")
    verdict = handle(march, three_issues, rules, T0 + dt.timedelta(days=56))
    assert (verdict.entries[0].count, verdict.entries[0].suppressed) == ("1 of 2 in 30 days", False)
    february = answering(full, "2026-02", DIRK, "20260217090215.9B2C3D4E5F")
    verdict = handle(february, three_issues, rules, T0 + dt.timedelta(days=57))
    assert verdict.entries[0].suppressed
    assert three_issues.suppressions()[0].detail.startswith("2 temporary failures in 30 days: 452 4.2.2")


def test_the_rules_come_from_the_settings(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "NEWSLETTER_UNSUBSCRIBE_MAILTO": "afmelden@example.org",
        "NEWSLETTER_BOUNCE_ADDRESS": "bounces+{token}@example.org",
        "NEWSLETTER_SOFT_BOUNCE_LIMIT": "5",
        "NEWSLETTER_SOFT_BOUNCE_PERIOD": "60d",
    }.items():
        monkeypatch.setenv(name, value)
    assert Settings().feedback_rules() == Rules(
        unsubscribe_mailto="afmelden@example.org",
        bounce_address="bounces+{token}@example.org",
        soft_bounce_limit=5,
        soft_bounce_period=dt.timedelta(days=60),
    )
    for name in (
        "NEWSLETTER_UNSUBSCRIBE_MAILTO",
        "NEWSLETTER_BOUNCE_ADDRESS",
        "NEWSLETTER_SOFT_BOUNCE_LIMIT",
    ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSLETTER_SOFT_BOUNCE_PERIOD", "a month")
    with pytest.raises(
        ConfigError, match="NEWSLETTER_SOFT_BOUNCE_PERIOD='a month': write a number and a unit"
    ):
        Settings().feedback_rules()
    monkeypatch.delenv("NEWSLETTER_SOFT_BOUNCE_PERIOD")
    assert Settings().feedback_rules() == Rules()


def test_a_bounce_to_a_tagged_address_the_ledger_never_sent_is_left_alone(ledger: Ledger) -> None:
    """A test send or another project's message came back: it names one of our readers, but answers
    no delivery of ours, so nobody is suppressed for it."""
    reader = READERS[0]
    data = (
        "From: MAILER-DAEMON@mx.example.com\r\n"
        f"To: bounces+{'0' * 32}@example.org\r\n"
        f"Delivered-To: bounces+{'0' * 32}@example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <stray-tag@mx.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {reader}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--b--\r\n"
    ).encode()
    before = _state(ledger)
    verdict = handle(data, ledger, RULES, LATER)
    assert (verdict.result, verdict.left_alone) == ("left alone", "other_mailing")
    assert _state(ledger) == before


def test_an_unsubscribe_mail_that_replies_to_an_older_issue_is_counted_under_that_issue(
    three_issues: Ledger,
) -> None:
    reader = READERS[2]
    data = (
        f"From: <{reader}>\r\nTo: {UNSUBSCRIBE_MAILTO}\r\nSubject: Re: uitschrijven\r\n"
        f"In-Reply-To: {message_id(reader, '2026-01')}\r\nMessage-ID: <reply-old@mail.example.com>\r\n\r\n"
        "Uitschrijven graag.\r\n"
    ).encode()
    verdict = handle(data, three_issues, RULES, LATER)
    assert [(e.kind, e.issue) for e in verdict.entries] == [("unsubscribed", "2026-01")]


def test_an_unsubscribe_mail_from_an_address_no_issue_went_to_is_left_for_a_person(ledger: Ledger) -> None:
    """ "Please remove lid080@…", written from a private address: suppressing the sender would change
    nothing, and the reader meant would go on getting the issue, so a person must look at it."""
    data = (
        f"From: <l.tachtig@example.net>\r\nTo: {UNSUBSCRIBE_MAILTO}\r\nSubject: unsubscribe\r\n"
        "Message-ID: <other-address@mail.example.net>\r\n\r\nPlease remove my work address.\r\n"
    ).encode()
    before = _state(ledger)
    verdict = handle(data, ledger, RULES, LATER)
    assert (verdict.result, verdict.left_alone) == ("left alone", "unknown_reader")
    assert "l.tachtig@example.net" in verdict.note
    assert _state(ledger) == before
