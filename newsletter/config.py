"""Settings from the environment and `.env`, all prefixed NEWSLETTER_. Read only by the CLI."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.delivery import Options, Rate
from newsletter.errors import ConfigError
from newsletter.message import Envelope
from newsletter.schedule import DEFAULT_TIMEZONE
from newsletter.send.smtp import Security, SMTPSender

# What a local render uses when sending is not configured yet: clearly example addresses.
EXAMPLE_SENDER = "Nieuwsbrief <nieuwsbrief@example.org>"
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
    archive_url: str | None = None
    asset_base_url: str | None = None

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Security = Security.STARTTLS
    smtp_timeout: float = Field(default=30.0, gt=0)
    smtp_ca_file: Path | None = None
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

    def envelope(self, *, for_real: bool) -> Envelope:
        """Sender and unsubscribe settings; examples for a local render, required for a real send."""
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
        url = self.unsubscribe_url or EXAMPLE_UNSUBSCRIBE_URL
        if "{token}" not in url and "{email}" not in url:
            raise ConfigError(
                "NEWSLETTER_UNSUBSCRIBE_URL must contain {token} (or {email}), e.g. "
                "https://example.org/unsubscribe?token={token}"
            )
        return Envelope(
            sender=self.from_ or EXAMPLE_SENDER,
            reply_to=self.reply_to,
            unsubscribe_url=url,
            unsubscribe_mailto=self.unsubscribe_mailto,
            secret=self.secret.get_secret_value() if self.secret else "not-a-secret",
        )

    def smtp_sender(self) -> SMTPSender:
        if not self.smtp_host:
            raise ConfigError("set NEWSLETTER_SMTP_HOST (and _PORT, _USERNAME, _PASSWORD) to send mail")
        default_port = {Security.SSL: 465, Security.STARTTLS: 587, Security.NONE: 25}[self.smtp_security]
        context = None
        if self.smtp_ca_file is not None:
            if not self.smtp_ca_file.is_file():
                raise ConfigError(f"NEWSLETTER_SMTP_CA_FILE={self.smtp_ca_file}: no such file")
            context = ssl.create_default_context(cafile=str(self.smtp_ca_file))
        return SMTPSender(
            host=self.smtp_host,
            port=self.smtp_port or default_port,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            timeout=self.smtp_timeout,
            ssl_context=context,
        )

    def limiter_rate(self) -> Rate | None:
        return Rate.parse(self.rate) if self.rate else None

    def options(self, limit: int | None = None) -> Options:
        return Options(
            connections=self.connections,
            messages_per_connection=self.messages_per_connection,
            limit=limit,
            daily_limit=self.daily_limit,
            give_up_after=self.smtp_timeout,
        )

    def report_addresses(self) -> list[str]:
        return [a.strip() for a in (self.report_to or "").split(",") if a.strip()]

    def test_addresses(self) -> list[str]:
        return [a.strip() for a in (self.test_recipients or "").split(",") if a.strip()]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        first = e.errors()[0]
        name = "_".join(str(p) for p in first["loc"]).upper()
        name = name if name.startswith("NEWSLETTER_") else f"NEWSLETTER_{name}"
        raise ConfigError(f"{name}: {first['msg']} (see .env.example)") from None
