"""Whom a link names, against a real ledger file: today's tokens for the lists the endpoint knows, old
tokens among ten thousand addresses sent to, and recording an unsubscribe once however often it comes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import T0, people
from old_ledger import write_old_ledger

from newsletter.composing.tokens import Reader, legacy_token, unsubscribe_token
from newsletter.ledger import Ledger
from newsletter.web.readers import ONE_CLICK, PAGE, Readers, unsubscribe

SECRET, OLD_SECRET = "the-secret", "the-old-secret"
LIST = "nieuwsbrief-pom-limburg.example.org"


def test_a_token_counts_only_for_a_list_the_endpoint_knows(ledger: Ledger) -> None:
    readers = Readers([SECRET], [])
    token = unsubscribe_token(SECRET, "recorded.example.org", "an@example.org")
    assert readers.identify(ledger, token, None) is None
    # A delivery that recorded its List-Id makes the list known.
    ledger.start(
        "2026-01",
        subject="s",
        content_hash="h",
        audience_source="t",
        recipients=people(2),
        now=T0,
        list_id="recorded.example.org",
    )
    assert readers.identify(ledger, token, None) == Reader("recorded.example.org", "an@example.org")
    assert Readers([SECRET], [LIST]).lists(ledger) == {LIST, "recorded.example.org"}


def test_an_old_token_is_found_among_ten_thousand_addresses_under_either_secret(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    emails = [f"lid{i:05d}@example.org" for i in range(10_000)]
    write_old_ledger(path, "2025-12", "December", dict.fromkeys(emails, "sent"))
    with Ledger(path) as ledger:
        readers = Readers([SECRET, OLD_SECRET], [LIST, "newsletter.example.org"])
        last = legacy_token(OLD_SECRET, LIST, emails[-1])
        assert readers.identify(ledger, last, None) == Reader(LIST, emails[-1])
        assert readers.identify(ledger, legacy_token(SECRET, "newsletter.example.org", emails[0]), None) == (
            Reader("newsletter.example.org", emails[0])
        )
        assert readers.identify(ledger, legacy_token(SECRET, LIST, "stranger@example.org"), None) is None
        assert readers.identify(ledger, legacy_token("not-ours", LIST, emails[1]), None) is None


def test_an_unsubscribe_is_recorded_once_and_again_after_staff_allowed_the_reader_back(
    ledger: Ledger,
) -> None:
    reader = Reader(LIST, "an@example.org")
    assert unsubscribe(ledger, reader, ONE_CLICK, T0) is True
    assert unsubscribe(ledger, reader, PAGE, T0 + dt.timedelta(minutes=1)) is False
    assert [(s.email, s.source) for s in ledger.suppressions()] == [("an@example.org", ONE_CLICK)]
    ledger.unsuppress("an@example.org")
    assert unsubscribe(ledger, reader, PAGE, T0 + dt.timedelta(days=30)) is True
    assert [(s.reason, s.source) for s in ledger.suppressions()] == [("unsubscribed", PAGE)]
    assert len(ledger.feedback(kind="unsubscribed")) == 1
