"""Relay profiles: `NEWSLETTER_RELAY=microsoft365` and the like fill in the SMTP settings and the
limits a provider documents, so that a send keeps to them without anyone looking them up. Any setting
given explicitly (in .env or the environment) wins over the profile's value (see `config.sources`).

Each profile cites the provider's page its values come from. Where the limit depends on the account
(a sandbox, a plan), the profile holds the safe documented figure and says, in `note`, that the
account may allow more.
"""

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
    # None of the six providers documents a number of messages per SMTP connection (checked on the pages
    # cited below, 2026-12), so every profile leaves NEWSLETTER_MESSAGES_PER_CONNECTION at our default of
    # 100; the field is here for a provider that does, and `newsletter config` shows it as a default.
    messages_per_connection: int | None
    # What the SPF record of the envelope sender's domain must include for this relay's servers.
    spf_include: tuple[str, ...]
    source: str  # where the limits are documented
    connections: int | None = None  # the most connections at once the provider documents
    limits: str = ""  # the documented limits in words, for `newsletter config`
    note: str = ""  # what the person setting it up must know: login, plan-dependent limits


# An AWS region: eu-west-1, us-east-2, ap-southeast-1, us-gov-west-1.
_SES_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


def _microsoft365() -> Profile:
    # https://learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/smtp-submission-improvements
    # says SMTP AUTH submission is throttled at 30 messages a minute (the excess is delayed) and 10,000
    # recipients a day (554 5.2.0 ...SubmissionQuotaExceeded past it), with at most three connections
    # sending at once per mailbox (432 4.3.2 beyond). Client submission is smtp.office365.com:587 with
    # STARTTLS. Password login (Basic auth) for SMTP AUTH is turned off by default for existing tenants
    # at the end of December 2026 and unavailable for new ones (550 5.7.30), announced in message
    # center post MC786329 (https://techcommunity.microsoft.com/blog/exchange/exchange-online-to-retire-
    # basic-auth-for-client-submission-smtp-auth/4114750): hence OAuth2 (XOAUTH2) by default; a tenant
    # whose admin re-enabled it can still set NEWSLETTER_SMTP_PASSWORD, and that password is then used.
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
        connections=3,
        spf_include=("spf.protection.outlook.com",),
        source="https://learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/smtp-submission-improvements",
        limits="30 messages a minute, 10,000 recipients a day, 3 connections at once per mailbox",
        note=(
            "the daily 10,000 counts everything the mailbox sends, by hand too; password login is off by "
            "default from the end of 2026 (550 5.7.30): log in with OAuth2 (NEWSLETTER_OAUTH_* or "
            "NEWSLETTER_SMTP_TOKEN_COMMAND)"
        ),
    )


def _google_workspace() -> Profile:
    # https://support.google.com/a/answer/166852 (Gmail sending limits in Google Workspace): 2,000
    # messages a day per user, 500 for trial accounts, counted over a rolling 24 hours; past it the user
    # cannot send for up to 24 hours. No per-minute rate or connection limit is documented for
    # smtp.gmail.com. https://support.google.com/a/answer/176600 (send email from a printer, scanner or
    # app): smtp.gmail.com on 587 (STARTTLS) or 465 (SSL), logging in with OAuth2 or, without it, an app
    # password (needs 2-Step Verification); password-only sign-in is gone. We have no built-in Google
    # OAuth2 flow: the token comes from NEWSLETTER_SMTP_TOKEN_COMMAND (e.g. oama), or an app password goes
    # in NEWSLETTER_SMTP_PASSWORD. The SMTP relay service, smtp-relay.gmail.com (set up by an admin,
    # login or IP allow-list), allows 10,000 recipients a day per user
    # (https://support.google.com/a/answer/2956491): set NEWSLETTER_SMTP_HOST and NEWSLETTER_DAILY_LIMIT
    # for it.
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
        limits="2,000 messages a day per user (500 on a trial account)",
        note=(
            "log in with an OAuth2 token from NEWSLETTER_SMTP_TOKEN_COMMAND or an app password in "
            "NEWSLETTER_SMTP_PASSWORD; a trial account may send only 500 a day (set "
            "NEWSLETTER_DAILY_LIMIT=500); smtp-relay.gmail.com allows 10,000 a day"
        ),
    )


