"""What the mailbox pass reads: a source that opens a folder of mail, which hands out its messages in
batches and takes the processed ones out of it (moved to the processed folder, or deleted when asked);
and the source for a local Maildir (stdlib `mailbox.Maildir`). The IMAP source is `imap`.

A source opened for a dry run only reads. Taking a message out is the last thing done with it, after
its verdict was recorded: a pass that stops in between leaves it where it was, to be read again.
"""

from __future__ import annotations

import contextlib
import mailbox
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from newsletter.errors import MailboxError

BATCH = 100  # messages read at a time: memory stays flat however full the folder is


@dataclass(frozen=True)
class Fetched:
    """One message as its folder holds it: its key there (an IMAP UID, a Maildir key) and its bytes."""

    key: str
    data: bytes


class Lost(MailboxError):
    """The connection to the mailbox was lost while the pass read or moved its messages."""


class Folder(Protocol):
    """An open folder of mail."""

    def batches(self, size: int = BATCH) -> Iterator[list[Fetched]]:
        """Every message in the folder, `size` at a time, read without marking any seen."""
        ...

    def take(self, keys: Sequence[str]) -> None:
        """Take these messages out of the folder: into the processed folder, or deleted."""
        ...


class Source(Protocol):
    """A mailbox that can be opened: an IMAP folder or a Maildir."""

    @property
    def description(self) -> str:
        """Where it is, for a person: 'INBOX on imap.example.org:993', 'Maildir /srv/mail/bounces'."""
        ...

    def open(self, *, dry_run: bool = False) -> contextlib.AbstractContextManager[Folder]:
        """The folder, ready to read; MailboxError naming the setting when it cannot be used.

        Unless `dry_run`, the processed folder is created first if it is missing.
        """
        ...


def maildir_folder_name(name: str) -> str:
    """A folder setting written with "/" between levels as Maildir++ names it: "Bounces/Done" is
    "Bounces.Done" (the folder `.Bounces.Done` beside `cur`, `new` and `tmp`), as Dovecot and
    Courier name it."""
    return ".".join(part for part in name.replace("\\", "/").split("/") if part)


@dataclass
class MaildirSource:
    """A local Maildir (NEWSLETTER_MAILDIR) whose processed mail goes to a Maildir++ subfolder."""

    path: Path
    processed: str = "Processed"
    delete: bool = False

    @property
    def description(self) -> str:
        return f"Maildir {self.path}"

    @contextlib.contextmanager
    def open(self, *, dry_run: bool = False) -> Iterator[MaildirFolder]:
        path = self.path
        if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            why = "no such folder" if not path.exists() else "not a Maildir (it has no cur, new and tmp)"
            raise MailboxError(
                f"NEWSLETTER_MAILDIR={path}: {why}; give the Maildir the bounces are delivered to"
            )
        try:
            box = mailbox.Maildir(path, factory=None, create=False)
            target: Path | None = None
            if not self.delete and not dry_run:
                name = maildir_folder_name(self.processed)
                if not name:
                    raise MailboxError(
                        "NEWSLETTER_IMAP_PROCESSED_FOLDER is empty; name a folder, e.g. Processed"
                    )
                box.add_folder(name)  # Maildir++: the folder ".<name>" beside cur, new and tmp
                target = path / f".{name}"
        except OSError as e:
            raise MailboxError(
                f"NEWSLETTER_MAILDIR={path}: cannot use it ({e.strerror}); it must be readable and "
                "writable for this user"
            ) from None
        yield MaildirFolder(box, target, path)


@dataclass
class MaildirFolder:
    box: mailbox.Maildir
    processed: Path | None  # the processed folder; None: processed mail is deleted (or a dry run)
    path: Path

    def batches(self, size: int = BATCH) -> Iterator[list[Fetched]]:
        # Maildir keys begin with the delivery time: sorted, the oldest mail comes first.
        keys = sorted(self.box.keys())
        for start in range(0, len(keys), size):
            batch = []
            for key in keys[start : start + size]:
                with contextlib.suppress(KeyError):  # taken away meanwhile, e.g. by a mail program
                    batch.append(Fetched(key, self.box.get_bytes(key)))
            yield batch

    def _files(self) -> dict[str, Path]:
        """Each message's file by its key: the file name up to the flags (":2,S" once it was read)."""
        files = {}
        for sub in ("new", "cur"):
            for file in (self.path / sub).iterdir():
                files[file.name.split(self.box.colon, 1)[0]] = file
        return files

    def take(self, keys: Sequence[str]) -> None:
        """Renamed into the processed folder's new/ or cur/ as they were: the same bytes, the same
        flags, in one step that cannot leave half a message."""
        if not keys:
            return
        try:
            files = self._files()
            for key in keys:
                file = files.get(key)
                if file is None:
                    continue  # taken away meanwhile
                with contextlib.suppress(FileNotFoundError):
                    if self.processed is None:
                        file.unlink()
                    else:
                        file.rename(self.processed / file.parent.name / file.name)
        except OSError as e:
            raise MailboxError(
                f"NEWSLETTER_MAILDIR={self.path}: cannot move the processed mail ({e.strerror}); it must "
                "be writable for this user"
            ) from None
