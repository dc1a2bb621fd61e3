"""Settings from the environment and `.env`, all prefixed NEWSLETTER_. Read only by the CLI."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.errors import ConfigError
from newsletter.message import Envelope

# What a local render uses when sending is not configured yet: clearly example addresses.
EXAMPLE_SENDER = "Nieuwsbrief <nieuwsbrief@example.org>"
EXAMPLE_UNSUBSCRIBE_URL = "https://example.org/unsubscribe?token={token}"


class Settings(BaseSettings):
    """Every setting the product reads; `.env.example` lists the same names with comments."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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

    def view_url(self, slug: str) -> str | None:
        """The archive page of an issue, if an archive address is set."""
        if not self.archive_url:
            return None
        return f"{self.archive_url.rstrip('/')}/{slug}.html"


def load_settings() -> Settings:
    try:
        return Settings()
    except Exception as e:  # noqa: BLE001 - pydantic-settings raises ValidationError and ValueError
        raise ConfigError(f"settings: {e}") from None
