"""The bounce mailbox the settings name: an IMAP folder (NEWSLETTER_IMAP_*) or a local Maildir
(NEWSLETTER_MAILDIR), each checked before anything is read, a mistake one ConfigError naming it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.errors import ConfigError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.feedback.mailbox import Source


def mailbox_source(settings: Settings) -> Source | None:
    """The IMAP folder or the Maildir to read, or None when neither is set."""
    from newsletter.config import ssl_context
    from newsletter.config.checks import ascii_host
    from newsletter.feedback.imap import DEFAULT_PORTS, IMAPSource, Security
    from newsletter.feedback.mailbox import MaildirSource

    if settings.imap_host and settings.maildir:
        raise ConfigError(
            "set NEWSLETTER_IMAP_HOST or NEWSLETTER_MAILDIR, not both: the bounce mailbox is one of them"
        )
    processed = settings.imap_processed_folder.strip()
    if not processed and not settings.mailbox_delete:
        raise ConfigError("NEWSLETTER_IMAP_PROCESSED_FOLDER is empty; name a folder, e.g. Processed")
    if settings.maildir:
        return MaildirSource(settings.maildir, processed=processed, delete=settings.mailbox_delete)
    if not settings.imap_host:
        return None
    host = ascii_host("NEWSLETTER_IMAP_HOST", settings.imap_host)
    password = settings.imap_password.get_secret_value() if settings.imap_password else ""
    if not settings.imap_username or not password:
        raise ConfigError(
            "set NEWSLETTER_IMAP_USERNAME and NEWSLETTER_IMAP_PASSWORD: the bounce mailbox needs a login"
        )
    security = Security(settings.imap_security)
    plaintext_auth = settings.imap_plaintext_auth == "allow"
    if security is Security.NONE and not plaintext_auth:
        raise ConfigError(
            "NEWSLETTER_IMAP_SECURITY=none would send NEWSLETTER_IMAP_PASSWORD unencrypted; set "
            "NEWSLETTER_IMAP_SECURITY=ssl (or starttls), or NEWSLETTER_IMAP_PLAINTEXT_AUTH=allow for a "
            "server on a trusted network"
        )
    folder = settings.imap_folder.strip() or "INBOX"
    for name, value in (("NEWSLETTER_IMAP_FOLDER", folder), ("NEWSLETTER_IMAP_PROCESSED_FOLDER", processed)):
        if any(not c.isprintable() for c in value):
            raise ConfigError(f"{name} holds a line break or another control character; write it on one line")
    return IMAPSource(
        host=host,
        port=settings.imap_port or DEFAULT_PORTS[security],
        username=settings.imap_username,
        password=password,
        security=security,
        folder=folder,
        processed=processed,
        delete=settings.mailbox_delete,
        ssl_context=ssl_context("NEWSLETTER_IMAP_CA_FILE", settings.imap_ca_file),
        allow_plaintext_auth=plaintext_auth,
    )
