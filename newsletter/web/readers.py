"""Whom an unsubscribe link names, and recording that they left.

A token of today's form names its list and address and is checked against the secrets alone
(`tokens.read_token`); it counts only for a list this endpoint knows: one the ledger's deliveries
recorded, or the List-Id of one of the layouts. A token of messages sent before that form is an HMAC
alone: with `{email}` in the links it is checked for that address; without, it is looked up among
every address the ledger sent to, in an index of their tokens made once per process (a few tenths of
a second for ten thousand readers) and made again, at most every few minutes, when a token is not in
it. A link that does not verify names nobody: the caller answers it as it answers a valid one.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Sequence

from newsletter.composing.tokens import Reader, is_legacy, legacy_token, read_token
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import OLD_LINK, Feedback
from newsletter.model import address_key

ONE_CLICK = "one-click"
PAGE = "unsubscribe page"
REBUILD_AFTER = 300.0  # seconds before a token missing from the index may make it anew


class Readers:
    """Reads the reader from a link, for the lists this endpoint answers for."""

    def __init__(self, secrets: Sequence[str], layout_lists: Iterable[str]) -> None:
        self.secrets = tuple(secrets)
        self.layout_lists = frozenset(layout_lists)
        self._lock = threading.Lock()
        self._index: dict[str, Reader] = {}
        self._index_lists: frozenset[str] | None = None
        self._built_at = 0.0

    def lists(self, ledger: Ledger) -> frozenset[str]:
        """The List-Ids a token may name: the layouts' and every one a delivery recorded."""
        return self.layout_lists | ledger.list_ids()

    def identify(self, ledger: Ledger, token: str, email: str | None) -> Reader | None:
        """The reader `token` (and, in links with `{email}`, `email`) names; None if it does not verify."""
        token = token.strip()
        lists = self.lists(ledger)
        reader = read_token(token, self.secrets)
        if reader is not None:
            if reader.list_id not in lists:
                return None  # signed with our secret, for a list that is not ours
            if email is not None and address_key(email) != address_key(reader.email):
                return None  # the address beside the token was changed
            return reader
        if not is_legacy(token):
            return None
        if email is not None:
            return self._legacy_for(token, email, lists)
        return self._legacy_lookup(ledger, token, lists)

    def _legacy_for(self, token: str, email: str, lists: frozenset[str]) -> Reader | None:
        for list_id in sorted(lists):
            for secret in self.secrets:
                if legacy_token(secret, list_id, email) == token:
                    return Reader(list_id, email.strip())
        return None

    def _legacy_lookup(self, ledger: Ledger, token: str, lists: frozenset[str]) -> Reader | None:
        with self._lock:
            stale = time.monotonic() - self._built_at > REBUILD_AFTER
            if self._index_lists != lists or (token not in self._index and stale):
                self._index = {
                    legacy_token(secret, list_id, email): Reader(list_id, email)
                    for email in ledger.sent_addresses()
                    for list_id in lists
                    for secret in self.secrets
                }
                self._index_lists, self._built_at = lists, time.monotonic()
            return self._index.get(token)


def unsubscribe(ledger: Ledger, reader: Reader, source: str, now: dt.datetime) -> bool:
    """Put the reader on the suppression list as unsubscribed; False if that changed nothing.

    The evidence is the reader and list, so a replay of the same link (a second press, Gmail's button
    after the page's) is one record. A reader whom staff allowed again after an earlier unsubscribe
    and who leaves again is suppressed again, under the same evidence.
    """
    issue = ledger.latest_issue_to(reader.email, reader.list_id)
    event = Feedback(
        kind="unsubscribed",
        email=reader.email,
        source=source,
        at=now,
        issue=issue,
        evidence=f"unsubscribe {reader.list_id} {address_key(reader.email)}",
    )
    if ledger.record(event):
        return True
    if ledger.is_suppressed(reader.email):
        if _serves_elsewhere(ledger):
            # Asked again: the sender on its own machine may have let the reader back in since it
            # pulled the first request (`suppress remove` there): offered to its next pull again.
            ledger.renew_suppression(reader.email, now)
        return False
    ledger.suppress([reader.email], "unsubscribed", now, source=source, issue=issue)
    return True


def defer_old_link(ledger: Ledger, token: str, source: str, now: dt.datetime) -> bool:
    """Keep an old-form link this endpoint cannot match for the sender's next pull; False if not kept.

    Such a link names nobody by itself and is matched against the addresses an issue went to. An
    endpoint on a machine of its own has sent to nobody, so the sender matches it (`feedback.pull`).
    On the sender's own machine an unmatched old link is nobody's, and is not kept.
    """
    if not is_legacy(token) or not _serves_elsewhere(ledger):
        return False
    event = Feedback(
        kind="unsubscribed",
        email="",
        source=source,
        at=now,
        detail="an old link, for the sender to match",
        evidence=OLD_LINK + token.strip(),
    )
    ledger.record(event)
    return True


def _serves_elsewhere(ledger: Ledger) -> bool:
    """Whether this endpoint's ledger has sent to nobody: it serves a sender on another machine, which
    pulls what it records."""
    return next(ledger.sent_addresses(), None) is None


def masked(email: str) -> str:
    """The address as a page shows it: its first character, dots, and the domain (`j•••@example.org`)."""
    local, at, domain = email.rpartition("@")
    if not at:
        local, domain = email, ""
    return f"{local[:1]}•••{at}{domain}"
