"""What `newsletter config` shows: every setting's value in effect and where it came from (the
environment, `.env`, NEWSLETTER_RELAY's profile or the default), grouped as `.env.example` groups
them, secrets masked, and what the relay profile filled in and documents.

The lines read like `.env` (`NAME=value  # where from`), one setting a line, so that they can be
grepped and compared; a secret's value is never part of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from newsletter.errors import ConfigError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.config.relays import Profile

# As in .env.example, in its order (tests/test_config_cli.py holds the two together).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Where things are", ("ISSUES", "LAYOUTS", "DB", "OUTBOX", "RECIPIENTS")),
    (
        "Who sends, and how readers leave",
        ("FROM", "REPLY_TO", "UNSUBSCRIBE_URL", "UNSUBSCRIBE_MAILTO", "SECRET", "PREVIOUS_SECRETS",
         "SUPPRESSIONS_URL", "ARCHIVE_URL", "ASSET_BASE_URL"),
    ),
    (
        "The mail server",
        ("RELAY", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_SECURITY",
         "SMTP_PLAINTEXT_AUTH", "SMTP_TIMEOUT", "SMTP_CA_FILE"),
    ),
    (
        "OAuth2 login (Microsoft 365, Google Workspace)",
        ("SMTP_AUTH", "SMTP_TOKEN_COMMAND", "OAUTH_TENANT", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET",
         "OAUTH_AUTHORITY"),
    ),
    ("Limits", ("RATE", "DAILY_LIMIT", "CONNECTIONS", "MESSAGES_PER_CONNECTION", "TEST_RECIPIENTS",
                "REQUIRE_APPROVAL")),
    ("Scheduled delivery (newsletter dispatch)", ("TIMEZONE", "REPORT_TO", "DISPATCH_WINDOW",
                                                  "LOCK_STALE_AFTER")),
    (
        "What comes back: bounces, complaints, unsubscribe mails (newsletter mailbox)",
        ("BOUNCE_ADDRESS", "IMAP_HOST", "IMAP_PORT", "IMAP_USERNAME", "IMAP_PASSWORD", "IMAP_SECURITY",
         "IMAP_PLAINTEXT_AUTH", "IMAP_CA_FILE", "IMAP_FOLDER", "IMAP_PROCESSED_FOLDER", "MAILDIR",
         "MAILBOX_DELETE", "SOFT_BOUNCE_LIMIT", "SOFT_BOUNCE_PERIOD"),
    ),
    ("DKIM and `newsletter doctor`", ("DKIM_SELECTOR", "DKIM_KEY_FILE", "DKIM_DOMAIN", "DNS_SERVER")),
)  # fmt: skip
HIDDEN = "(set, hidden)"
# A port left empty is the one that goes with the security; shown as such rather than as unset.
_PORTS = {
    "smtp_port": ("smtp_security", {"ssl": 465, "starttls": 587, "none": 25}),
    "imap_port": ("imap_security", {"ssl": 993, "starttls": 143, "none": 143}),
}


@dataclass(frozen=True)
class Entry:
    """One setting as `newsletter config` shows it."""

    name: str  # NEWSLETTER_SMTP_HOST
    value: str  # as written in .env; HIDDEN for a secret that is set; "" when unset
    origin: str  # environment, .env, profile NAME, default, unset

    @property
    def line(self) -> str:
        return f"{self.name}={self.value}".ljust(60) + f"  # {self.origin}"


def env_name(settings_cls: type[Settings], field: str) -> str:
    alias = settings_cls.model_fields[field].alias
    return alias or f"NEWSLETTER_{field.upper()}"


def entries(settings: Settings) -> list[tuple[str, list[Entry]]]:
    """Every setting by group, in .env.example's order; one not in GROUPS (yet) ends under "Other"."""
    from newsletter.config import SECRETS
    from newsletter.config.sources import origins

    cls = type(settings)
    found = origins(cls)
    by_name = {env_name(cls, field): field for field in cls.model_fields}
    grouped = [(title, [f"NEWSLETTER_{n}" for n in names]) for title, names in GROUPS]
    placed = {name for _, names in grouped for name in names}
    grouped.append(("Other", [name for name in by_name if name not in placed]))
    result: list[tuple[str, list[Entry]]] = []
    for title, names in grouped:
        shown = []
        for name in (n for n in names if n in by_name):
            field = by_name[name]
            value = getattr(settings, field)
            origin = found.get(field, "default")
            if field in _PORTS and value is None:
                security, ports = _PORTS[field]
                value, origin = (
                    ports[getattr(settings, security)],
                    f"default for {getattr(settings, security)}",
                )
            if value is None:
                shown.append(Entry(name, "", "unset"))
            else:
                text = HIDDEN if name in SECRETS or isinstance(value, SecretStr) else _written(value)
                shown.append(Entry(name, text, origin))
        if shown:
            result.append((title, shown))
    return result


def lines(settings: Settings, *, show_unset: bool = False, name: str | None = None) -> list[str]:
    """What `newsletter config` prints: a heading, the settings by group, then the relay profile."""
    groups = entries(settings)
    if name is not None:
        wanted = name.strip().upper()
        wanted = wanted if wanted.startswith("NEWSLETTER_") else f"NEWSLETTER_{wanted}"
        for entry in (e for _, group in groups for e in group):
            if entry.name == wanted:
                return [entry.line]
        raise ConfigError(f"{name}: there is no such setting; `newsletter config --all` lists them all")
    env_file = Path(str(type(settings).model_config.get("env_file") or ".env"))
    out = [
        "# The settings in effect: the environment wins over .env, .env over NEWSLETTER_RELAY's profile,",
        f"# the profile over the defaults. .env: {env_file.resolve() if env_file.is_file() else 'none here'}."
        " Secrets are never shown.",
    ]
    for title, group in groups:
        shown = [e.line for e in group if show_unset or e.origin != "unset"]
        if shown:
            out += ["", f"# --- {title}", *shown]
    profile = settings.relay_profile()
    if profile is not None:
        out += ["", *_profile_lines(settings, profile, [e for _, group in groups for e in group])]
    return out


def _profile_lines(settings: Settings, profile: Profile, shown: list[Entry]) -> list[str]:
    from newsletter.config.login import login_kind
    from newsletter.config.sources import profile_values

    origin = f"profile {profile.name}"
    explicit = ("environment", ".env")
    filled = [e.name for e in shown if e.origin == origin]
    offered = {env_name(type(settings), field) for field in profile_values(profile, {})}
    overridden = [f"{e.name} ({e.origin})" for e in shown if e.name in offered and e.origin in explicit]
    out = [
        f"# --- Relay profile {profile.name}: {profile.title}",
        f"# filled in: {', '.join(filled) or 'nothing'}",
        f"# overridden by explicit settings: {', '.join(overridden) or 'none'}",
    ]
    if "NEWSLETTER_SMTP_AUTH" not in filled:
        out.append(
            f"# login: {login_kind(settings)}, as the explicit login settings say (the profile's own is "
            f"{profile.auth})"
        )
    out += [f"# documented limits: {profile.limits}", f"# source: {profile.source}"]
    if profile.note:
        out.append(f"# note: {profile.note}")
    return out


def _written(value: object) -> str:
    """A value as it would be written in .env: quoted when it has spaces or quotes in it."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if any(c in text for c in " #'\"\t") or not text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
