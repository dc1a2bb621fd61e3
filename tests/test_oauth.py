"""The token sources and the XOAUTH2 login as a library: what a command or Entra ID does wrong is one
SendError naming the setting, an unreachable Entra ID is worth a retry, and no token or secret shows in
a repr. Against a real command, the local Entra ID stand-in and aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import shlex
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from newsletter.errors import SendError
from newsletter.sending.base import Temporary
from newsletter.sending.oauth import EntraToken, TokenCommand
from newsletter.sending.smtp import Security, SMTPSender

if TYPE_CHECKING:
    from oauth_servers import TokenEndpoint
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server", "oauth_servers"]

TENANT = "4a1c2e6b-0d3f-4e8a-9b7c-2f5d6e8a9b0c"
CLIENT_ID = "0f9e8d7c-6b5a-4321-9876-fedcba987654"


def _python(tmp_path: Path, code: str) -> str:
    script = tmp_path / "token.py"
    script.write_text(code)
    return shlex.join([sys.executable, str(script)])


def _entra(endpoint: TokenEndpoint, monkeypatch: pytest.MonkeyPatch, tenant: str = TENANT) -> EntraToken:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return EntraToken(tenant, CLIENT_ID, endpoint.client_secret, authority=endpoint.authority, timeout=10)


def test_a_token_command_gives_its_first_line_and_neither_repr_shows_the_command(tmp_path: Path) -> None:
    command = _python(tmp_path, "print('  ya29.a0Af-token_value~1/2+3==  ')\nprint('second line')\n")
    source = TokenCommand(command, timeout=20)
    assert source.token() == "ya29.a0Af-token_value~1/2+3=="
    sender = SMTPSender("smtp.example.org", 587, username="nieuwsbrief@example.org", tokens=source)
    assert "token.py" not in repr(sender)
    assert "ya29" not in repr(sender)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("import sys\nprint('no token', file=sys.stderr)\nsys.exit(3)\n", "failed (exit 3: no token)"),
        ("print('')\n", "printed no access token on its standard output"),
        ("print('Token: abc def')\n", "is not an access token"),
        ("import time\ntime.sleep(30)\n", "printed no token within 1 s (NEWSLETTER_SMTP_TIMEOUT)"),
    ],
)
def test_a_token_command_that_gives_no_token_is_a_send_error_naming_the_setting(
    tmp_path: Path, code: str, words: str
) -> None:
    source = TokenCommand(_python(tmp_path, code), timeout=1)
    with pytest.raises(SendError) as caught:
        source.token()
    assert str(caught.value).startswith("NEWSLETTER_SMTP_TOKEN_COMMAND: ")
    assert words in str(caught.value)


def test_a_token_command_that_is_no_program_says_so(tmp_path: Path) -> None:
    with pytest.raises(SendError, match="there is no program 'no-such-token-helper'"):
        TokenCommand("no-such-token-helper --account nieuwsbrief").token()
    with pytest.raises(SendError, match="is not a program this user may run"):
        TokenCommand(str(tmp_path)).token()


def test_entra_tokens_come_from_the_cache_until_they_expire_and_no_repr_shows_them(
    start_endpoint: Callable[..., TokenEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = start_endpoint(lifetime=3600)
    source = _entra(endpoint, monkeypatch)
    first = source.token()
    assert [source.token() for _ in range(5)] == [first] * 5
    assert len(endpoint.requests) == 1
    sender = SMTPSender("smtp.office365.com", 587, username="nieuwsbrief@example.org", tokens=source)
    for shown in (repr(source), repr(sender), str(sender)):
        assert first not in shown
        assert endpoint.client_secret not in shown


def test_an_unknown_tenant_is_a_send_error_naming_the_tenant_setting(
    start_endpoint: Callable[..., TokenEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _entra(start_endpoint(), monkeypatch, tenant="contoso.onmicrosoft.com")
    with pytest.raises(SendError) as caught:
        source.token()
    assert str(caught.value).startswith("NEWSLETTER_OAUTH_TENANT='contoso.onmicrosoft.com': ")
    assert "does not know this tenant" in str(caught.value)


def test_an_entra_id_that_cannot_be_reached_is_worth_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    endpoint_gone = EntraToken(TENANT, CLIENT_ID, "secret", authority=f"https://127.0.0.1:{port}", timeout=5)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(Temporary) as caught:
        endpoint_gone.token()
    assert caught.value.connection_lost
    assert f"cannot get a token from https://127.0.0.1:{port}/{TENANT}" in str(caught.value)


def test_smtp_auth_turned_off_for_the_mailbox_says_whom_to_ask(
    start_xoauth2: Callable[..., SMTPServer], tmp_path: Path
) -> None:
    server = start_xoauth2(accept=lambda token: False)
    server.recorder.refusal = (  # type: ignore[attr-defined]
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."
    )
    assert server.ca_file is not None
    sender = SMTPSender(
        "127.0.0.1",
        server.port,
        security=Security.STARTTLS,
        username="nieuwsbrief@example.org",
        tokens=TokenCommand(_python(tmp_path, "print('good-1')\n")),
        ssl_context=ssl.create_default_context(cafile=str(server.ca_file)),
    )
    with pytest.raises(SendError) as caught:
        sender.connect()
    assert "has SMTP AUTH turned off for this mailbox or organisation (535 5.7.139" in str(caught.value)
    assert "good-1" not in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        ({}, "password"),
        ({"smtp_password": "pw"}, "password"),
        ({"smtp_token_command": "oama access nieuwsbrief@example.org"}, "xoauth2"),
        ({"oauth_tenant": TENANT, "oauth_client_id": CLIENT_ID}, "xoauth2"),
        # A password set beside a token source stays the login unless NEWSLETTER_SMTP_AUTH says otherwise.
        ({"smtp_password": "pw", "smtp_token_command": "get-token"}, "password"),
        ({"smtp_password": "pw", "smtp_token_command": "get-token", "smtp_auth": "xoauth2"}, "xoauth2"),
    ],
)
def test_the_login_is_a_password_unless_asked_or_only_a_token_source_is_set(
    project_dir: Path, settings: dict[str, str], kind: str
) -> None:
    from newsletter.config import Settings
    from newsletter.config.login import login_kind

    assert login_kind(Settings(**settings)) == kind
