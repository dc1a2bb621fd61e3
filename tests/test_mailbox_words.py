"""The small parts of the mailbox pass that need no server: the summary in words, IMAP's forms (folder
names in modified UTF-7, UID sets, LIST answers), folder settings as a server names them, and the
dry run's throwaway copy of the ledger."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from newsletter.feedback.imap import IMAPFolder
from newsletter.feedback.imap_words import from_utf7, listed, quoted, uid_set, utf7
from newsletter.feedback.mailbox import maildir_folder_name
from newsletter.feedback.rehearsal import ledger_copy
from newsletter.feedback.run import PassReport
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback

WHERE = "INBOX on imap.example.org:993"


def test_the_summary_counts_each_kind_in_words() -> None:
    report = PassReport(
        WHERE,
        taken=Counter(bounced_hard=5, bounced_soft=2, complained=1, unsubscribed=1, sender_blamed=1),
        left=Counter({"auto-reply": 1, "other-mailing": 1}),
        fixes=[
            "550 5.7.515 Access denied, sending domain example.org does not meet the authentication level"
        ],
    )
    assert report.sentence() == (
        f"12 messages in {WHERE}: 5 hard bounces, 2 soft bounces, 1 complaint, 1 unsubscribe, 1 refusal "
        "that blames the sender; 2 left alone (1 out-of-office, 1 for another mailing)"
    )
    assert report.fix_lines() == [
        "refused because of the sender, not the address: 550 5.7.515 Access denied, sending domain "
        "example.org does not meet the authentication level"
    ]


@pytest.mark.parametrize(
    ("report", "said"),
    [
        (PassReport(WHERE), f"no messages in {WHERE}"),
        (PassReport(WHERE, taken=Counter(bounced_hard=1)), f"1 message in {WHERE}: 1 hard bounce"),
        (
            PassReport(WHERE, left=Counter(unclassified=3)),
            f"3 messages in {WHERE}: 3 left alone (3 not understood)",
        ),
        (
            PassReport(WHERE, left=Counter(newfangled=2)),
            f"2 messages in {WHERE}: 2 left alone (2 newfangled)",
        ),
        (
            PassReport(WHERE, busy=True),
            f"{WHERE}: another mailbox pass is reading it right now; nothing done",
        ),
    ],
)
def test_the_summary_of_a_small_or_odd_pass(report: PassReport, said: str) -> None:
    assert report.sentence() == said


def test_a_pass_that_lost_its_connection_exits_1() -> None:
    assert PassReport(WHERE, lost="the connection to imap.example.org:993 was lost").exit_code == 1
    assert PassReport(WHERE).exit_code == 0


@pytest.mark.parametrize(
    ("name", "wire"),
    [("Processed", "Processed"), ("Traités", "Trait&AOk-s"), ("R&D", "R&-D"), ("日本語", "&ZeVnLIqe-")],
)
def test_folder_names_travel_in_modified_utf7(name: str, wire: str) -> None:
    assert utf7(name) == wire
    assert from_utf7(wire) == name


def test_uid_sets_are_written_as_ranges() -> None:
    assert uid_set(["9", "3", "4", "5", "12", "13", "7"]) == "3:5,7,9,12:13"
    assert uid_set(["1"]) == "1"


def test_list_answers_give_names_quoted_bare_or_as_literals() -> None:
    answer: list[object] = [
        b'(\\HasNoChildren) "." INBOX',
        b'(\\HasNoChildren) "/" "Sent Items"',
        (b'(\\HasNoChildren) "." {11}', b'Odd "name"!'),
        b'(\\Noselect) NIL ""',
    ]
    assert listed(answer) == [("INBOX", "."), ("Sent Items", "/"), ('Odd "name"!', "."), ("", None)]
    assert quoted('Odd "name"\\') == '"Odd \\"name\\"\\\\"'


@pytest.mark.parametrize(
    ("delimiter", "prefix", "setting", "name"),
    [
        (".", "", "Bounces/Processed", "Bounces.Processed"),
        ("/", "", "Bounces/Processed", "Bounces/Processed"),
        (".", "INBOX.", "Processed", "INBOX.Processed"),
        (".", "INBOX.", "INBOX/Processed", "INBOX.Processed"),
        (".", "INBOX.", "inbox", "INBOX"),
        (None, "", "Processed", "Processed"),
    ],
)
def test_folder_settings_are_named_as_the_server_names_folders(
    delimiter: str | None, prefix: str, setting: str, name: str
) -> None:
    folder = IMAPFolder(None, "imap.example.org:993", delete=False)  # type: ignore[arg-type]
    folder.delimiter, folder.prefix = delimiter, prefix
    assert folder.server_name(setting) == name


def test_maildir_folders_are_maildir_plus_plus_names() -> None:
    assert maildir_folder_name("Bounces/Done") == "Bounces.Done"
    assert maildir_folder_name("/Processed/") == "Processed"


def test_the_dry_runs_ledger_is_a_copy_that_the_real_one_never_sees(tmp_path: Path) -> None:
    db = tmp_path / "newsletter.sqlite3"
    now = dt.datetime(2026, 1, 21, tzinfo=dt.UTC)
    with Ledger(db) as real:
        real.suppress(["weg@example.org"], "by hand", now)
        with ledger_copy(db) as copy:
            assert [s.email for s in copy.suppressions()] == ["weg@example.org"]
            copy.record(Feedback("bounced_hard", "lid1@example.org", "mailbox", now, evidence="<b1@x>"))
            assert len(copy.suppressions()) == 2
        assert [s.email for s in real.suppressions()] == ["weg@example.org"]
        assert not real.knows_evidence("<b1@x>")


def test_the_dry_runs_ledger_before_the_first_send_is_empty(tmp_path: Path) -> None:
    with ledger_copy(tmp_path / "none.sqlite3") as copy:
        assert copy.suppressions() == []
    assert not (tmp_path / "none.sqlite3").exists()
