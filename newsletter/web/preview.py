"""The issue being previewed: rendered again whenever a file it depends on changes, and what the
preview page shows of it.

A watcher thread polls the issue file, the images beside it and the layouts folder, renders anew on
any change and wakes whoever waits for a new version (the page's event stream, in preview_http).
The email's local images are shown as readers get them, made for email (`Preview.image`).
A mistake keeps the last good render on view under it, as an editor would. Only image files inside
the issue's folder and its own layout's folder are ever handed out (`Preview.asset`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

from newsletter.errors import NewsletterError
from newsletter.model import SAMPLE_RECIPIENT, InlineImage, Recipient, Rendered
from newsletter.model.merge import html_values
from newsletter.reading.issues import LoadedIssue
from newsletter.rendering import imagecache
from newsletter.rendering.project import Project
from newsletter.rendering.size import GMAIL_CLIP_BYTES, html_size

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
ASSETS = "/assets"
PREVIEW_UNSUBSCRIBE = "#unsubscribe-preview"
SCHEMES = ("light", "dark")
# The email's dark-mode rules (the base layout's _dark.mjml.j2). A page cannot set the
# prefers-color-scheme its frames see (Chromium ignores the frame's color-scheme for it), so the
# preview's dark switch turns this query into one that always holds, or, for light, never does.
_DARK_QUERY = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.IGNORECASE)
_AS_SCHEME = {"dark": "@media all", "light": "@media not all"}


def in_scheme(html: str, scheme: str | None) -> str:
    """The email as a mail program set to `scheme` (light or dark) shows it; as it is for None."""
    if scheme not in _AS_SCHEME:
        return html
    return _DARK_QUERY.sub(_AS_SCHEME[scheme], html)


@dataclass
class Snapshot:
    """The latest render of the issue, or the mistakes that stopped it."""

    version: int = 0
    loaded: LoadedIssue | None = None
    rendered: Rendered | None = None
    errors: list[str] = field(default_factory=list)
    rendered_at: float = 0.0


class Preview:
    """Renders one issue file again whenever a file it depends on changes."""

    def __init__(
        self,
        project: Project,
        path: Path,
        *,
        sender: str,
        recipients: list[Recipient] | None = None,
        interval: float = 0.25,
    ) -> None:
        # Images are linked from this server instead of embedded: a browser cannot show cid: parts.
        self.project = replace(project, asset_base_url=ASSETS, archive_url=None)
        # As mail programs get it, for the preflight panel (web/preview_check.py).
        self.mail_project = project
        self.path = path
        self.sender = sender
        self.recipients = recipients or [SAMPLE_RECIPIENT]
        self.interval = interval
        self.snapshot = Snapshot()
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._stamps: dict[Path, tuple[int, int]] = {}
        self.refresh()

    # -- what is watched ---------------------------------------------------------------------

    def layout_dir(self) -> Path | None:
        loaded = self.snapshot.loaded
        if loaded is None:
            return None
        return self.project.layouts_for(self.path) / loaded.issue.layout

    def watched(self) -> Iterator[Path]:
        yield self.path
        folder = self.path.parent
        for candidate in folder.rglob("*"):
            # The images made for email are written, not edited: no reason to render again.
            if candidate.suffix.lower() in IMAGE_TYPES and imagecache.FOLDER.parts[0] not in candidate.parts:
                yield candidate
        layouts = self.project.layouts_for(self.path)
        if layouts.is_dir():
            for candidate in layouts.rglob("*"):
                if candidate.is_file():
                    yield candidate

    def _scan(self) -> dict[Path, tuple[int, int]]:
        # The size too: a save truncates, then writes, often within one tick of the file system's
        # clock; a scan between the two would otherwise leave the empty file as the last render.
        stamps: dict[Path, tuple[int, int]] = {}
        for path in self.watched():
            try:
                info = path.stat()
            except OSError:
                continue
            stamps[path] = (info.st_mtime_ns, info.st_size)
        return stamps

    # -- rendering ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Render now and publish the result as a new version."""
        self._stamps = self._scan()
        snapshot = Snapshot(version=self.snapshot.version + 1, rendered_at=time.time())
        try:
            snapshot.loaded, snapshot.rendered = self.project.render(self.path)
        except NewsletterError as e:
            snapshot.errors = e.lines()
        except Exception as e:  # noqa: BLE001 - a bug must not stop the preview: show it and go on
            snapshot.errors = [f"{self.path}: unexpected error while rendering: {type(e).__name__}: {e}"]
        if snapshot.errors:
            # Keep showing the last good email under the error, as an editor would.
            snapshot.loaded = self.snapshot.loaded
            snapshot.rendered = self.snapshot.rendered
        with self.changed:
            self.snapshot = snapshot
            self.changed.notify_all()

    def watch(self) -> None:
        """Poll the watched files until stopped; re-render on any change (a save, an added image)."""
        while not self._stop.wait(self.interval):
            if self._scan() != self._stamps:
                self.refresh()

    def stop(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait_for_change(self, version: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.snapshot.version != version or self.stopped, timeout)
            return self.snapshot.version

    # -- what the page shows -----------------------------------------------------------------

    def recipient(self, index: int) -> Recipient:
        return self.recipients[index] if 0 <= index < len(self.recipients) else self.recipients[0]

    def values(self, rendered: Rendered, recipient: Recipient) -> tuple[str, ...]:
        return rendered.values_for({**recipient.merge_data(), "unsubscribe_url": PREVIEW_UNSUBSCRIBE})

    def preheader(self, rendered: Rendered, recipient: Recipient) -> str:
        return rendered.preheader.fill(self.values(rendered, recipient))

    def email_html(self, index: int, scheme: str | None = None) -> str | None:
        """The email for recipient `index`, in the colour scheme `scheme` (see `in_scheme`)."""
        rendered = self.snapshot.rendered
        if rendered is None:
            return None
        values = html_values(rendered.fields, self.values(rendered, self.recipient(index)))
        return in_scheme(rendered.html.fill(values), scheme)

    def email_text(self, index: int) -> str | None:
        rendered = self.snapshot.rendered
        if rendered is None:
            return None
        return rendered.text.fill(self.values(rendered, self.recipient(index)))

    def state(self, index: int) -> dict[str, object]:
        snap = self.snapshot
        rendered = snap.rendered
        body = self.email_html(index)
        size = html_size(body) if body is not None else 0
        subject = ""
        if rendered is not None:
            subject = rendered.subject.fill(self.values(rendered, self.recipient(index)))
        return {
            "version": snap.version,
            "ok": not snap.errors,
            "errors": snap.errors,
            "file": str(self.path),
            "from": self.sender,
            "subject": subject,
            "preheader": self.preheader(rendered, self.recipient(index)) if rendered else "",
            "size": size,
            "limit": GMAIL_CLIP_BYTES,
            "recipients": [f"{r.name or r.first_name or '(geen naam)'} <{r.email}>" for r in self.recipients],
            "recipient": index,
        }

    def image(self, url_path: str) -> InlineImage | None:
        """The local image of the latest render behind /assets/…, as made for email."""
        rendered = self.snapshot.rendered
        relative = unquote(url_path.removeprefix(ASSETS + "/"))
        if rendered is None:
            return None
        return next((image for image in rendered.linked if image.path == relative), None)

    def asset(self, url_path: str) -> Path | None:
        """The image file behind /assets/…, only inside the issue's or the layout's folder."""
        relative = unquote(url_path.removeprefix(ASSETS + "/"))
        if "\\" in relative or "\0" in relative:
            return None
        layouts = self.project.layouts_for(self.path)
        parts = relative.split("/")
        if parts[0] == "layouts" and len(parts) > 2:
            base = self.layout_dir()
            if base is None or parts[1] != base.name:
                return None
            candidate, root = layouts / "/".join(parts[1:]), base
        else:
            candidate, root = self.path.parent / relative, self.path.parent
        try:
            resolved = candidate.resolve()
        except OSError:
            return None
        if not resolved.is_relative_to(root.resolve()) or resolved.suffix.lower() not in IMAGE_TYPES:
            return None
        return resolved if resolved.is_file() else None
