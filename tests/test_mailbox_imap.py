"""The mailbox pass against a real IMAP server (Dovecot on 127.0.0.1): hundreds of messages put in by
IMAP APPEND, bounces moved to the processed folder, the rest left where they were and unseen, a second
pass that changes nothing, MOVE and the COPY fallback, deleting when asked, a dry run, and a server
that goes away midway.

Until the classifier is wired in, the messages are judged by `mailbox_mail.StandIn` (by subject);
these tests then run with the real handler over the same mail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from dovecot import WITHOUT_MOVE, WITHOUT_MOVE_OR_UIDPLUS, needs_dovecot
from mailbox_mail import StandIn, out_of_office, postfix_bounce, stray

from newsletter.config import load_settings
from newsletter.errors import MailboxError
from newsletter.feedback.mailbox import Source
from newsletter.feedback.run import read_mailbox
from newsletter.ledger import Ledger

if TYPE_CHECKING:
    from dovecot import Dovecot

pytest_plugins = ["dovecot"]
pytestmark = needs_dovecot

BOUNCES = 300


def _source(server: Dovecot, monkeypatch: pytest.MonkeyPatch, security: str = "ssl", **more: str) -> Source:
    """The IMAP source as `newsletter mailbox` makes it from these settings."""
    for name, value in server.settings(security, **more).items():
        monkeypatch.setenv(name, value)
    source = load_settings().mailbox_source()
    assert source is not None
    return source


def _fill(server: Dovecot, bounces: int = BOUNCES) -> list[str]:
    """`bounces` Postfix bounces, five out-of-office replies and two strays, mixed; their addresses."""
    emails = [f"lid{n:03d}@example.org" for n in range(1, bounces + 1)]
    mail = [postfix_bounce(e, n) for n, e in enumerate(emails)]
    for n in range(5):
        mail.insert(n * 50 + 7, out_of_office(f"reader{n}@example.com", n))
    mail.insert(100, stray(1))
    mail.append(stray(2))
    server.append(mail)
    return emails


def _not_bounces(server: Dovecot, folder: str = "INBOX") -> list[tuple[int, set[str], bytes]]:
    return [m for m in server.messages(folder) if b"Undelivered Mail" not in m[2]]


@pytest.fixture(autouse=True)
def ledger_in(project_dir: Path) -> Callable[[], Ledger]:
    """The ledger of a scratch project, which is the working directory (no .env, no NEWSLETTER_ settings)."""
    return lambda: Ledger(project_dir / "newsletter.sqlite3")


def test_a_pass_moves_bounces_to_a_new_folder_leaves_the_rest_unseen_and_a_second_changes_nothing(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, ledger_in: Callable[[], Ledger]
) -> None:
    emails = _fill(dovecot)
    left_before = _not_bounces(dovecot)
    assert "Processed" not in dovecot.folders()
    source = _source(dovecot, monkeypatch)
    with ledger_in() as ledger:
        handler = StandIn(ledger)
        report = read_mailbox(source, handler, ledger)
        assert report.taken == Counter(bounced_hard=BOUNCES)
        assert report.left == Counter({"auto-reply": 5, "unclassified": 2})
        assert report.exit_code == 0
        assert report.sentence() == (
            f"307 messages in INBOX on 127.0.0.1:{dovecot.imaps_port}: 300 hard bounces; "
            "7 left alone (5 out-of-office, 2 not understood)"
        )
        assert handler.recorded == BOUNCES
        assert {s.email for s in ledger.suppressions()} == set(emails)
        assert "Processed" in dovecot.folders()
        processed = dovecot.messages("Processed")
        assert len(processed) == BOUNCES
        # Moved as they were: not marked seen by being read.
        assert all("\\Seen" not in flags for _, flags, _ in processed)
        assert dovecot.messages("INBOX") == left_before
        assert all("\\Seen" not in flags for _, flags, _ in left_before)

        again = StandIn(ledger)
        second = read_mailbox(source, again, ledger)
    assert (second.taken, second.left.total()) == (Counter(), 7)
    assert again.recorded == 0
    assert dovecot.messages("INBOX") == left_before
    assert len(dovecot.messages("Processed")) == BOUNCES


def test_without_move_the_pass_copies_and_expunges_only_its_own_messages(
    start_dovecot: Callable[..., Dovecot], monkeypatch: pytest.MonkeyPatch, ledger_in: Callable[[], Ledger]
) -> None:
    server = start_dovecot(capabilities=WITHOUT_MOVE)
    _fill(server, 120)
    # A message a person marked deleted and did not expunge: not ours to expunge, nor to read.
    person = server.client()
    person.append("INBOX", r"(\Deleted)", None, postfix_bounce("weg@example.org", 999))
    person.logout()
    with ledger_in() as ledger:
        report = read_mailbox(_source(server, monkeypatch), StandIn(ledger), ledger)
    assert report.taken == Counter(bounced_hard=120)
    inbox = server.messages("INBOX")
    assert len(inbox) == 8
    assert [flags for _, flags, data in inbox if b"weg@example.org" in data] == [{"\\Deleted"}]
    assert len(server.messages("Processed")) == 120
    assert all("\\Deleted" not in flags for _, flags, _ in server.messages("Processed"))


def test_without_move_or_uidplus_taken_mail_stays_flagged_deleted_and_is_not_read_again(
    start_dovecot: Callable[..., Dovecot], monkeypatch: pytest.MonkeyPatch, ledger_in: Callable[[], Ledger]
) -> None:
    server = start_dovecot(capabilities=WITHOUT_MOVE_OR_UIDPLUS)
    _fill(server, 30)
    source = _source(server, monkeypatch)
    with ledger_in() as ledger:
        first = read_mailbox(source, StandIn(ledger), ledger)
        handler = StandIn(ledger)
        second = read_mailbox(source, handler, ledger)
    assert first.taken == Counter(bounced_hard=30)
    assert second.taken == Counter()
    assert len(handler.judged) == 7
    deleted = [m for m in server.messages("INBOX") if "\\Deleted" in m[1]]
    assert len(deleted) == 30
    assert len(server.messages("Processed")) == 30


def test_with_delete_set_processed_mail_is_deleted_and_no_folder_is_made(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, ledger_in: Callable[[], Ledger]
) -> None:
    _fill(dovecot, 150)
    left_before = _not_bounces(dovecot)
    with ledger_in() as ledger:
        source = _source(dovecot, monkeypatch, NEWSLETTER_MAILBOX_DELETE="true")
        report = read_mailbox(source, StandIn(ledger), ledger)
    assert report.taken == Counter(bounced_hard=150)
    assert dovecot.messages("INBOX") == left_before
    assert dovecot.folders() == ["INBOX"]


def test_a_dry_run_reads_everything_and_changes_nothing(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(dovecot, 40)
    before = dovecot.messages("INBOX")
    report = read_mailbox(_source(dovecot, monkeypatch), StandIn(), None, dry_run=True)
    assert (report.taken, report.left.total(), report.dry_run) == (Counter(bounced_hard=40), 7, True)
    assert dovecot.messages("INBOX") == before
    assert dovecot.folders() == ["INBOX"]


def test_a_server_lost_midway_keeps_what_was_recorded_and_the_next_pass_finishes(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, ledger_in: Callable[[], Ledger]
) -> None:
    emails = _fill(dovecot)
    source = _source(dovecot, monkeypatch)

    def cut_at_150(judged: int) -> None:
        if judged == 150:
            dovecot.drop_connections()

    with ledger_in() as ledger:
        first = StandIn(ledger, on_message=cut_at_150)
        report = read_mailbox(source, first, ledger)
        assert report.lost is not None
        assert report.exit_code == 1
        assert "127.0.0.1" in report.lost
        recorded = first.recorded
        assert 0 < recorded < BOUNCES
        moved_before = len(dovecot.messages("Processed"))
        assert moved_before < recorded  # recorded, not yet moved: read again next time
        second = StandIn(ledger)
        again = read_mailbox(source, second, ledger)
        assert again.lost is None
        assert first.recorded + second.recorded == BOUNCES
        assert len(ledger.feedback(kind="bounced_hard")) == BOUNCES
        assert {s.email for s in ledger.suppressions()} == set(emails)
    assert len(dovecot.messages("Processed")) == BOUNCES
    assert len(dovecot.messages("INBOX")) == 7


def test_nested_and_accented_processed_folders_are_made_with_the_servers_delimiter(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append([postfix_bounce("lid1@example.org", 1)])
    source = _source(dovecot, monkeypatch, NEWSLETTER_IMAP_PROCESSED_FOLDER="Bounces/Traités")
    report = read_mailbox(source, StandIn(), None)
    assert report.taken == Counter(bounced_hard=1)
    # Dovecot's Maildir++ store separates levels with "."; names travel in modified UTF-7.
    assert "Bounces.Trait&AOk-s" in dovecot.folders()
    assert len(dovecot.messages("Bounces.Trait&AOk-s")) == 1


def test_starttls_on_the_plain_port_reads_the_folder(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append([stray(1)])
    report = read_mailbox(_source(dovecot, monkeypatch, "starttls"), StandIn(), None)
    assert report.left == Counter(unclassified=1)


def test_a_missing_folder_is_named_with_the_folders_there(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(dovecot, monkeypatch, NEWSLETTER_IMAP_FOLDER="Bounces")
    with pytest.raises(MailboxError) as caught:
        read_mailbox(source, StandIn(), None)
    assert "has no folder 'Bounces'" in str(caught.value)
    assert "NEWSLETTER_IMAP_FOLDER" in str(caught.value)
    assert "the folders there: INBOX" in str(caught.value)
    assert dovecot.folders() == ["INBOX"]
