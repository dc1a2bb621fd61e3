"""The web archive: a static site with every sent issue and an index, in the layout's look.

Which issues it shows is decided here too (`issues_to_publish`): those the ledger has delivered to
anyone, and on request the ones that are ready to go. The pages carry no recipient data: merge
fields take their defaults (or stay empty), the unsubscribe link points at the unsubscribe page
without a token, and local images are written under assets/ as the email has them: made for email
(resized, without their metadata), the same bytes a message embeds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from newsletter.errors import NewsletterError
from newsletter.model import Rendered
from newsletter.model.merge import escape_html
from newsletter.reading.issues import load as load_issue
from newsletter.rendering.dates import format_date
from newsletter.rendering.project import Project
from newsletter.web.pages import ARCHIVE_INDEX, render_page

if TYPE_CHECKING:
    from newsletter.ledger import Ledger

ASSETS = "assets"
NOTHING_TO_PUBLISH = "no issue to publish: nothing has been sent yet (try --include-ready)"


class ToPublish(NamedTuple):
    """An issue file of the archive and the day it is dated (ISO, e.g. 2026-01-20)."""

    file: Path
    date: str


def issues_to_publish(project: Project, ledger: Ledger | None, *, include_ready: bool) -> list[ToPublish]:
    """The project's issue files that the archive shows, in the order of their names.

    An issue is published once the ledger records it sent to anyone, dated the day its delivery
    started; a delivery that reached nobody yet is not. With `include_ready`, an issue that is ready
    with a send time joins them, dated by that time; a draft never does. No ledger (none written
    yet) means nothing was sent.
    """
    sent: dict[str, str] = {}
    if ledger is not None:
        for delivery in ledger.deliveries():
            if ledger.counts(delivery.issue).sent:
                sent[delivery.issue] = delivery.started_at.astimezone().date().isoformat()
    chosen: list[ToPublish] = []
    for path in project.issue_files():
        if path.stem in sent:
            chosen.append(ToPublish(path, sent[path.stem]))
        elif include_ready:
            issue = load_issue(path).issue
            if issue.status == "ready" and issue.send_at is not None:
                chosen.append(ToPublish(path, issue.send_at.date().isoformat()))
    return chosen


def public_unsubscribe_page(unsubscribe_url: str | None) -> str:
    """Where the archive's unsubscribe link goes: NEWSLETTER_UNSUBSCRIBE_URL without anyone's token or
    address, or nowhere ("#") when it is not set."""
    page = (unsubscribe_url or "").replace("{token}", "").replace("{email}", "")
    return page or "#"


@dataclass(frozen=True)
class Page:
    slug: str
    subject: str
    preheader: str
    date: str  # ISO, for sorting
    shown_date: str  # as a reader writes it, e.g. "20 januari 2026"
    file: Path


def _public_values(rendered: Rendered, unsubscribe_page: str) -> tuple[str, ...]:
    return rendered.values_for({"unsubscribe_url": unsubscribe_page})


def public_html(rendered: Rendered, unsubscribe_page: str) -> str:
    """The email for the web: no personal values, no working unsubscribe token."""
    return rendered.html.fill(_public_values(rendered, unsubscribe_page), escape_html)


def build(
    project: Project,
    issues: Sequence[tuple[Path, str]],
    out: Path,
    *,
    unsubscribe_page: str,
) -> list[Page]:
    """Write `out/<slug>.html` for each (issue file, date) and `out/index.html`, newest first."""
    web = replace(project, asset_base_url=ASSETS, archive_url=None)
    if not issues:
        # Before anything is written: an empty site folder would look like a published archive.
        raise NewsletterError(NOTHING_TO_PUBLISH)
    out.mkdir(parents=True, exist_ok=True)
    pages: list[Page] = []
    layout_config = None
    language = "nl"
    for path, date in issues:
        loaded, rendered = web.render(path)
        target = out / f"{loaded.slug}.html"
        target.write_text(public_html(rendered, unsubscribe_page), encoding="utf-8")
        for image in rendered.linked:
            image_file = out / ASSETS / image.path
            image_file.parent.mkdir(parents=True, exist_ok=True)
            image_file.write_bytes(image.data)
        layout = web.layout(loaded)
        if layout_config is None:
            layout_config, language = layout.config, loaded.issue.language
        # The index shows subject and preheader as a reader without a name would see them.
        values = _public_values(rendered, unsubscribe_page)
        subject = rendered.subject.fill(values)
        shown = format_date(dt.date.fromisoformat(date), loaded.issue.language)
        pages.append(Page(loaded.slug, subject, rendered.preheader.fill(values), date, shown, target))
    pages.sort(key=lambda p: (p.date, p.slug), reverse=True)
    if layout_config is None:
        raise NewsletterError(NOTHING_TO_PUBLISH)
    index = render_page(
        ARCHIVE_INDEX,
        title=layout_config.list_name,
        language=language,
        brand=layout_config.brand,
        fonts=layout_config.fonts,
        pages=pages,
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    return pages
