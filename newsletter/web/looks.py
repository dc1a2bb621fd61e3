"""How the unsubscribe page looks for a reader: the language and the layout of the last issue they
were sent, read from that issue's file as the ledger recorded it.

When the file is gone or no longer reads, the page takes the layout whose List-Id the token names,
else the house look: the layout of the latest issue sent, a layout named `default`, or the first there
is; and the language the browser asks for, else the latest issue's. Layouts and issue files are read
with the reading code and kept while their files are unchanged.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from newsletter.composing.message import Envelope
from newsletter.composing.tokens import Reader
from newsletter.errors import NewsletterError
from newsletter.ledger import Ledger
from newsletter.model import LANGUAGES, Language
from newsletter.reading import issues, layouts
from newsletter.reading.layouts import Layout, LayoutConfig

HOUSE_FOR = 60.0  # seconds the house look is kept before the ledger is asked again
LOGO_LIMIT = 256 * 1024  # a larger logo file is left out: the page shows the name instead
_LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}


@dataclass(frozen=True)
class Look:
    language: Language
    config: LayoutConfig | None  # None: no layout could be read; the page's own neutral colours
    logo: str | None = None  # the layout's own logo file as a data: URI


@dataclass(frozen=True)
class _Issue:
    language: Language
    layout: str
    layouts_dir: Path


def accepted_language(header: str) -> Language | None:
    """The first language of an Accept-Language header (`nl-BE,nl;q=0.9,en;q=0.8`) that pages have."""
    ranked = []
    for position, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if weight > 0:
            ranked.append((-weight, position, tag.strip().lower().split("-")[0]))
    by_tag = {language: language for language in LANGUAGES}
    return next((by_tag[tag] for _, _, tag in sorted(ranked) if tag in by_tag), None)


class Looks:
    """Finds and keeps the looks of the pages; safe to share between threads."""

    def __init__(self, layouts_dir: Path, issues_dir: Path | None = None) -> None:
        self.layouts_dir = layouts_dir
        self.issues_dir = issues_dir
        self._lock = threading.Lock()
        self._layouts: dict[tuple[Path, str], tuple[tuple[int, ...], Layout | None]] = {}
        self._issues: dict[Path, tuple[tuple[int, ...], _Issue | None]] = {}
        self._house: tuple[float, _Issue | None] | None = None
        self.by_list: dict[str, str] = {}

    def learn_lists(self, sender: str) -> dict[str, str]:
        """The List-Id of each layout as a sender `sender` gives it, and which layout has it.

        A layout that does not load is left out here; the sender would refuse to use it anyway.
        """
        envelope = Envelope(sender=sender, unsubscribe_url="", secret="")
        for name in layouts.available(self.layouts_dir):
            layout = self._layout(self.layouts_dir, name)
            if layout is not None:
                self.by_list.setdefault(envelope.list_id_for(layout.config.list_name), name)
        return self.by_list

    def for_reader(self, ledger: Ledger, reader: Reader, accept: str) -> Look:
        slug = ledger.latest_issue_to(reader.email, reader.list_id)
        delivery = ledger.delivery(slug) if slug else None
        issue = self._issue(Path(delivery.source_path)) if delivery and delivery.source_path else None
        if issue is not None:
            return self._look(issue.language, self._layout(issue.layouts_dir, issue.layout))
        name = self.by_list.get(reader.list_id)
        layout = self._layout(self.layouts_dir, name) if name else None
        return self._look(self._language(ledger, accept), layout or self._house_layout(ledger))

    def house(self, ledger: Ledger, accept: str) -> Look:
        """The look of a page that cannot tell whom it is for."""
        return self._look(self._language(ledger, accept), self._house_layout(ledger))

    def _language(self, ledger: Ledger, accept: str) -> Language:
        latest = self._latest_issue(ledger)
        # The newsletter's own language first, as the same reader sees it beside the sender; the
        # browser's only when no issue says it.
        return latest.language if latest else (accepted_language(accept) or "en")

    def _house_layout(self, ledger: Ledger) -> Layout | None:
        latest = self._latest_issue(ledger)
        if latest is not None and (layout := self._layout(latest.layouts_dir, latest.layout)):
            return layout
        names = layouts.available(self.layouts_dir)
        for name in sorted(names, key=lambda n: n != "default"):
            if (layout := self._layout(self.layouts_dir, name)) is not None:
                return layout
        return None

    def _latest_issue(self, ledger: Ledger) -> _Issue | None:
        with self._lock:
            if self._house is not None and time.monotonic() - self._house[0] < HOUSE_FOR:
                return self._house[1]
        found = None
        for delivery in reversed(ledger.deliveries()):
            if delivery.source_path and (found := self._issue(Path(delivery.source_path))):
                break
        if found is None and self.issues_dir is not None and self.issues_dir.is_dir():
            # A machine of its own, which sent nothing: the newest issue file copied beside it.
            for path in sorted(self.issues_dir.glob("*.yaml"), reverse=True):
                if found := self._issue(path):
                    break
        with self._lock:
            self._house = (time.monotonic(), found)
        return found

    def _issue(self, path: Path) -> _Issue | None:
        stamp = _stamp(path)
        with self._lock:
            kept = self._issues.get(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        try:
            loaded = issues.load(path)
            beside = path.parent.parent / "layouts"
            root = self.layouts_dir if self.layouts_dir.is_dir() or not beside.is_dir() else beside
            found: _Issue | None = _Issue(loaded.issue.language, loaded.issue.layout, root)
        except (NewsletterError, OSError):
            found = None
        with self._lock:
            self._issues[path] = (stamp, found)
        return found

    def _layout(self, root: Path, name: str) -> Layout | None:
        key = (root, name)
        stamp = (*_stamp(root / name), *_stamp(root / name / "layout.yaml"))
        with self._lock:
            kept = self._layouts.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        try:
            layout: Layout | None = layouts.load(root, name)
        except (NewsletterError, OSError):
            layout = None
        with self._lock:
            self._layouts[key] = (stamp, layout)
        return layout

    @staticmethod
    def _look(language: Language, layout: Layout | None) -> Look:
        if layout is None:
            return Look(language, None)
        return Look(language, layout.config, _logo(layout))


def _logo(layout: Layout) -> str | None:
    """The layout's logo as a data: URI when it is a file of its own: the page loads nothing from
    elsewhere, so a logo at an https address is left out (the page shows the name instead)."""
    logo = layout.config.logo
    data = layout.assets.get(logo.src) if logo else None
    kind = _LOGO_TYPES.get(Path(logo.src).suffix.lower()) if logo else None
    if data is None or kind is None or len(data) > LOGO_LIMIT:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _stamp(path: Path) -> tuple[int, ...]:
    try:
        stat = path.stat()
    except OSError:
        return (-1,)
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)
