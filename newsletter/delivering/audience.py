"""Which audience an issue goes to, and that audience checked against the issue before anything is
sent: someone to send to, a column for every merge field without a fallback, and no row whose value
would make a bad link."""

from __future__ import annotations

from pathlib import Path

from newsletter.errors import AudienceError
from newsletter.model import Rendered
from newsletter.model.merge import TRUSTED_FIELDS, link_problem
from newsletter.reading import audience_fields, recipients
from newsletter.reading.issues import LoadedIssue
from newsletter.reading.recipients import Audience


def audience_path(loaded: LoadedIssue, given: Path | None, default: Path | None) -> Path:
    """--recipients, else the issue's `audience` (relative to the issue file), else the setting."""
    chosen = given or loaded.audience_file or default
    if chosen is not None:
        return chosen
    raise AudienceError(
        "no recipients: pass --recipients FILE.csv, add `audience:` to the issue or set NEWSLETTER_RECIPIENTS"
    )


def check_audience(loaded: LoadedIssue, rendered: Rendered, source: Path) -> Audience:
    """The audience in `source`, checked against the rendered issue as a send checks it: someone to
    send to, every merge field without a fallback provided by a column (else IssueError naming the
    line), and the rows skipped whose value would make a bad link."""
    audience = recipients.load(source)
    if not audience.count:
        raise AudienceError(f"{source}: no usable recipients ({len(audience.skipped)} rows skipped)")
    audience_fields.check(loaded, rendered, audience)
    _skip_bad_links(audience, rendered)
    return audience


def _skip_bad_links(audience: Audience, rendered: Rendered) -> None:
    """Skip, before anything is sent, the rows whose value would make a bad link where a field is
    the address of one (`[site]({{ website }})` with website javascript:…), as invalid addresses are."""
    fields = tuple(f for f in rendered.link_fields if f.key not in TRUSTED_FIELDS)
    if not fields:
        return
    audience.refuse(lambda r: link_problem(fields, r.merge_data()))
    if not audience.count:
        raise AudienceError(f"{audience.source}: no usable recipients ({len(audience.skipped)} rows skipped)")
