"""Settings from the environment and `.env`, all prefixed NEWSLETTER_. Read only by the CLI, and by
the unsubscribe endpoint's WSGI entry point (`web.unsubscribe`) for a WSGI server other than ours.

Every value that ends up in a mail header is checked before anything is sent (see `checks`): an
address must be one, a URL must be https with a host and {token}, and none may hold a line break.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from newsletter.delivering.schedule import DEFAULT_TIMEZONE, parse_duration
from newsletter.errors import ConfigError

if TYPE_CHECKING:
    from newsletter.composing.message import Envelope
    from newsletter.config.relays import Profile
    from newsletter.delivering.loop import Options, Rate
    from newsletter.feedback.mailbox import Source
    from newsletter.feedback.verdict import Rules
    from newsletter.sending.smtp import SMTPSender

# The delivery loop, the message composer and the address checks are imported where a setting is turned
# into one of them: `newsletter --help` or `validate` should not pay for the sending code.

# What a local render uses when sending is not configured yet: clearly example addresses.
EXAMPLE_SENDER = "Newsletter <newsletter@example.org>"
EXAMPLE_UNSUBSCRIBE_URL = "https://example.org/unsubscribe?token={token}"


class Settings(BaseSettings):
    """Every setting the product reads; `.env.example` lists the same names with comments."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    issues_dir: Path = Field(default=Path("issues"), alias="NEWSLETTER_ISSUES")
    layouts_dir: Path = Field(default=Path("layouts"), alias="NEWSLETTER_LAYOUTS")
    from_: str | None = Field(default=None, alias="NEWSLETTER_FROM")
    reply_to: str | None = None
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    secret: SecretStr | None = None
    # Secrets that signed earlier issues' unsubscribe links, comma-separated: still accepted by the endpoint.
    previous_secrets: SecretStr | None = None
    # The endpoint's suppressions when it runs on another machine (`config.pull`): pulled before a send.
    suppressions_url: str | None = None
    archive_url: str | None = None
    asset_base_url: str | None = None

    # A provider's profile (`config.relays`): host, port, security, login and limits; explicit settings win.
    relay: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # The values of sending.smtp.Security, spelled out so that reading settings imports no SMTP code.
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    smtp_ca_file: Path | None = None
    smtp_plaintext_auth: Literal["refuse", "allow"] = "refuse"
    # OAuth2 login (XOAUTH2); `config.login` turns these into the token source.
    smtp_auth: Literal["password", "xoauth2"] | None = None
    smtp_token_command: str | None = None
    oauth_tenant: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_authority: str | None = None
    recipients: Path | None = None
    db: Path = Path("newsletter.sqlite3")
    outbox: Path = Path("outbox")
    rate: str | None = None
    daily_limit: int | None = Field(default=None, ge=1)
    connections: int = Field(default=1, ge=1, le=32)
    messages_per_connection: int = Field(default=100, ge=1)
    test_recipients: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    report_to: str | None = None
    dispatch_window: str = "7d"
    lock_stale_after: str = "12h"
    # The four-eyes gate: a live send and dispatch deliver only an issue approved as it renders now.
    require_approval: bool = False
    # An address is suppressed after this many temporary failures within the period.
    soft_bounce_limit: int = Field(default=3, ge=1)
    soft_bounce_period: str = "90d"

    # The envelope sender (MAIL FROM) of every message, where bounces go; {token} tags it per message.
    bounce_address: str | None = None
    # The bounce mailbox that `newsletter mailbox` (and dispatch, first) reads: IMAP, or a local Maildir.
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    # The values of feedback.imap.Security, spelled out so that reading settings imports no IMAP code.
    imap_security: Literal["ssl", "starttls", "none"] = "ssl"
    imap_plaintext_auth: Literal["refuse", "allow"] = "refuse"
    imap_ca_file: Path | None = None
    imap_folder: str = "INBOX"
    imap_processed_folder: str = "Processed"
    maildir: Path | None = None
    mailbox_delete: bool = False

    # DKIM: the selector of the From domain's key (for `doctor`, and for signing with the key file).
    dkim_selector: str | None = None
    # Signing by the tool, where the relay does not: the private key (PEM) and the d= domain.
    dkim_key_file: Path | None = None
    dkim_domain: str | None = None
    # The DNS server `doctor` asks, host or host:port; empty: the system's resolvers.
    dns_server: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """NEWSLETTER_RELAY's profile below the environment and .env, above the defaults."""
        from newsletter.config.sources import ProfileSource

        return init_settings, env_settings, dotenv_settings, ProfileSource(settings_cls), file_secret_settings

    def relay_profile(self) -> Profile | None:
        """The provider profile NEWSLETTER_RELAY names, or None; ConfigError for a name there is none of."""
        from newsletter.config.relays import relay_profile

        return relay_profile(self.relay) if self.relay else None

    def envelope(self, *, for_real: bool, sign: bool = True) -> Envelope:
        """Sender and unsubscribe settings; examples for a local render, required for a real send.
        With NEWSLETTER_DKIM_KEY_FILE (and `sign`) it carries the DKIM signer, the key read once.

        Raises ConfigError for a value that is not an address or a usable unsubscribe URL, and for
        a DKIM key or selector that cannot sign.
        """
        from newsletter.composing.message import Envelope
        from newsletter.config.checks import address_setting, bounce_address_setting, unsubscribe_url_setting

        if for_real:
            missing = [
                name
                for name, value in (
                    ("NEWSLETTER_FROM", self.from_),
                    ("NEWSLETTER_UNSUBSCRIBE_URL", self.unsubscribe_url),
                    ("NEWSLETTER_SECRET", self.secret),
                )
                if not value
            ]
            if missing:
                raise ConfigError(f"set {', '.join(missing)} in .env or the environment (see .env.example)")
        url, _ = unsubscribe_url_setting(self.unsubscribe_url or EXAMPLE_UNSUBSCRIBE_URL, for_real=for_real)
        envelope = Envelope(
            sender=address_setting("NEWSLETTER_FROM", self.from_) if self.from_ else EXAMPLE_SENDER,
            reply_to=address_setting("NEWSLETTER_REPLY_TO", self.reply_to) if self.reply_to else None,
            unsubscribe_url=url,
            unsubscribe_mailto=(
                address_setting("NEWSLETTER_UNSUBSCRIBE_MAILTO", self.unsubscribe_mailto, display_name=False)
                if self.unsubscribe_mailto
                else None
            ),
            secret=self.secret.get_secret_value() if self.secret else "not-a-secret",
            bounce_address=bounce_address_setting(self.bounce_address) if self.bounce_address else None,
        )
        if not sign or self.dkim_key_file is None:
            return envelope
        if not self.from_:
            raise ConfigError(
                "NEWSLETTER_DKIM_KEY_FILE is set: set NEWSLETTER_FROM too, an address of its domain"
            )
        from newsletter.config.dkim import dkim_signer  # dkimpy and cryptography: only a run that signs

        signer = dkim_signer(self.dkim_key_file, self.dkim_selector, self.dkim_domain, envelope.domain)
        return replace(envelope, dkim=signer)

    def unsubscribe_secrets(self) -> list[str]:
        """The secrets an unsubscribe token may be signed with: NEWSLETTER_SECRET first, then
        NEWSLETTER_PREVIOUS_SECRETS; ConfigError without NEWSLETTER_SECRET."""
        if not self.secret or not self.secret.get_secret_value().strip():
            raise ConfigError("set NEWSLETTER_SECRET in .env or the environment (see .env.example)")
        previous = self.previous_secrets.get_secret_value() if self.previous_secrets else ""
        return [self.secret.get_secret_value(), *(p.strip() for p in previous.split(",") if p.strip())]

    def envelope_warnings(self) -> list[str]:
        """What a local render or dry run tolerates in the unsubscribe URL but a real send refuses."""
        from newsletter.config.checks import unsubscribe_url_setting

        try:
            return unsubscribe_url_setting(self.unsubscribe_url or EXAMPLE_UNSUBSCRIBE_URL, for_real=False)[1]
        except ConfigError:
            return []

    def smtp_sender(self) -> SMTPSender:
        from newsletter.config.checks import ascii_host
        from newsletter.config.login import smtp_tokens
        from newsletter.sending.smtp import Security, SMTPSender

        if not self.smtp_host:
            raise ConfigError("set NEWSLETTER_SMTP_HOST (and _PORT, _USERNAME, _PASSWORD) to send mail")
        host = ascii_host("NEWSLETTER_SMTP_HOST", self.smtp_host)
        security = Security(self.smtp_security)
        default_port = {Security.SSL: 465, Security.STARTTLS: 587, Security.NONE: 25}[security]
        plaintext_auth = self.smtp_plaintext_auth == "allow"
        tokens = smtp_tokens(self)
        if security is Security.NONE and self.smtp_username and not plaintext_auth:
            raise ConfigError(
                "NEWSLETTER_SMTP_SECURITY=none would send NEWSLETTER_SMTP_PASSWORD unencrypted; set "
                "NEWSLETTER_SMTP_SECURITY=starttls (or ssl), or NEWSLETTER_SMTP_PLAINTEXT_AUTH=allow for a "
                "relay on a trusted network"
            )
        return SMTPSender(
            host=host,
            port=self.smtp_port or default_port,
            security=security,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            timeout=self.smtp_timeout,
            ssl_context=ssl_context("NEWSLETTER_SMTP_CA_FILE", self.smtp_ca_file),
            allow_plaintext_auth=plaintext_auth,
            tokens=tokens,
        )

    def mailbox_source(self) -> Source | None:
        """The bounce mailbox the settings name (NEWSLETTER_IMAP_HOST or NEWSLETTER_MAILDIR), or None."""
        from newsletter.config.mailbox import mailbox_source

        return mailbox_source(self)

    def limiter_rate(self) -> Rate | None:
        from newsletter.delivering.loop import Rate

        return Rate.parse(self.rate) if self.rate else None

    def options(self, limit: int | None = None) -> Options:
        from newsletter.delivering.loop import Options

        return Options(
            connections=self.connections,
            messages_per_connection=self.messages_per_connection,
            limit=limit,
            daily_limit=self.daily_limit,
            give_up_after=self.smtp_timeout,
        )

    def window(self) -> dt.timedelta:
        """How far back from now dispatch sends a ready issue that the ledger has no record of."""
        return parse_duration(self.dispatch_window, "NEWSLETTER_DISPATCH_WINDOW")

    def stale_after(self) -> dt.timedelta:
        """How long a dispatch may hold its lock before the next one reports it as possibly hung."""
        return parse_duration(self.lock_stale_after, "NEWSLETTER_LOCK_STALE_AFTER")

    def feedback_rules(self) -> Rules:
        """How the bounce mailbox's mail is judged: the unsubscribe and bounce addresses, and how many
        temporary failures in how long suppress an address."""
        from newsletter.config.checks import address_setting
        from newsletter.feedback.verdict import Rules

        mailto = self.unsubscribe_mailto
        return Rules(
            unsubscribe_mailto=(
                address_setting("NEWSLETTER_UNSUBSCRIBE_MAILTO", mailto, display_name=False)
                if mailto
                else None
            ),
            bounce_address=self.bounce_address,
            soft_bounce_limit=self.soft_bounce_limit,
            soft_bounce_period=parse_duration(self.soft_bounce_period, "NEWSLETTER_SOFT_BOUNCE_PERIOD"),
        )

    def report_addresses(self) -> list[str]:
        """NEWSLETTER_REPORT_TO's addresses, each checked: they go into the report's To header."""
        return _address_list("NEWSLETTER_REPORT_TO", self.report_to)

    def test_addresses(self) -> list[str]:
        return _address_list("NEWSLETTER_TEST_RECIPIENTS", self.test_recipients)


