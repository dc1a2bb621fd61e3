"""Drafts and approval: what keeps an unfinished or unchecked issue away from the real list.

A live send of a draft says so in its question, and in a warning line under --yes; a person may still
send a draft by hand. `dispatch` never sends a draft (`schedule.is_due`), approved or not.

The four-eyes gate: `newsletter approve FILE --by NAME` records in the ledger who approved the issue,
when, and the fingerprint of what readers will get. With NEWSLETTER_REQUIRE_APPROVAL=true a live send
and dispatch deliver an issue only while its fingerprint is that of its latest approval, also when
they resume a delivery that started before; test sends and dry runs never need one. The fingerprint is
taken from the rendered issue, not from the YAML text: re-indenting the file or adding a comment keeps
the approval, while changing a word, a link, an image or the layout voids it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from newsletter.delivering.audience import audience_path
from newsletter.delivering.campaign import Campaign
from newsletter.errors import ApprovalError, AudienceError, NewsletterError
from newsletter.ledger import Ledger
from newsletter.model import Rendered
from newsletter.reading.issues import LoadedIssue
from newsletter.rendering.project import Project

SHORT = 12  # hex digits of the fingerprint shown to people, as git shows a commit
MAX_NAME = 100
# Bumped if what the fingerprint covers ever changes, so that old and new ones never compare equal.
_VERSION = b"newsletter-approval-1"


def fingerprint(rendered: Rendered) -> str:
    """The SHA-256 of what every reader gets: the subject, preheader, HTML and text (their fixed
    parts, where each merge field goes and its default) and the bytes of every embedded image.

    Each part is framed with its length, so that text moved from one part into the next still
    changes it. Headers that come from the settings (From, unsubscribe) are not the issue's content.
    """
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    part(_VERSION)
    for plan in (rendered.subject, rendered.preheader, rendered.html, rendered.text):
        part(json.dumps([plan.literals, plan.slots]).encode())
    part(json.dumps([[f.name, f.default, f.where] for f in rendered.fields]).encode())
    for image in rendered.images:
        part(json.dumps([image.cid, image.filename, image.content_type]).encode())
        part(image.data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Approval:
    """One `newsletter approve`: who approved which version of an issue, and when."""

    issue: str  # the slug
    fingerprint: str
    by: str
    at: dt.datetime
    subject: str
    audience_source: str = ""  # the audience file it named then, for the record; "" if none
    source_path: str = ""  # the issue file, resolved

    @property
    def short(self) -> str:
        return self.fingerprint[:SHORT]

    def when(self, tz: dt.tzinfo) -> str:
        return f"{self.at.astimezone(tz):%Y-%m-%d %H:%M}"

    def describe(self, tz: dt.tzinfo) -> str:
        return f"approved by {self.by}, {self.when(tz)}"


# Bidirectional embeddings, overrides and isolates: they could make "approved by" show another
# name than the one stored. The marks (U+200E, U+200F) that right-to-left names may need stay.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS


def approver(name: str) -> str:
    """The approver's name as typed, trimmed; a name that is empty or holds a control character
    (it is printed on terminals and in logs, and kept in the ledger) is refused."""
    trimmed = name.strip()
    if not trimmed:
        raise ApprovalError('--by: give the name of who approves the issue, e.g. --by "Anna Peeters"')
    bad = next((c for c in trimmed if _is_control(c)), None)
    if bad is not None:
        raise ApprovalError(f"--by: the name holds a control character (U+{ord(bad):04X}); type it plainly")
    if len(trimmed) > MAX_NAME:
        raise ApprovalError(f"--by: a name of at most {MAX_NAME} characters, please")
    return trimmed


def approval_of(
    project: Project, path: Path, by: str, default_audience: Path | None, now: dt.datetime
) -> Approval:
    """The approval of the issue at `path` as it renders now, by `by`; not recorded yet.

    An issue that does not validate raises its IssueError: nobody can approve what cannot be sent.
    """
    name = approver(by)
    loaded, rendered = project.render(path)
    try:
        audience = str(audience_path(loaded, None, default_audience))
    except AudienceError:
        audience = ""  # the send will name it with --recipients
    return Approval(
        issue=loaded.slug,
        fingerprint=fingerprint(rendered),
        by=name,
        at=now,
        subject=loaded.issue.subject,
        audience_source=audience,
        source_path=str(loaded.path.resolve()),
    )


def summary(approval: Approval, path: Path, tz: dt.tzinfo) -> list[str]:
    """What `approve` prints: what was approved, by whom, and what voids it."""
    return [
        f"issue:       {approval.issue} ({path})",
        f"subject:     {approval.subject}",
        f"audience:    {approval.audience_source or 'none named: the send gives --recipients'}",
        f"fingerprint: {approval.short}",
        f"{approval.describe(tz)}; a change to what readers get (a word, a link, an image) needs a new "
        "approval, reformatting the file does not",
    ]


# -- the ledger's approvals table ------------------------------------------------------------------


def record(ledger: Ledger, approval: Approval) -> None:
    with ledger.file.tx() as db:
        db.execute(
            "INSERT INTO approvals (issue, fingerprint, approved_by, approved_at, subject, audience_source, "
            "source_path) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                approval.issue,
                approval.fingerprint,
                approval.by,
                approval.at.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
                approval.subject,
                approval.audience_source,
                approval.source_path,
            ),
        )


def _has_table(ledger: Ledger) -> bool:
    # A ledger of an older version opened read-only has no approvals table, and may not get one.
    return ledger.file.has_column("approvals", "fingerprint")


def latest(ledger: Ledger, issue: str) -> Approval | None:
    """The issue's latest approval: the one that counts, whatever was approved before it."""
    if not _has_table(ledger):
        return None
    rows = ledger.file.query(
        "SELECT issue, fingerprint, approved_by, approved_at, subject, audience_source, source_path "
        "FROM approvals WHERE issue = ? ORDER BY rowid DESC LIMIT 1",
        (issue,),
    )
    if not rows:
        return None
    r = rows[0]
    return Approval(
        issue=str(r[0]),
        fingerprint=str(r[1]),
        by=str(r[2]),
        at=dt.datetime.fromisoformat(str(r[3])),
        subject=str(r[4]),
        audience_source=str(r[5]),
        source_path=str(r[6]),
    )


