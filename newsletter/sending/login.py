"""Logging in on an open SMTP connection: a password (AUTH PLAIN or LOGIN), or an OAuth2 access token
(SASL XOAUTH2, as Microsoft 365 and Google Workspace take it) from a `TokenSource`.

Every connection asks its token source again, so a token that expired during a long send is replaced
on the next connection. A refusal is one SendError naming the settings to fix; the token itself never
appears in a message, not even when a server repeats it.
"""

from __future__ import annotations

import json
import re
import smtplib
from typing import Protocol

from newsletter.errors import SendError

_PASSWORD_SETTINGS = "NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD"  # noqa: S105 - names
# Microsoft 365's answer to a password login once basic authentication is off for the tenant
# (MC786329: the default from the end of 2026), e.g. "550 5.7.30 Basic authentication is not supported
# for Client Submission", or "535 5.7.139 Authentication unsuccessful, basic authentication is disabled".
_BASIC_AUTH_OFF = re.compile(r"\b5\.7\.30\b|basic authentication is (not supported|disabled)", re.I)
# Microsoft 365: SMTP AUTH itself is off for the mailbox or the tenant, whatever the credentials.
_SMTP_AUTH_OFF = re.compile(r"SmtpClientAuthentication is disabled", re.I)


class TokenSource(Protocol):
    """Where access tokens come from: a command, or Microsoft Entra ID."""

    @property
    def settings(self) -> str:
        """The settings a refused token points to, as words for a message."""
        ...

    @property
    def refused_hint(self) -> str:
        """What else to check when the server refuses a token this source gave, as words for a message."""
        ...

    def token(self) -> str:
        """A current access token; SendError (or Temporary) when none can be had."""
        ...


def log_in(
    smtp: smtplib.SMTP, where: str, username: str, password: str | None, tokens: TokenSource | None
) -> None:
    """Log in on `smtp` (after EHLO, and STARTTLS where asked) with the token source when there is
    one, else with the password; SendError when the server refuses."""
    if not smtp.has_extn("auth"):
        raise SendError(
            f"{where} does not offer AUTH on this connection; check NEWSLETTER_SMTP_SECURITY "
            "(most servers allow login only after STARTTLS)"
        )
    if tokens is None:
        _password(smtp, where, username, password or "")
    else:
        _xoauth2(smtp, where, username, tokens)


def _said(error: smtplib.SMTPResponseException) -> str:
    text = (
        error.smtp_error.decode("utf-8", "replace")
        if isinstance(error.smtp_error, bytes)
        else error.smtp_error
    )
    return f"{error.smtp_code} {' '.join(text.split())}"


def _password(smtp: smtplib.SMTP, where: str, username: str, password: str) -> None:
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if not {"PLAIN", "LOGIN", "CRAM-MD5"} & set(offered):
        raise SendError(
            f"{where} offers no password login (it offers {' '.join(offered) or 'nothing'}): for OAuth2 set "
            "NEWSLETTER_SMTP_AUTH=xoauth2 with NEWSLETTER_SMTP_TOKEN_COMMAND or NEWSLETTER_OAUTH_TENANT, "
            "NEWSLETTER_OAUTH_CLIENT_ID and NEWSLETTER_OAUTH_CLIENT_SECRET"
        )
    try:
        smtp.login(username, password)
    except smtplib.SMTPAuthenticationError as e:
        # A server that repeats what it was given must not print it; a short password would mangle words.
        said = _said(e).replace(password, "…") if len(password) >= 8 else _said(e)
        if _BASIC_AUTH_OFF.search(said):
            raise SendError(
                f"{where} no longer takes a password login ({said}): switch to OAuth2 with "
                "NEWSLETTER_SMTP_AUTH=xoauth2 and NEWSLETTER_OAUTH_TENANT, NEWSLETTER_OAUTH_CLIENT_ID and "
                "NEWSLETTER_OAUTH_CLIENT_SECRET (or NEWSLETTER_SMTP_TOKEN_COMMAND)"
            ) from None
        if _SMTP_AUTH_OFF.search(said):
            raise SendError(_smtp_auth_off(where, said)) from None
        raise SendError(
            f"{where}: login refused for {username!r} ({said}); check {_PASSWORD_SETTINGS}"
        ) from None


def _smtp_auth_off(where: str, said: str) -> str:
    return (
        f"{where} has SMTP AUTH turned off for this mailbox or organisation ({said}): ask the Microsoft 365 "
        "admin to allow authenticated SMTP for the mailbox NEWSLETTER_SMTP_USERNAME"
    )


def _xoauth2(smtp: smtplib.SMTP, where: str, username: str, tokens: TokenSource) -> None:
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "XOAUTH2" not in offered:
        raise SendError(
            f"{where} does not offer OAuth2 login (XOAUTH2; it offers {' '.join(offered) or 'nothing'}); "
            "check NEWSLETTER_SMTP_HOST, or set NEWSLETTER_SMTP_AUTH=password with NEWSLETTER_SMTP_PASSWORD"
        )
    if not username.isascii():
        raise SendError(f"NEWSLETTER_SMTP_USERNAME={username!r}: OAuth2 login needs an address in ASCII")
    token = tokens.token()
    refusal: list[bytes] = []

    def answer(challenge: bytes | None = None, /) -> str:
        # RFC 7628's form: the initial response, then an empty line after a challenge, which is the
        # server's reason in JSON, before its 535.
        if challenge is None:
            return f"user={username}\x01auth=Bearer {token}\x01\x01"
        refusal.append(challenge)
        return ""

    try:
        smtp.auth("XOAUTH2", answer, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        said = _said(e).replace(token, "…")
        if _SMTP_AUTH_OFF.search(said):
            raise SendError(_smtp_auth_off(where, said)) from None
        reason = _reason(refusal[0]) if refusal else ""
        raise SendError(
            f"{where}: the access token for {username!r} was refused ({said}{reason}); check "
            f"{tokens.settings}, {tokens.refused_hint}"
        ) from None


def _reason(challenge: bytes) -> str:
    """The status of a server's XOAUTH2 error challenge (Google's `{"status":"401",...}`), for a message."""
    try:
        found = json.loads(challenge)  # smtplib has decoded its base64 already
    except ValueError:
        return ""
    status = found.get("status") if isinstance(found, dict) else None
    return f"; status {status}" if isinstance(status, str | int) else ""
