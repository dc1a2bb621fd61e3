"""Where OAuth2 access tokens for the SMTP login come from (see `login`): a command the organisation
chooses, or Microsoft Entra ID's client-credentials flow.

`TokenCommand` runs a program, without a shell, that prints a token on its standard output, as msmtp's
`passwordeval` does: any identity provider, any helper. It runs again for every connection, so it is
the command's business to cache. `EntraToken` asks Entra ID through msal, whose cache hands out the same
token until it is about to expire and then fetches a new one.

A token is never part of a message or a repr; what goes wrong names the settings to fix.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

from newsletter.errors import SendError
from newsletter.sending.base import Reply, Temporary

COMMAND_SETTING = "NEWSLETTER_SMTP_TOKEN_COMMAND"
ENTRA_SETTINGS = "NEWSLETTER_OAUTH_TENANT, NEWSLETTER_OAUTH_CLIENT_ID and NEWSLETTER_OAUTH_CLIENT_SECRET"
# Microsoft's public cloud; national clouds and tests name another in NEWSLETTER_OAUTH_AUTHORITY.
ENTRA_AUTHORITY = "https://login.microsoftonline.com"
# Exchange Online's SMTP, with the application permissions the app was granted (SMTP.SendAsApp).
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
# RFC 6750's b64token: what a bearer token may consist of.
_BEARER = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _last_line(text: bytes) -> str:
    lines = [line.strip() for line in text.decode("utf-8", "replace").splitlines() if line.strip()]
    shown = lines[-1] if lines else ""
    return shown[:200] + ("…" if len(shown) > 200 else "")


def split_command(value: str) -> list[str]:
    """The program and its arguments, split as a POSIX shell would (quotes kept together), no shell run;
    ValueError for unbalanced quotes or an empty command."""
    words = shlex.split(value)
    if not words:
        raise ValueError("it is empty")
    return words


@dataclass
class TokenCommand:
    """A command that prints an access token on its first line of output."""

    # Kept out of the repr: a command line may carry a secret of its own.
    command: str = field(repr=False)
    timeout: float = 30.0

    @property
    def settings(self) -> str:
        return COMMAND_SETTING

    @property
    def refused_hint(self) -> str:
        return "and that the token it prints is for the mailbox NEWSLETTER_SMTP_USERNAME"

    def token(self) -> str:
        words = split_command(self.command)
        name = COMMAND_SETTING
        try:
            done = subprocess.run(  # the organisation's own command, split, no shell
                words, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            raise SendError(
                f"{name}: there is no program {words[0]!r}; give its full path, or install it"
            ) from None
        except PermissionError:
            raise SendError(f"{name}: {words[0]!r} is not a program this user may run (chmod +x?)") from None
        except subprocess.TimeoutExpired:
            raise SendError(
                f"{name}: {words[0]!r} printed no token within {self.timeout:g} s (NEWSLETTER_SMTP_TIMEOUT); "
                "it must run without asking anything"
            ) from None
        except OSError as e:
            raise SendError(f"{name}: cannot run {words[0]!r} ({e.strerror or e})") from None
        if done.returncode != 0:
            said = _last_line(done.stderr)
            raise SendError(
                f"{name}: {words[0]!r} failed (exit {done.returncode}{': ' + said if said else ''}); "
                "run it yourself to see why"
            )
        first = done.stdout.decode("utf-8", "replace").strip().splitlines()
        token = first[0].strip() if first else ""
        if not token:
            raise SendError(f"{name}: {words[0]!r} printed no access token on its standard output")
        if not _BEARER.fullmatch(token):
            raise SendError(
                f"{name}: what {words[0]!r} printed first is not an access token (a token is one word of "
                "letters, digits and -._~+/=); it must print the token alone on its first line"
            )
        return token


@dataclass
class EntraToken:
    """Tokens for Exchange Online from Microsoft Entra ID, for an app registration with a client
    secret (the client-credentials flow), cached by msal until they are about to expire."""

    tenant: str
    client_id: str
    client_secret: str = field(repr=False)
    authority: str = ENTRA_AUTHORITY
    timeout: float = 30.0
    _app: Any = field(default=None, init=False, repr=False)
    # Several connections may log in at once: one of them fetches, the others take the cached token.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def settings(self) -> str:
        return ENTRA_SETTINGS

    @property
    def refused_hint(self) -> str:
        return (
            "and that the app has Exchange Online's SMTP.SendAsApp permission (admin consent granted) and, "
            "in Exchange Online, a service principal with FullAccess to the mailbox NEWSLETTER_SMTP_USERNAME"
        )

    @property
    def where(self) -> str:
        return f"{self.authority.rstrip('/')}/{self.tenant}"

    def token(self) -> str:
        try:
            with self._lock:
                result = self._application().acquire_token_for_client(scopes=[EXCHANGE_SCOPE])
        except OSError as e:  # requests' exceptions, which msal lets through, are OSErrors
            raise Temporary(
                Reply(0, f"cannot get a token from {self.where}: {type(e).__name__}"), connection_lost=True
            ) from None
        except ValueError as e:
            # msal's words for a tenant Entra ID does not know ("OIDC Discovery failed …", HTTP 400).
            self._app = None
            raise SendError(
                f"NEWSLETTER_OAUTH_TENANT={self.tenant!r}: {self.where} does not know this tenant "
                f"({_first_sentence(str(e))}); write the directory (tenant) ID of the app registration"
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        raise SendError(
            f"Microsoft Entra ID refused the token request ({_refusal(result)}); check {ENTRA_SETTINGS}"
        )

    def _application(self) -> Any:
        # Imported here: msal takes a while to import, and only this login needs it.
        import msal

        if self._app is None:
            custom = self.authority.rstrip("/") != ENTRA_AUTHORITY
            self._app = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self.client_secret,
                authority=self.where,
                timeout=self.timeout,
                # An authority the organisation names (a national cloud, a test) is one it knows:
                # msal would otherwise ask login.microsoftonline.com whether it exists.
                validate_authority=not custom,
                instance_discovery=False if custom else None,
            )
        return self._app


def _first_sentence(text: str) -> str:
    """Entra ID's description without its trace and correlation ids: "AADSTS7000215: Invalid client
    secret provided." rather than three lines of ids."""
    line = " ".join(text.split())
    for cut in (" Trace ID:", " Trace ID", ". "):
        if cut in line:
            line = line.split(cut, 1)[0]
    line = line.rstrip(".")
    return line[:200] + ("…" if len(line) > 200 else "")


def _refusal(result: object) -> str:
    """msal's error answer as "invalid_client: AADSTS7000215: Invalid client secret provided"."""
    if not isinstance(result, dict):
        return "no token"
    description = _first_sentence(str(result.get("error_description", "")))
    return f"{result.get('error', 'no token')}{': ' + description if description else ''}"
