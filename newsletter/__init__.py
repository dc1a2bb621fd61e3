"""newsletter: write a monthly email newsletter as a file and deliver it to every subscriber once.

The library under the `newsletter` command, one name per step of the flow:

    load_issue / Project.render      an issue file, checked, rendered once with its layout
    load_audience                    the audience CSV, every row checked
    Composer, Envelope               one recipient's message as wire bytes, without a re-render
    prepare, dry_run, send           a whole campaign: the outbox, or a sender and the ledger
    deliver                          the send loop itself, for a composer, a sender and a ledger
    SMTPSender, OutboxSender, MemorySender   the senders; a sender of your own raises Temporary,
                                     Permanent or Ambiguous (SendFailure) for one recipient
    Ledger, and the errors           every error a user can cause is a NewsletterError

Each name is imported on first use, so that `import newsletter` (and the CLI's --help) stays fast.
"""

# Private spellings, so that the module's namespace holds only its public names and `__all__`'s.
import importlib as _importlib
import typing as _typing

__version__ = "0.1.0"

if _typing.TYPE_CHECKING:
    from newsletter.composing.message import Composer, Envelope
    from newsletter.delivering.campaign import Campaign, dry_run, prepare, send
    from newsletter.delivering.loop import Options, RunReport, deliver
    from newsletter.errors import (
        ApprovalError,
        AudienceError,
        BusyError,
        ConfigError,
        IssueError,
        LayoutError,
        LedgerError,
        MailboxError,
        MergeError,
        NewsletterError,
        Problem,
        PullError,
        RenderError,
        SendError,
        SlugClashError,
    )
    from newsletter.ledger import Ledger
    from newsletter.model import Issue, Recipient, Rendered
    from newsletter.reading.issues import LoadedIssue
    from newsletter.reading.issues import load as load_issue
    from newsletter.reading.recipients import load as load_audience
    from newsletter.rendering.project import Project
    from newsletter.rendering.render import render
    from newsletter.sending.base import Ambiguous, Permanent, Reply, SendFailure, Temporary
    from newsletter.sending.memory import MemorySender
    from newsletter.sending.outbox import OutboxSender
    from newsletter.sending.smtp import Security, SMTPSender

# Public name -> (module, name there).
_EXPORTS: dict[str, tuple[str, str]] = {
    "Ambiguous": ("newsletter.sending.base", "Ambiguous"),
    "ApprovalError": ("newsletter.errors", "ApprovalError"),
    "BusyError": ("newsletter.errors", "BusyError"),
    "Permanent": ("newsletter.sending.base", "Permanent"),
    "Problem": ("newsletter.errors", "Problem"),
    "Reply": ("newsletter.sending.base", "Reply"),
    "SendFailure": ("newsletter.sending.base", "SendFailure"),
    "SlugClashError": ("newsletter.errors", "SlugClashError"),
    "Temporary": ("newsletter.sending.base", "Temporary"),
    "AudienceError": ("newsletter.errors", "AudienceError"),
    "Campaign": ("newsletter.delivering.campaign", "Campaign"),
    "Composer": ("newsletter.composing.message", "Composer"),
    "ConfigError": ("newsletter.errors", "ConfigError"),
    "Envelope": ("newsletter.composing.message", "Envelope"),
    "Issue": ("newsletter.model", "Issue"),
    "IssueError": ("newsletter.errors", "IssueError"),
    "LayoutError": ("newsletter.errors", "LayoutError"),
    "Ledger": ("newsletter.ledger", "Ledger"),
    "LedgerError": ("newsletter.errors", "LedgerError"),
    "LoadedIssue": ("newsletter.reading.issues", "LoadedIssue"),
    "MailboxError": ("newsletter.errors", "MailboxError"),
    "MemorySender": ("newsletter.sending.memory", "MemorySender"),
    "MergeError": ("newsletter.errors", "MergeError"),
    "NewsletterError": ("newsletter.errors", "NewsletterError"),
    "Options": ("newsletter.delivering.loop", "Options"),
    "OutboxSender": ("newsletter.sending.outbox", "OutboxSender"),
    "Project": ("newsletter.rendering.project", "Project"),
    "PullError": ("newsletter.errors", "PullError"),
    "Recipient": ("newsletter.model", "Recipient"),
    "RenderError": ("newsletter.errors", "RenderError"),
    "Rendered": ("newsletter.model", "Rendered"),
    "RunReport": ("newsletter.delivering.loop", "RunReport"),
    "SMTPSender": ("newsletter.sending.smtp", "SMTPSender"),
    "Security": ("newsletter.sending.smtp", "Security"),
    "SendError": ("newsletter.errors", "SendError"),
    "deliver": ("newsletter.delivering.loop", "deliver"),
    "dry_run": ("newsletter.delivering.campaign", "dry_run"),
    "load_audience": ("newsletter.reading.recipients", "load"),
    "load_issue": ("newsletter.reading.issues", "load"),
    "prepare": ("newsletter.delivering.campaign", "prepare"),
    "render": ("newsletter.rendering.render", "render"),
    "send": ("newsletter.delivering.campaign", "send"),
}

__all__ = [
    "Ambiguous",
    "ApprovalError",
    "AudienceError",
    "BusyError",
    "Campaign",
    "Composer",
    "ConfigError",
    "Envelope",
    "Issue",
    "IssueError",
    "LayoutError",
    "Ledger",
    "LedgerError",
    "LoadedIssue",
    "MailboxError",
    "MemorySender",
    "MergeError",
    "NewsletterError",
    "Options",
    "OutboxSender",
    "Permanent",
    "Problem",
    "Project",
    "PullError",
    "Recipient",
    "RenderError",
    "Rendered",
    "Reply",
    "RunReport",
    "SMTPSender",
    "Security",
    "SendError",
    "SendFailure",
    "SlugClashError",
    "Temporary",
    "__version__",
    "deliver",
    "dry_run",
    "load_audience",
    "load_issue",
    "prepare",
    "render",
    "send",
]


def __getattr__(name: str) -> _typing.Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'newsletter' has no attribute {name!r}") from None
    value = getattr(_importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
