"""The SMTP login the settings ask for: a password, or an OAuth2 token from NEWSLETTER_SMTP_TOKEN_COMMAND
or from Microsoft Entra ID (NEWSLETTER_OAUTH_*). Every mistake is one ConfigError naming the setting,
before anything is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsletter.errors import ConfigError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.sending.login import TokenSource

_ENTRA = ("NEWSLETTER_OAUTH_TENANT", "NEWSLETTER_OAUTH_CLIENT_ID", "NEWSLETTER_OAUTH_CLIENT_SECRET")


def login_kind(settings: Settings) -> str:
    """password or xoauth2: NEWSLETTER_SMTP_AUTH, else xoauth2 when a token source and no password is set.

    A relay profile's login kind arrives as NEWSLETTER_SMTP_AUTH only when no login setting is given
    (`config.sources`): an explicit password beside NEWSLETTER_RELAY=microsoft365 means password login.
    """
    if settings.smtp_auth:
        return settings.smtp_auth
    token_source = settings.smtp_token_command or settings.oauth_tenant or settings.oauth_client_id
    return "xoauth2" if token_source and not settings.smtp_password else "password"


def smtp_tokens(settings: Settings) -> TokenSource | None:
    """Where the OAuth2 login's tokens come from, or None for a password login."""
    from newsletter.sending.oauth import ENTRA_AUTHORITY, EntraToken, TokenCommand, split_command

    if login_kind(settings) == "password":
        return None
    why = _why_xoauth2(settings)
    if not settings.smtp_username:
        raise ConfigError(
            f"{why} logs in as NEWSLETTER_SMTP_USERNAME: set it to the address of the sending mailbox"
        )
    entra = {
        "NEWSLETTER_OAUTH_TENANT": settings.oauth_tenant,
        "NEWSLETTER_OAUTH_CLIENT_ID": settings.oauth_client_id,
        "NEWSLETTER_OAUTH_CLIENT_SECRET": (
            settings.oauth_client_secret.get_secret_value() if settings.oauth_client_secret else None
        ),
    }
    command = settings.smtp_token_command
    if command:
        if any(entra.values()):
            raise ConfigError(
                "NEWSLETTER_SMTP_TOKEN_COMMAND and NEWSLETTER_OAUTH_* are both set: keep one source of "
                "tokens and empty the other"
            )
        try:
            split_command(command)
        except ValueError as e:
            raise ConfigError(
                f"NEWSLETTER_SMTP_TOKEN_COMMAND cannot be read as a command ({e}); write the program and "
                "its arguments, quoting an argument with spaces"
            ) from None
        return TokenCommand(command, timeout=settings.smtp_timeout)
    missing = [name for name, value in entra.items() if not value]
    if len(missing) == len(entra):
        password = ", or NEWSLETTER_SMTP_PASSWORD where password login is allowed" if settings.relay else ""
        if (settings.relay or "").strip().lower() == "google-workspace":
            # Google has no client-credentials flow for a mailbox: a token command or an app password.
            raise ConfigError(
                f"{why} needs a token: set NEWSLETTER_SMTP_TOKEN_COMMAND to a program that prints the "
                "mailbox's Google access token (e.g. oama), or NEWSLETTER_SMTP_PASSWORD to an app "
                "password (see the README's Google Workspace page)"
            )
        raise ConfigError(
            f"{why} needs a token: set NEWSLETTER_SMTP_TOKEN_COMMAND, or {', '.join(_ENTRA)} for "
            f"Microsoft 365{password} (see .env.example)"
        )
    if missing:
        raise ConfigError(
            f"set {', '.join(missing)} too, for a token from Microsoft Entra ID (see .env.example)"
        )
    tenant = str(entra["NEWSLETTER_OAUTH_TENANT"]).strip()
    if not tenant.replace("-", "").replace(".", "").isalnum():
        raise ConfigError(
            f"NEWSLETTER_OAUTH_TENANT={tenant!r}: write the Directory (tenant) ID from the app registration "
            "overview page, e.g. 4a1c2e6b-0d3f-4e8a-9b7c-2f5d6e8a9b0c, or the domain example.onmicrosoft.com"
        )
    return EntraToken(
        tenant=tenant,
        client_id=str(entra["NEWSLETTER_OAUTH_CLIENT_ID"]).strip(),
        client_secret=str(entra["NEWSLETTER_OAUTH_CLIENT_SECRET"]),
        authority=_authority(settings.oauth_authority) if settings.oauth_authority else ENTRA_AUTHORITY,
        timeout=settings.smtp_timeout,
    )


def _why_xoauth2(settings: Settings) -> str:
    """What asked for OAuth2, as the person wrote it: the relay profile, or NEWSLETTER_SMTP_AUTH."""
    profile = settings.relay_profile()
    if profile is not None and profile.auth == "xoauth2":
        return f"NEWSLETTER_RELAY={profile.name} (OAuth2 login, xoauth2)"
    return "NEWSLETTER_SMTP_AUTH=xoauth2"


def _authority(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.path.strip("/"):
        raise ConfigError(
            f"NEWSLETTER_OAUTH_AUTHORITY={value!r}: write the https address of Entra ID without a path, "
            "e.g. https://login.microsoftonline.com (or leave it empty)"
        )
    return value.strip().rstrip("/")