def ssl_context(name: str, path: Path | None) -> ssl.SSLContext | None:
    """A context that trusts the CA certificate in the file the setting `name` gives, or None."""
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"{name}={path}: no such file")
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError) as e:
        raise ConfigError(
            f"{name}={path}: not a CA certificate in PEM form ({e}); give the file "
            "that starts with -----BEGIN CERTIFICATE-----"
        ) from None
    except OSError as e:
        raise ConfigError(f"{name}={path}: cannot read it ({e.strerror})") from None


def _address_list(name: str, value: str | None) -> list[str]:
    from newsletter.config.checks import address_setting

    example = "me@example.org,colleague@example.org (commas between addresses)"
    return [
        address_setting(name, a.strip(), display_name=False, example=example)
        for a in (value or "").split(",")
        if a.strip()
    ]


# How to write a setting that pydantic refused, added to its complaint.
FIXES = {
    "NEWSLETTER_SMTP_PORT": "a port number from 1 to 65535, e.g. 587",
    "NEWSLETTER_SMTP_TIMEOUT": "a number of seconds above 0, e.g. 30",
    "NEWSLETTER_SMTP_SECURITY": "starttls, ssl or none",
    "NEWSLETTER_SMTP_PLAINTEXT_AUTH": "refuse or allow",
    "NEWSLETTER_SMTP_AUTH": "password or xoauth2",
    "NEWSLETTER_REQUIRE_APPROVAL": "true or false",
    "NEWSLETTER_IMAP_PORT": "a port number from 1 to 65535, e.g. 993",
    "NEWSLETTER_IMAP_SECURITY": "ssl, starttls or none",
    "NEWSLETTER_IMAP_PLAINTEXT_AUTH": "refuse or allow",
    "NEWSLETTER_MAILBOX_DELETE": "true or false",
    "NEWSLETTER_SOFT_BOUNCE_LIMIT": "a whole number of 1 or more, e.g. 3",
}
SECRETS = (
    "NEWSLETTER_SECRET",
    "NEWSLETTER_PREVIOUS_SECRETS",
    "NEWSLETTER_SMTP_PASSWORD",
    "NEWSLETTER_IMAP_PASSWORD",
    "NEWSLETTER_OAUTH_CLIENT_SECRET",
)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        first = e.errors()[0]
        name = "_".join(str(p) for p in first["loc"]).upper()
        name = name if name.startswith("NEWSLETTER_") else f"NEWSLETTER_{name}"
        fix = f"; write {FIXES[name]}" if name in FIXES else ""
        plain = None if name in SECRETS else number_in_words(first)
        if plain is not None:
            raise ConfigError(f"{name}: {plain}{fix} (see .env.example)") from None
        shown = name if name in SECRETS else f"{name}={first.get('input')!r}"
        raise ConfigError(f"{shown}: {first['msg']}{fix} (see .env.example)") from None


_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be more than"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be less than"),
}


def number_in_words(problem: ErrorDetails) -> str | None:
    """Pydantic's complaint about a number in the words of the person who typed it: "'abc' is not a
    whole number", "must be at least 1"; None for a complaint about anything else."""
    kind = problem["type"]
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{problem['input']!r} is not a whole number"
    if kind in ("float_parsing", "float_type"):
        return f"{problem['input']!r} is not a number"
    if kind == "finite_number":
        return f"{problem['input']!r} is not a finite number"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"{words} {problem.get('ctx', {})[key]}"
    return None