def in_use(ledger: Ledger | None) -> bool:
    """Whether anything was ever approved in this ledger."""
    return (
        ledger is not None
        and _has_table(ledger)
        and bool(ledger.file.query("SELECT 1 FROM approvals LIMIT 1"))
    )


# -- the gate ----------------------------------------------------------------------------------------


def check(approval: Approval | None, loaded: LoadedIssue, rendered: Rendered, tz: dt.tzinfo) -> Approval:
    """`approval` if it is of the issue as it renders now; else ApprovalError, one line that says
    which command to run."""
    again = f'run `newsletter approve {shlex.quote(str(loaded.path))} --by "Name"`'
    if approval is None:
        raise ApprovalError(
            f"{loaded.path} is not approved, and NEWSLETTER_REQUIRE_APPROVAL is on: {again} first"
        )
    if approval.fingerprint != fingerprint(rendered):
        raise ApprovalError(
            f"{loaded.path} changed after {approval.by} approved it on {approval.when(tz)}: {again} again"
        )
    return approval


def require(ledger: Ledger | None, campaign: Campaign, tz: dt.tzinfo) -> Approval:
    """The approval that lets `campaign` go to its audience, or ApprovalError; nothing is sent."""
    found = None if ledger is None else latest(ledger, campaign.slug)
    return check(found, campaign.loaded, campaign.rendered, tz)


def require_in(db: Path, campaign: Campaign, tz: dt.tzinfo) -> Approval:
    """`require` against the ledger file `db`, without creating it: a send checks before it asks."""
    if not db.exists():
        return require(None, campaign, tz)
    with Ledger.for_reading(db) as ledger:
        return require(ledger, campaign, tz)


def gate(db: Path, campaign: Campaign, tz: dt.tzinfo, required: bool) -> str | None:
    """For a live send: when approval is `required`, the approval it goes out under ("approved by
    Anna, 2026-02-15 10:02 (3f2a9c01b7de)"), or ApprovalError; None when it is not required."""
    if not required:
        return None
    approved = require_in(db, campaign, tz)
    return f"{approved.describe(tz)} ({approved.short})"


# -- what a live send and `status` say ------------------------------------------------------------


def _is_draft(campaign: Campaign) -> bool:
    return campaign.loaded.issue.status == "draft"


def confirmation(campaign: Campaign, people: int) -> str:
    """The question a live send asks on a terminal; for a draft it says that it is one."""
    if _is_draft(campaign):
        return (
            f"{campaign.slug} is a DRAFT (status: draft in {campaign.loaded.path}). Send it to {people} "
            "people anyway?"
        )
    return f"Send {campaign.slug} to {people} people now?"


def draft_warning(campaign: Campaign, people: int) -> str | None:
    """The warning a live send under --yes prints for a draft, which nobody was asked about."""
    if not _is_draft(campaign):
        return None
    return (
        f"{campaign.slug} is a draft (status: draft in {campaign.loaded.path}); sending it to {people} "
        "people anyway, as --yes says"
    )


def status_line(project: Project, ledger: Ledger | None, path: Path, tz: dt.tzinfo) -> str:
    """`<slug>: approved by Anna, 2026-02-15 10:02`, `…: approved version changed since (…)` or
    `…: not approved`."""
    slug = path.stem
    approval = None if ledger is None else latest(ledger, slug)
    if approval is None:
        return f"{slug}: not approved"
    try:
        _, rendered = project.render(path)
    except NewsletterError:
        return f"{slug}: {approval.describe(tz)}; the file does not validate now"
    if fingerprint(rendered) != approval.fingerprint:
        return f"{slug}: approved version changed since ({approval.describe(tz)})"
    return f"{slug}: {approval.describe(tz)}"


def status_lines(project: Project, ledger: Ledger | None, tz: dt.tzinfo, *, required: bool) -> list[str]:
    """A line per issue file on its approval; none where approval is not in use (not required and
    nothing ever approved), so that `status` stays as it was for those who do without."""
    if not required and not in_use(ledger):
        return []
    return [status_line(project, ledger, path, tz) for path in project.issue_files()]
