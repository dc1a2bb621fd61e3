"""The mailbox pass over a local Maildir (NEWSLETTER_MAILDIR): bounces moved to a Maildir++ subfolder,
the rest left as they were, a second pass that changes nothing, deleting when asked, a dry run.

Until the classifier is wired in, the messages are judged by `mailbox_mail.StandIn` (by subject)."""

from __future__ import annotations

import mailbox
from collections import Counter
from pathlib import Path

import pytest
from mailbox_mail import StandIn, out_of_office, postfix_bounce, stray

from newsletter.config import load_settings
from newsletter.errors import MailboxError
from newsletter.feedback.mailbox import Source
from newsletter.feedback.run import read_mailbox
from newsletter.ledger import Ledger


@pytest.fixture
def maildir(project_dir: Path) -> Path:
    """A Maildir with 250 bounces, three out-of-office replies and a stray, delivered as an MDA does."""
    path = project_dir / "Maildir"
    box = mailbox.Maildir(path, create=True)
    for n in range(250):
        box.add(postfix_bounce(f"lid{n:03d}@example.org", n))
    for n in range(3):
        box.add(out_of_office(f"reader{n}@example.com", n))
    box.add(stray(1))
    return path


def _source(monkeypatch: pytest.MonkeyPatch, path: Path, **more: str) -> Source:
    monkeypatch.setenv("NEWSLETTER_MAILDIR", str(path))
    for name, value in more.items():
        monkeypatch.setenv(name, value)
    source = load_settings().mailbox_source()
    assert source is not None
    return source


def _files(folder: Path) -> dict[str, bytes]:
    """What a Maildir folder holds, by file name within new/ and cur/."""
    return {f"{f.parent.name}/{f.name}": f.read_bytes() for f in sorted(folder.glob("[nc][eu][wr]/*"))}


def test_a_pass_moves_bounces_to_a_subfolder_leaves_the_rest_untouched_and_a_second_changes_nothing(
    maildir: Path, monkeypatch: pytest.MonkeyPatch, project_dir: Path
) -> None:
    before = _files(maildir)
    left = {k: v for k, v in before.items() if b"Undelivered Mail" not in v}
    source = _source(monkeypatch, maildir)
    with Ledger(project_dir / "newsletter.sqlite3") as ledger:
        handler = StandIn(ledger)
        report = read_mailbox(source, handler, ledger)
        assert report.taken == Counter(bounced_hard=250)
        assert report.left == Counter({"auto-reply": 3, "unclassified": 1})
        assert report.sentence().startswith(
            f"254 messages in Maildir {maildir}: 250 hard bounces; 4 left alone"
        )
        assert handler.recorded == 250
        assert _files(maildir) == left  # the same files, still in new/: unread
        assert all(name.startswith("new/") for name in left)
        moved = _files(maildir / ".Processed")
        assert len(moved) == 250
        # Renamed, not rewritten: the bytes as delivered, still new (unread).
        assert moved == {k: v for k, v in before.items() if k not in left}
        assert all(name.startswith("new/") for name in moved)
        again = StandIn(ledger)
        second = read_mailbox(source, again, ledger)
    assert (second.taken, second.left.total(), again.recorded) == (Counter(), 4, 0)
    assert _files(maildir) == left
    assert len(_files(maildir / ".Processed")) == 250


def test_a_nested_processed_folder_is_a_maildir_plus_plus_folder(
    maildir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(monkeypatch, maildir, NEWSLETTER_IMAP_PROCESSED_FOLDER="Bounces/Done")
    read_mailbox(source, StandIn(), None)
    assert len(_files(maildir / ".Bounces.Done")) == 250


def test_with_delete_set_processed_mail_is_deleted(maildir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source(monkeypatch, maildir, NEWSLETTER_MAILBOX_DELETE="true")
    report = read_mailbox(source, StandIn(), None)
    assert report.taken == Counter(bounced_hard=250)
    assert len(_files(maildir)) == 4
    assert not (maildir / ".Processed").exists()


def test_a_dry_run_changes_nothing(maildir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _files(maildir)
    report = read_mailbox(_source(monkeypatch, maildir), StandIn(), None, dry_run=True)
    assert report.taken == Counter(bounced_hard=250)
    assert _files(maildir) == before
    assert not (maildir / ".Processed").exists()


@pytest.mark.parametrize(("make", "says"), [(False, "no such folder"), (True, "not a Maildir")])
def test_a_missing_maildir_is_named(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, make: bool, says: str
) -> None:
    path = project_dir / "nowhere"
    if make:
        path.mkdir()
    with pytest.raises(MailboxError) as caught:
        read_mailbox(_source(monkeypatch, path), StandIn(), None)
    assert f"NEWSLETTER_MAILDIR={path}: {says}" in str(caught.value)
