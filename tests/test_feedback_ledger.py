"""What readers and servers say back, as the ledger keeps it: each piece of evidence once, the
suppression it brings in the same transaction, and what old ledgers and old tokens still give."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import T0, people
from old_ledger import write_old_ledger

from newsletter.composing import tokens
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback

ISSUE = "2026-01"
PEOPLE = people(300, digits=3)
LIST_ID = "pom-limburg-nieuwsbrief.example.org"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.start(
        ISSUE,
        subject="Januari",
        content_hash="abc",
        audience_source="leden.csv",
        recipients=PEOPLE,
        now=T0,
        list_id=LIST_ID,
    )
    for i, person in enumerate(PEOPLE[:200]):
        mid = f"<2026-01.{i:032x}@example.org>"
        ledger.mark_sending(ISSUE, person.email, mid, T0)
        ledger.mark(ISSUE, person.email, "sent", "250 OK", T0)
    yield ledger
    ledger.close()


def _bounce(email: str, evidence: str, kind: str = "bounced_hard") -> Feedback:
    return Feedback(
        kind=kind,  # type: ignore[arg-type]
        email=email,
        source="mailbox",
        at=T0,
        issue=ISSUE,
        detail="550 5.1.1 user unknown",
        evidence=evidence,
    )


def test_a_hard_bounce_suppresses_once_however_often_it_is_read(ledger: Ledger) -> None:
    assert ledger.record(_bounce("p007@example.org", "<bounce-1@mx.example.com>")) is True
    assert ledger.record(_bounce("p007@example.org", "<bounce-1@mx.example.com>")) is False
    (entry,) = ledger.suppressions()
    assert (entry.email, entry.reason, entry.source, entry.issue, entry.detail) == (
        "p007@example.org",
        "bounced",
        "mailbox",
        ISSUE,
        "550 5.1.1 user unknown",
    )
    assert ledger.feedback_counts(ISSUE)["bounced_hard"] == 1
    assert len(ledger.feedback(issue=ISSUE)) == 1


def test_a_reader_suppressed_while_due_is_skipped_at_once(ledger: Ledger) -> None:
    event = Feedback(kind="unsubscribed", email="P250@example.org", source="one-click", at=T0, issue=ISSUE)
    assert ledger.record(event)
    assert ledger.counts(ISSUE).skipped == 1
    assert ledger.is_suppressed("p250@example.org")


def test_soft_bounces_count_but_do_not_suppress_and_a_refusal_of_the_sender_never_does(
    ledger: Ledger,
) -> None:
    for n in range(3):
        ledger.record(_bounce("p010@example.org", f"<soft-{n}@mx.example.com>", "bounced_soft"))
    ledger.record(_bounce("p011@example.org", "<policy@mx.example.com>", "sender_blamed"))
    assert ledger.soft_bounces("P010@example.org", T0 - dt.timedelta(days=1)) == 3
    assert ledger.soft_bounces("p010@example.org", T0 + dt.timedelta(days=1)) == 0
    assert ledger.suppressions() == []
    counts = ledger.feedback_counts(ISSUE)
    assert (counts["bounced_soft"], counts["sender_blamed"], counts["bounced_hard"]) == (1, 1, 0)


def test_a_bounce_is_found_by_message_id_tag_or_address(ledger: Ledger) -> None:
    mid = f"<2026-01.{42:032x}@example.org>"
    assert ledger.find_message(mid) == (ISSUE, "p043@example.org")
    assert ledger.find_message(mid.strip("<>")) == (ISSUE, "p043@example.org")
    assert ledger.find_message("<other@example.com>") is None
    assert ledger.find_tag(tokens.message_tag(mid)) == (ISSUE, "p043@example.org")
    assert ledger.latest_issue_to("P043@example.org") == ISSUE
    assert ledger.latest_issue_to("p250@example.org") is None  # never handed over
    assert ledger.list_ids() == {LIST_ID}


def test_an_old_token_is_matched_against_the_addresses_the_ledger_sent_to(ledger: Ledger) -> None:
    old = tokens.legacy_token("old-secret", LIST_ID, "p123@example.org")
    reader = tokens.match_legacy(
        old, ["new-secret", "old-secret"], ledger.list_ids(), ledger.sent_addresses()
    )
    assert reader == tokens.Reader(LIST_ID, "p123@example.org")
    assert tokens.match_legacy(old, ["new-secret"], ledger.list_ids(), ledger.sent_addresses()) is None


def test_suppressions_since_a_moment_are_what_a_pull_fetches(ledger: Ledger) -> None:
    ledger.suppress(["a@example.org"], "unsubscribed", T0, source="one-click")
    later = T0 + dt.timedelta(hours=1)
    ledger.suppress(["b@example.org"], "bounced", later, source="mailbox")
    since = ledger.suppressions()[1].added_at
    assert [s.email for s in ledger.suppressions(since=since)] == ["b@example.org"]
    assert [s.email for s in ledger.suppressions(since="")] == ["a@example.org", "b@example.org"]


def test_an_older_ledger_read_only_shows_its_suppressions_without_source(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    write_old_ledger(path, ISSUE, "Januari", {"a@example.org": "sent", "b@example.org": "pending"})
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO suppressions VALUES ('c@example.org', 'c@example.org', 'old', '2025-12-01')")
    with Ledger.for_reading(path) as old:
        assert [(s.email, s.source) for s in old.suppressions()] == [("c@example.org", "by hand")]
        assert old.list_ids() == set()
        assert old.feedback_counts(ISSUE)["unsubscribed"] == 0
        assert old.feedback() == []
    with Ledger(path) as migrated:
        migrated.suppress(["new@example.org"], "unsubscribed", T0, source="one-click")
        assert {s.source for s in migrated.suppressions()} >= {"one-click"}


def test_tokens_name_their_reader_and_break_when_changed() -> None:
    token = tokens.unsubscribe_token("s3cret", LIST_ID, "zoë@example.org")
    assert tokens.read_token(token, ["s3cret"]) == tokens.Reader(LIST_ID, "zoë@example.org")
    assert tokens.read_token(token, ["other", "s3cret"]) is not None  # a previous secret still works
    assert tokens.read_token(token, ["other"]) is None
    payload, mac = token.split(".")
    for forged in (token[:-1], token[:40], payload, f"{payload[:-2]}AA.{mac}", "", "x" * 5000, token + "."):
        assert tokens.read_token(forged, ["s3cret"]) is None, forged
    assert all(c.isalnum() or c in "-_." for c in token)
