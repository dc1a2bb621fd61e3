"""Where settings come from: the environment, `.env`, a relay profile, the built-in defaults, in that
order of precedence.

The profile is a pydantic-settings source placed after the environment and `.env` and before the
defaults, so that every part that reads settings (the SMTP sender, the limiter, the send options) gets
the profile's values without knowing profiles exist. `origins` tells, per setting, which of them gave
the value in effect, for `newsletter config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource, PydanticBaseSettingsSource

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings

    from newsletter.config.relays import Profile

# Settings that pick the login: given any of them explicitly, the profile's login kind steps aside and
# `config.login` decides from what was given (a password means password login).
_LOGIN_FIELDS = (
    "smtp_auth",
    "smtp_password",
    "smtp_token_command",
    "oauth_tenant",
    "oauth_client_id",
    "oauth_client_secret",
)


def profile_values(profile: Profile, given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings (by field name) that `profile` fills, given the explicit values `given`.

    The explicit ones still win over these (they come first); what this decides is what the profile
    leaves alone because of them: its port when an explicit security differs from its own (the port
    goes with the security), and its login kind when any login setting is explicit.
    """
    values: dict[str, Any] = {
        "smtp_host": profile.host,
        "smtp_security": profile.security,
        "smtp_port": profile.port,
        "rate": profile.rate,
        "daily_limit": profile.daily_limit,
        "messages_per_connection": profile.messages_per_connection,
        "connections": profile.connections,
    }
    if str(given.get("smtp_security", profile.security)).strip().lower() != profile.security:
        del values["smtp_port"]
    if not any(field in given for field in _LOGIN_FIELDS):
        values["smtp_auth"] = profile.auth
    return {field: value for field, value in values.items() if value is not None}


class ProfileSource(PydanticBaseSettingsSource):
    """NEWSLETTER_RELAY's profile as a settings source; a name there is none of raises ConfigError."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # noqa: ARG002
        # Only __call__ is used: the values depend on each other, not on one field at a time.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        from newsletter.config.relays import relay_profile

        given = self.current_state  # what the environment and .env gave, already merged
        relay = str(given.get("relay") or "").strip()
        return profile_values(relay_profile(relay), given) if relay else {}


def origins(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """Where each setting's value comes from, by field name: "environment", ".env", "profile NAME";
    a field that none of them gives has its default (and is absent here)."""
    from newsletter.config.relays import relay_profile

    environment = EnvSettingsSource(settings_cls)()
    dotenv = DotEnvSettingsSource(settings_cls)()
    given = {**dotenv, **environment}
    found: dict[str, str] = {}
    relay = str(given.get("relay") or "").strip()
    if relay:
        profile = relay_profile(relay)
        found.update(dict.fromkeys(profile_values(profile, given), f"profile {profile.name}"))
    found.update(dict.fromkeys(_field_names(settings_cls, dotenv), ".env"))
    found.update(dict.fromkeys(_field_names(settings_cls, environment), "environment"))
    return found


def _field_names(settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> list[str]:
    """The field names of a source's keys: a field with an alias comes back under its alias."""
    by_alias = {info.alias: name for name, info in settings_cls.model_fields.items() if info.alias}
    return [by_alias.get(key, key) for key in values if by_alias.get(key, key) in settings_cls.model_fields]