def _amazon_ses(region: str) -> Profile:
    # https://docs.aws.amazon.com/ses/latest/dg/quotas.html: quotas are per region and count
    # recipients; in the sandbox 200 a 24-hour period and 1 a second, out of it whatever the account
    # was granted (the SES console's "Sending statistics" shows it). We take the sandbox's, the safe
    # ones. https://docs.aws.amazon.com/ses/latest/dg/smtp-connect.html: email-smtp.<region>.amazonaws.com,
    # STARTTLS on 25, 587 or 2587, TLS wrapper on 465 or 2465; the login is the SMTP credentials made in
    # the SES console, not an AWS access key. With a custom MAIL FROM domain its SPF record includes
    # amazonses.com (https://docs.aws.amazon.com/ses/latest/dg/mail-from.html).
    return Profile(
        name=f"amazon-ses:{region}",
        title=f"Amazon SES ({region})",
        host=f"email-smtp.{region}.amazonaws.com",
        port=587,
        security="starttls",
        auth="password",
        rate="1/second",
        daily_limit=200,
        messages_per_connection=None,
        spf_include=("amazonses.com",),
        source="https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
        limits="sandbox: 200 messages a day, 1 a second; out of the sandbox what the account was granted",
        note=(
            "these are the sandbox's quotas: an account out of the sandbox may send more; set "
            "NEWSLETTER_RATE and NEWSLETTER_DAILY_LIMIT to the quotas the SES console shows for this region"
        ),
    )


def _brevo() -> Profile:
    # https://developers.brevo.com/docs/smtp-integration: smtp-relay.brevo.com, port 587 (or 2525) with
    # STARTTLS or 465 with TLS, logging in with the SMTP login and an SMTP key (not an API key).
    # https://help.brevo.com/hc/en-us/articles/8292912279954: the free plan sends at most 300 emails a
    # day; paid plans have a monthly volume and no daily limit. No SMTP rate is documented. SPF: Brevo's
    # domain authentication shows include:spf.brevo.com (older accounts: spf.sendinblue.com).
    return Profile(
        name="brevo",
        title="Brevo",
        host="smtp-relay.brevo.com",
        port=587,
        security="starttls",
        auth="password",
        rate=None,
        daily_limit=300,
        messages_per_connection=None,
        spf_include=("spf.brevo.com", "spf.sendinblue.com"),
        source="https://help.brevo.com/hc/en-us/articles/8292912279954",
        limits="free plan: 300 emails a day; paid plans: a monthly volume, no daily limit",
        note=(
            "300 a day is the free plan's limit: a paid plan may send more (set NEWSLETTER_DAILY_LIMIT to "
            "what it allows); log in with the SMTP login and an SMTP key"
        ),
    )


def _mailgun(region: str) -> Profile:
    # https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-smtp: SMTP on
    # smtp.mailgun.org (US) or smtp.eu.mailgun.org (EU domains), 587 recommended (25, 587, 2525 with
    # STARTTLS, 465 with TLS), logging in with the domain's SMTP credentials. The free plan
    # (https://www.mailgun.com/pricing/) sends 100 emails a day; paid plans a monthly volume. SPF:
    # include:mailgun.org, on the sending domain Mailgun asks for.
    host = {"us": "smtp.mailgun.org", "eu": "smtp.eu.mailgun.org"}[region]
    return Profile(
        name=f"mailgun:{region}",
        title=f"Mailgun ({region.upper()})",
        host=host,
        port=587,
        security="starttls",
        auth="password",
        rate=None,
        daily_limit=100,
        messages_per_connection=None,
        spf_include=("mailgun.org",),
        source="https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-smtp",
        limits="free plan: 100 emails a day; paid plans: a monthly volume",
        note=(
            "100 a day is the free plan's limit (https://www.mailgun.com/pricing/): a paid plan may send "
            "more (set NEWSLETTER_DAILY_LIMIT to what it allows); log in with the domain's SMTP credentials"
        ),
    )


def _postmark() -> Profile:
    # https://postmarkapp.com/support/article/811-what-are-the-smtp-details-api-tokens-i-should-be-using:
    # smtp.postmarkapp.com is for transactional mail, smtp-broadcasts.postmarkapp.com for broadcast
    # messages such as a newsletter; ports 25, 2525 or 587, STARTTLS. A broadcast stream's SMTP token
    # logs in without a stream header: its Access Key as username, Secret Key as password. No daily or
    # per-second limit is documented: plans count a monthly volume. SPF: include:spf.mtasv.net; Postmark's
    # own Return-Path (pm.mtasv.net) passes SPF without it.
    return Profile(
        name="postmark",
        title="Postmark (broadcast stream)",
        host="smtp-broadcasts.postmarkapp.com",
        port=587,
        security="starttls",
        auth="password",
        rate=None,
        daily_limit=None,
        messages_per_connection=None,
        spf_include=("spf.mtasv.net",),
        source="https://postmarkapp.com/support/article/811-what-are-the-smtp-details-api-tokens-i-should-be-using",
        limits="no daily or per-second limit documented; plans count a monthly volume",
        note=(
            "log in with the broadcast stream's SMTP token: its Access Key as NEWSLETTER_SMTP_USERNAME, its "
            "Secret Key as NEWSLETTER_SMTP_PASSWORD"
        ),
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
