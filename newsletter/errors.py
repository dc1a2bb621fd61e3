"""Every error the product raises on purpose.

    NewsletterError            anything the user can fix; the CLI prints it as one line and exits 2
    ├── IssueError             an issue file is unreadable or invalid, or uses a field its audience
    │                          lacks (carries one Problem per mistake)
    ├── LayoutError            a layout folder is missing, invalid or its templates fail
    ├── RenderError            MJML or the inliner refused the rendered document, or a local
    │                          image is no image, damaged, or too many pixels to decode
    ├── MergeError             a message cannot be merged (a field without a default and no value, a
    │                          value that is no link); stops a send, nobody is marked failed for it
    ├── ConfigError            a NEWSLETTER_… setting is missing or wrong
    ├── AudienceError          the recipients file cannot be read
    ├── SendError              the mail server refused us as a whole (connect, TLS, login)
    ├── MailboxError           the bounce mailbox cannot be read (connect, TLS, login, folder, Maildir)
    ├── ApprovalError          approval is required and the issue lacks it, or changed after it
    ├── PullError              the endpoint's unsubscribes could not be fetched (NEWSLETTER_SUPPRESSIONS_URL)
    └── LedgerError            the delivery ledger cannot be used (damaged, read-only, full disk, gone)
        ├── BusyError          another process is delivering this issue right now
        └── SlugClashError     the ledger holds a delivery of another issue under the same slug

Errors that are not NewsletterError are bugs and keep their traceback.

Not in the tree, on purpose: `sending.base.SendFailure` and its kinds (Temporary, Permanent,
Ambiguous). They are what one recipient's server answered, an outcome the send loop expects and
records in the ledger (pending, failed, unknown), not a mistake the user can fix. Every `except
NewsletterError` means "a mistake: stop and say it in one line": the CLI's exit 2 ("bad input,
nothing sent"), dispatch's exit 2 for an issue. Caught there, a per-recipient failure that escaped
the loop (a bug) would pass for bad input, after messages went out, without its traceback. The one
place that wants both, the staff mail, names both (`except (SendFailure, NewsletterError)`).
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsletterError(Exception):
    """A mistake the user can fix; `str(error)` says what and how."""

    def lines(self) -> list[str]:
        """One line per problem, for the terminal."""
        return [str(self)]


@dataclass(frozen=True)
class Problem:
    """One mistake at one place: `file:line: field: message`."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class IssueError(NewsletterError):
    """An issue file cannot be used; `problems` lists every mistake found at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class LayoutError(NewsletterError):
    """A layout folder is missing, invalid, or one of its templates fails."""


class RenderError(NewsletterError):
    """The rendered MJML or HTML was refused by the converter or the inliner, or a local image cannot
    be made for email (named with its file)."""


class MergeError(NewsletterError):
    """A message cannot be merged: a field without a default that the recipient has no value for, or
    a value that is no link where a link's address starts. A mistake in the issue, not the person's:
    a send stops on it and leaves the row due."""


class ConfigError(NewsletterError):
    """A NEWSLETTER_… setting is missing or has a wrong value."""


class AudienceError(NewsletterError):
    """The recipients file cannot be read."""


class SendError(NewsletterError):
    """The mail server cannot be used at all (connection, TLS, login)."""


class MailboxError(NewsletterError):
    """The bounce mailbox cannot be used: its server (connection, TLS, login), a folder, or the Maildir."""


class ApprovalError(NewsletterError):
    """NEWSLETTER_REQUIRE_APPROVAL is on and the issue is not approved as it renders now; or an
    approver's name is unusable."""


class PullError(NewsletterError):
    """The unsubscribes recorded by the endpoint on another machine could not be fetched: `url` is
    NEWSLETTER_SUPPRESSIONS_URL, `reason` what went wrong and what to do."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"NEWSLETTER_SUPPRESSIONS_URL={url}: {reason}")

    @property
    def held_back(self) -> str:
        """The line of a send (or dispatch) that this stops before its first message."""
        return (
            f"could not fetch the unsubscribes from NEWSLETTER_SUPPRESSIONS_URL={self.url}: {self.reason}; "
            "nothing was sent: a late newsletter is better than mail to someone who left"
        )


class LedgerError(NewsletterError):
    """The delivery ledger cannot be used."""


class BusyError(LedgerError):
    """Another process is delivering this issue right now; nothing was sent."""


class SlugClashError(LedgerError):
    """The ledger holds a delivery of another issue file under this slug; nothing was sent."""
