"""Relay profiles: `NEWSLETTER_RELAY=microsoft365` and the like fill in the SMTP settings and the
limits a provider documents, so that a send keeps to them without anyone looking them up. Any setting
given explicitly (in .env or the environment) wins over the profile's value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from newsletter.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    """What one provider's documentation says about sending through it."""

    name: str  # as written in NEWSLETTER_RELAY, e.g. amazon-ses:eu-west-1
    title: str  # for people: "Amazon SES (eu-west-1)"
    host: str
    port: int
    security: Literal["starttls", "ssl"]
    auth: Literal["password", "xoauth2"]
    rate: str | None  # NEWSLETTER_RATE's form, e.g. 30/minute
    daily_limit: int | None
    messages_per_connection: int | None
    # What the SPF record of the envelope sender's domain must include for this relay's servers.
    spf_include: tuple[str, ...]
    source: str  # where the limits are documented


_SES_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


def _microsoft365() -> Profile:
    # https://learn.microsoft.com/en-us/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits
    return Profile(
        name="microsoft365",
        title="Microsoft 365",
        host="smtp.office365.com",
        port=587,
        security="starttls",
        auth="xoauth2",
        rate="30/minute",
        daily_limit=10_000,
        messages_per_connection=None,
        spf_include=("spf.protection.outlook.com",),
        source="https://learn.microsoft.com/en-us/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits",
    )


def _google_workspace() -> Profile:
    return Profile(
        name="google-workspace",
        title="Google Workspace",
        host="smtp.gmail.com",
        port=587,
        security="starttls",
        auth="xoauth2",
        rate=None,
        daily_limit=2_000,
        messages_per_connection=None,
        spf_include=("_spf.google.com",),
        source="https://support.google.com/a/answer/166852",
    )


def _amazon_ses(region: str) -> Profile:
    return Profile(
        name=f"amazon-ses:{region}",
        title=f"Amazon SES ({region})",
        host=f"email-smtp.{region}.amazonaws.com",
        port=587,
        security="starttls",
        auth="password",
        rate="1/second",
        daily_limit=None,
        messages_per_connection=None,
        spf_include=("amazonses.com",),
        source="https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    )


def _brevo() -> Profile:
    return Profile(
        name="brevo",
        title="Brevo",
        host="smtp-relay.brevo.com",
        port=587,
        security="starttls",
        auth="password",
        rate=None,
        daily_limit=None,
        messages_per_connection=None,
        spf_include=("spf.brevo.com",),
        source="https://help.brevo.com/hc/en-us/articles/7924908994450",
    )


def _mailgun(region: str) -> Profile:
    host = {"us": "smtp.mailgun.org", "eu": "smtp.eu.mailgun.org"}[region]
    return Profile(
        name=f"mailgun:{region}",
        title=f"Mailgun ({region.upper()})",
        host=host,
        port=587,
        security="starttls",
        auth="password",
        rate=None,
        daily_limit=None,
        messages_per_connection=None,
        spf_include=("mailgun.org",),
        source="https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-smtp",
    )


def _postmark() -> Profile:
    return Profile(
        name="postmark",
        title="Postmark",
        host="smtp.postmarkapp.com",
        port=587,
        security="starttls",
        auth="password",
        rate=None,
        daily_limit=None,
        messages_per_connection=None,
        spf_include=("spf.mtasv.net",),
        source="https://postmarkapp.com/developer/user-guide/send-email-with-smtp",
    )


NAMES = (
    "microsoft365",
    "google-workspace",
    "amazon-ses:<region>",
    "brevo",
    "mailgun:<region>",
    "postmark",
)


def relay_profile(value: str) -> Profile:
    """The profile NEWSLETTER_RELAY names; ConfigError with the names there are for anything else."""
    name, _, region = value.strip().lower().partition(":")
    if name == "amazon-ses":
        if not _SES_REGION.fullmatch(region):
            raise ConfigError(
                f"NEWSLETTER_RELAY={value!r}: write amazon-ses and the region of your SES account, "
                "e.g. amazon-ses:eu-west-1"
            )
        return _amazon_ses(region)
    if name == "mailgun":
        if region not in ("us", "eu"):
            raise ConfigError(
                f"NEWSLETTER_RELAY={value!r}: write mailgun:eu or mailgun:us, as your Mailgun domain's region"
            )
        return _mailgun(region)
    plain = {
        "microsoft365": _microsoft365,
        "google-workspace": _google_workspace,
        "brevo": _brevo,
        "postmark": _postmark,
    }
    if name in plain and not region:
        return plain[name]()
    raise ConfigError(f"NEWSLETTER_RELAY={value!r}: write one of {', '.join(NAMES)} (or leave it empty)")
