"""The preview's preflight panel: the findings of `newsletter check` for the issue on view.

The quick check (everything but the network and the spam score) runs once per version, when the page
asks for it, and is kept; the full one asks every link and scores with SpamAssassin only when the
person presses the button, as it takes seconds. It renders the issue as mail programs get it (images
attached, not linked from the preview's server), for the reader chosen on the page.
"""

from __future__ import annotations

import datetime as dt
import threading

from newsletter.composing.message import Envelope
from newsletter.delivering.preflight import TIMEOUT, preflight
from newsletter.errors import NewsletterError
from newsletter.web.preview import Preview

EXAMPLE_UNSUBSCRIBE_URL = "https://example.org/unsubscribe?token={token}"


class Checks:
    """The preflight of a preview's issue, the quick one kept per version and reader."""

    def __init__(
        self,
        preview: Preview,
        envelope: Envelope | None = None,
        *,
        example: bool = True,
        timeout: float = TIMEOUT,
    ) -> None:
        self.preview = preview
        self.timeout = timeout
        # Without settings the preview knows no secret: the example address signs with a stand-in.
        self.envelope = envelope or Envelope(
            sender=preview.sender,
            unsubscribe_url=EXAMPLE_UNSUBSCRIBE_URL,
            secret="preview",  # noqa: S106
        )
        self.example = example or envelope is None
        self._kept: dict[tuple[int, int], dict[str, object]] = {}
        self._lock = threading.Lock()

    def state(self, index: int, *, online: bool) -> dict[str, object]:
        """The report as the page shows it (`Report.as_dict`), or the mistake that stopped the render."""
        version = self.preview.snapshot.version
        if not online:
            with self._lock:
                kept = self._kept.get((version, index))
            if kept is not None:
                return kept
        try:
            loaded, rendered = self.preview.mail_project.render(self.preview.path)
            report = preflight(
                loaded,
                rendered,
                self.envelope,
                now=dt.datetime.now(dt.UTC),
                recipient=self.preview.recipient(index),
                online=online,
                timeout=self.timeout,
                spam_score=online,
                example_unsubscribe=self.example,
            )
        except NewsletterError as e:
            return {"version": version, "online": online, "mistakes": e.lines(), "areas": []}
        result: dict[str, object] = {"version": version, "mistakes": [], **report.as_dict()}
        if not online:
            with self._lock:
                self._kept = {(version, index): result}
        return result
