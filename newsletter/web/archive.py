"""The web archive: a static site with every sent issue and an index, in the layout's look.

The pages carry no recipient data: merge fields take their defaults (or stay empty), the unsubscribe
link points at the unsubscribe page without a token, and local images are copied beside the pages.
"""

from __future__ import annotations

import datetime as dt
import html
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.model import Rendered
from newsletter.model.links import is_remote_image
from newsletter.model.merge import escape_html
from newsletter.reading.issues import LoadedIssue
from newsletter.rendering.project import Project
from newsletter.rendering.render import format_date

ASSETS = "assets"


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
    issues: list[tuple[Path, str]],
    out: Path,
    *,
    unsubscribe_page: str,
) -> list[Page]:
    """Write `out/<slug>.html` for each (issue file, date) and `out/index.html`, newest first."""
    web = replace(project, asset_base_url=ASSETS, archive_url=None)
    if not issues:
        # Before anything is written: an empty site folder would look like a published archive.
        raise NewsletterError("no issue to publish: nothing has been sent yet (try --include-ready)")
    out.mkdir(parents=True, exist_ok=True)
    pages: list[Page] = []
    brand = None
    language = "nl"
    for path, date in issues:
        loaded, rendered = web.render(path)
        target = out / f"{loaded.slug}.html"
        target.write_text(public_html(rendered, unsubscribe_page), encoding="utf-8")
        _copy_images(loaded, web, out)
        layout = web.layout(loaded)
        if brand is None:
            brand, language = layout.config, loaded.issue.language
        # The index shows subject and preheader as a reader without a name would see them.
        values = _public_values(rendered, unsubscribe_page)
        subject = rendered.subject.fill(values)
        shown = format_date(dt.date.fromisoformat(date), loaded.issue.language)
        pages.append(Page(loaded.slug, subject, rendered.preheader.fill(values), date, shown, target))
    pages.sort(key=lambda p: (p.date, p.slug), reverse=True)
    if brand is None:
        raise NewsletterError("no issue to publish: nothing has been sent yet (try --include-ready)")
    items = "\n".join(
        f'<li><a href="{html.escape(p.slug)}.html">{html.escape(p.subject)}</a>'
        f'<span class="date">{html.escape(p.shown_date)}</span><p>{html.escape(p.preheader)}</p></li>'
        for p in pages
    )
    title = html.escape(brand.list_name)
    index = f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; background: {brand.brand.background}; color: {brand.brand.text}; font-family: {brand.fonts.body}; }}
header {{ background: {brand.brand.primary}; color: {brand.brand.on_primary}; padding: 24px; }}
header h1 {{ margin: 0 auto; max-width: 640px; font-family: {brand.fonts.heading}; }}
ul {{ list-style: none; margin: 24px auto; padding: 0 16px; max-width: 640px; }}
li {{ background: {brand.brand.surface}; margin-bottom: 16px; padding: 16px 20px; }}
li a {{ color: {brand.brand.primary}; font-size: 20px; font-weight: bold; }}
.date {{ display: block; color: {brand.brand.muted}; font-size: 14px; margin-top: 4px; }}
</style></head>
<body><header><h1>{title}</h1></header>
<ul>
{items}
</ul></body></html>
"""
    (out / "index.html").write_text(index, encoding="utf-8")
    return pages


def _copy_images(loaded: LoadedIssue, project: Project, out: Path) -> None:
    folder = loaded.path.parent
    for image in loaded.issue.images():
        if image.is_local:
            target = out / ASSETS / image.src
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / image.src, target)
    layout = project.layout(loaded)
    logo = layout.config.logo
    if logo and not is_remote_image(logo.src):
        target = out / ASSETS / "layouts" / layout.name / logo.src
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(layout.path / logo.src, target)
