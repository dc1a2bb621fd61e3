"""NEWSLETTER_SUPPRESSIONS_URL turned into the endpoint the pull fetches from (`feedback.pull`).

It must be https: the credential and the readers' addresses travel over it. Plain http is allowed
only to this machine (127.0.0.1, localhost), where nothing crosses a network: an endpoint behind a
local proxy, or a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from newsletter.errors import ConfigError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.feedback.pull import Endpoint

NAME = "NEWSLETTER_SUPPRESSIONS_URL"
EXAMPLE = "https://nieuws.example.org/uitschrijven/suppressions"
LOCAL = ("127.0.0.1", "localhost", "::1")


def suppressions_endpoint(settings: Settings) -> Endpoint | None:
    """The endpoint to pull from, or None when NEWSLETTER_SUPPRESSIONS_URL is not set (the endpoint
    runs beside the sender and writes into the same ledger). ConfigError for a URL that is not
    usable, or without NEWSLETTER_SECRET, which signs the credential."""
    from newsletter.feedback.pull import Endpoint

    if not settings.suppressions_url or not settings.suppressions_url.strip():
        return None
    url = suppressions_url(settings.suppressions_url)
    if not settings.secret or not settings.secret.get_secret_value().strip():
        raise ConfigError(f"{NAME} is set: set NEWSLETTER_SECRET too, the same as the endpoint's")
    secrets = settings.unsubscribe_secrets()
    return Endpoint(url, secrets[0], previous=tuple(secrets[1:]), lists=_layout_lists(settings))


def _layout_lists(settings: Settings) -> frozenset[str]:
    """The List-Id each layout gives with this sender: what an old link's list may be (deliveries of
    versions before did not record theirs). A layout that does not load is left out."""
    from newsletter.composing.message import Envelope
    from newsletter.errors import NewsletterError
    from newsletter.reading import layouts

    if not settings.from_:
        return frozenset()
    envelope = Envelope(sender=settings.from_, unsubscribe_url="", secret="")
    found = set()
    for name in layouts.available(settings.layouts_dir):
        try:
            found.add(envelope.list_id_for(layouts.load(settings.layouts_dir, name).config.list_name))
        except (NewsletterError, OSError):
            continue
    return frozenset(found)


def suppressions_url(value: str) -> str:
    """The URL as it is requested: checked, the host in punycode, other non-ASCII percent-encoded."""
    value = value.strip()
    if any(c.isspace() or not c.isprintable() or c in '<>"\\' for c in value):
        raise ConfigError(f"{NAME}={value!r} holds a space, a quote or <>; write e.g. {EXAMPLE}")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{NAME}={value!r} is not a web address with a host; write e.g. {EXAMPLE}")
    if parts.username is not None:
        raise ConfigError(
            f"{NAME}: write it without a user name or password; the pull proves itself with NEWSLETTER_SECRET"
        )
    if parts.scheme == "http" and parts.hostname not in LOCAL:
        raise ConfigError(
            f"{NAME}={value!r} must be an https:// address (the readers' addresses travel over it), "
            f"e.g. {EXAMPLE}; plain http only to this machine (127.0.0.1 or localhost)"
        )
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise ConfigError(f"{NAME}={value!r}: the host is not a valid domain name") from None
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{NAME}={value!r}: the port is not a number from 1 to 65535") from None
    netloc = host if port is None else f"{host}:{port}"
    # Only what is not ASCII is encoded: what was percent-encoded or reserved stays as written.
    path = quote(parts.path or "/", safe="".join(map(chr, range(33, 127))))
    query = f"?{quote(parts.query, safe=''.join(map(chr, range(33, 127))))}" if parts.query else ""
    return f"{parts.scheme}://{netloc}{path}{query}"
