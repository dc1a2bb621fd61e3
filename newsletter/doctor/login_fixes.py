"""What to change after the relay refused the doctor's login, for each refusal `sending.login` (or a
token source) words, and for the login kind in use: a password, a token command, or Microsoft Entra ID
(an OAuth2 login is never sent to the password settings)."""

from __future__ import annotations

from newsletter.sending.login import TokenSource
from newsletter.sending.oauth import COMMAND_SETTING, EntraToken


def login_fix(message: str, tokens: TokenSource | None) -> str:
    """Where to go next for each refusal `sending.login` (and a token source) words, for the login
    kind in use: a password, a token command, or Microsoft Entra ID."""
    microsoft = "README, 'Sending through Microsoft 365 without a password (OAuth2)'"
    if "no longer takes a password" in message:
        return f"Microsoft 365 turns password login off by default from the end of 2026: {microsoft}"
    if "SMTP AUTH turned off" in message:
        return f"an Exchange administrator runs the Set-CASMailbox line of step 4 in {microsoft}"
    if "does not offer OAuth2" in message:
        return "NEWSLETTER_SMTP_HOST: the provider's submission host (smtp.office365.com for Microsoft 365)"
    if "offers no password login" in message:
        return f"NEWSLETTER_SMTP_AUTH=xoauth2 with a token source: {microsoft}"
    if "does not offer AUTH" in message:
        return "NEWSLETTER_SMTP_SECURITY=starttls and NEWSLETTER_SMTP_PORT=587, where login is offered"
    if isinstance(tokens, EntraToken):
        return _entra_fix(message, microsoft)
    if tokens is not None:
        if "access token" in message and "was refused" in message:
            return (
                f"{COMMAND_SETTING}: its token must be for the mailbox NEWSLETTER_SMTP_USERNAME, with the "
                "scope for SMTP (Microsoft 365: https://outlook.office365.com/SMTP.Send; Google: "
                "https://mail.google.com/)"
            )
        return (
            f"{COMMAND_SETTING}: a command that prints a current access token for NEWSLETTER_SMTP_USERNAME "
            "on its first line, asking nothing (run it yourself to see what it says)"
        )
    return (
        "NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD: the relay account's login (an app "
        "password where the provider asks for one)"
    )


def _entra_fix(message: str, microsoft: str) -> str:
    registration = "Microsoft Entra admin center, App registrations, the newsletter's app"
    if "access token" in message and "was refused" in message:
        return f"the app registration's consent and mailbox permission: steps 2 and 4 of {microsoft}"
    if "NEWSLETTER_OAUTH_TENANT=" in message:
        return (
            f"NEWSLETTER_OAUTH_TENANT: the Directory (tenant) ID on the Overview page of the {registration}"
        )
    if "AADSTS700016" in message:  # no such application in the tenant
        return (
            f"NEWSLETTER_OAUTH_CLIENT_ID: the Application (client) ID on the Overview page of the "
            f"{registration}, and NEWSLETTER_OAUTH_TENANT: the tenant it is registered in"
        )
    return (
        f"NEWSLETTER_OAUTH_CLIENT_SECRET: a new secret's Value (not its Secret ID), made under Certificates "
        f"& secrets of the {registration}; with NEWSLETTER_OAUTH_CLIENT_ID and NEWSLETTER_OAUTH_TENANT from "
        "its Overview page"
    )
