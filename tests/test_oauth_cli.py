"""OAuth2 login (XOAUTH2) for a send, in a subprocess as cron runs it, against aiosmtpd on 127.0.0.1
offering only XOAUTH2 after STARTTLS: the token from a command, or from a local HTTPS endpoint standing
in for Microsoft Entra ID (through msal). A token is fetched again for each connection when it has
expired, and the send goes on; a refused token stops it before anything is sent, in one line that
names the setting and never shows the token."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output

if TYPE_CHECKING:
    from oauth_servers import TokenCommand, TokenEndpoint
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server", "oauth_servers"]

ISSUE = "issues/2026-01.yaml"
SECRET = "oauth-secret"
PEOPLE = 300


def _people(n: int = PEOPLE) -> list[str]:
    return [f"lid{i}@example.org" for i in range(1, n + 1)]


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error: ")]


def _cli(project_dir: Path, server: SMTPServer, **settings: str) -> Cli:
    cli = Cli(project_dir, server, SECRET, {"NEWSLETTER_SMTP_AUTH": "xoauth2", **settings})
    cli.recipients(_people())
    return cli


def _send(cli: Cli, **settings: str) -> tuple[int, str, str]:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", **settings)
    return result.returncode, result.stderr, output(result)


def _statuses(cli: Cli) -> Counter[str]:
    return Counter(row.status for row in cli.rows())


def _good(token: str) -> bool:
    return token.startswith(("good-", "entra-"))


def _sasl(token: str) -> bytes:
    return f"user=nieuwsbrief@example.org\x01auth=Bearer {token}\x01\x01".encode()


def test_a_token_command_logs_in_with_xoauth2_and_runs_again_for_every_connection(
    project_dir: Path, start_xoauth2: Callable[..., SMTPServer], token_command: TokenCommand
) -> None:
    server = start_xoauth2(accept=_good)
    cli = _cli(project_dir, server, NEWSLETTER_MESSAGES_PER_CONNECTION="100", **token_command.settings())
    code, _, shown = _send(cli)
    assert code == 0, shown
    recorder = server.recorder
    assert recorder.copies() == Counter(dict.fromkeys(_people(), 1))
    assert all(arrival.tls for arrival in recorder.messages)
    # One run of the command per connection, and its token in the SASL string of that login.
    assert token_command.calls() == 3
    tokens = recorder.tokens()  # type: ignore[attr-defined]
    assert [t.split("-")[1] for t in tokens] == ["1", "2", "3"]
    assert recorder.sasl == [_sasl(t) for t in tokens]  # type: ignore[attr-defined]
    assert _statuses(cli) == Counter({"sent": PEOPLE})
    assert not any(token in shown for token in tokens)


def test_a_token_that_expires_during_the_send_is_renewed_and_nobody_gets_a_second_copy(
    project_dir: Path, start_xoauth2: Callable[..., SMTPServer], token_command: TokenCommand
) -> None:
    server = start_xoauth2(accept=_good)
    # Each token carries 70 messages; then the server hangs up on MAIL FROM, mid-connection.
    server.recorder.lifetime = 70  # type: ignore[attr-defined]
    cli = _cli(project_dir, server, NEWSLETTER_MESSAGES_PER_CONNECTION="100", **token_command.settings())
    code, _, shown = _send(cli)
    assert code == 0, shown
    recorder = server.recorder
    assert recorder.copies() == Counter(dict.fromkeys(_people(), 1))
    assert _statuses(cli) == Counter({"sent": PEOPLE})
    # 300 messages at 70 a token: five tokens, each fetched for a new connection.
    assert token_command.calls() == len(recorder.tokens()) == 5  # type: ignore[attr-defined]
    assert set(recorder.sessions()) == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("connections", ["1", "3"])
def test_an_entra_token_is_cached_until_it_expires(
    project_dir: Path,
    start_xoauth2: Callable[..., SMTPServer],
    start_endpoint: Callable[..., TokenEndpoint],
    connections: str,
) -> None:
    endpoint = start_endpoint(lifetime=3600)
    server = start_xoauth2(accept=lambda token: token in endpoint.issued)
    cli = _cli(
        project_dir,
        server,
        NEWSLETTER_MESSAGES_PER_CONNECTION="100",
        NEWSLETTER_CONNECTIONS=connections,
        **endpoint.settings(),
    )
    code, _, shown = _send(cli)
    assert code == 0, shown
    assert server.recorder.copies() == Counter(dict.fromkeys(_people(), 1))
    # Three connections or more (at once, too), one token request: the client-credentials flow for
    # Exchange Online.
    assert len(endpoint.requests) == 1
    (form,) = endpoint.requests
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://outlook.office365.com/.default"]
    tokens = server.recorder.tokens()  # type: ignore[attr-defined]
    assert len(tokens) >= 3
    assert set(tokens) == {endpoint.issued[0]}
    assert endpoint.issued[0] not in shown
    assert endpoint.client_secret not in shown


def test_an_expired_entra_token_is_replaced_on_the_next_connection_and_the_send_goes_on(
    project_dir: Path,
    start_xoauth2: Callable[..., SMTPServer],
    start_endpoint: Callable[..., TokenEndpoint],
) -> None:
    # msal takes a token with less than five minutes left for expired: each connection needs a new one.
    endpoint = start_endpoint(lifetime=240)
    server = start_xoauth2(accept=lambda token: token in endpoint.issued)
    cli = _cli(project_dir, server, NEWSLETTER_MESSAGES_PER_CONNECTION="60", **endpoint.settings())
    code, _, shown = _send(cli)
    assert code == 0, shown
    assert server.recorder.copies() == Counter(dict.fromkeys(_people(), 1))
    assert _statuses(cli) == Counter({"sent": PEOPLE})
    assert server.recorder.tokens() == endpoint.issued  # type: ignore[attr-defined]
    assert len(endpoint.issued) == 5


REFUSALS = {
    "microsoft": ("535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.outlook.com]", None),
    "google": (
        "535 5.7.8 Username and Password not accepted. For more information, go to",
        {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"},
    ),
}


@pytest.mark.parametrize("server_kind", REFUSALS)
@pytest.mark.parametrize("source", ["command", "entra"])
def test_a_refused_token_is_one_line_naming_the_setting_exit_2_and_everyone_pending(
    project_dir: Path,
    start_xoauth2: Callable[..., SMTPServer],
    start_endpoint: Callable[..., TokenEndpoint],
    token_command: TokenCommand,
    server_kind: str,
    source: str,
) -> None:
    endpoint = start_endpoint()
    server = start_xoauth2(accept=lambda token: False)  # revoked, or for another mailbox
    refusal, challenge = REFUSALS[server_kind]
    server.recorder.refusal = refusal  # type: ignore[attr-defined]
    server.recorder.error_challenge = challenge  # type: ignore[attr-defined]
    settings = token_command.settings() if source == "command" else endpoint.settings()
    cli = _cli(project_dir, server, **settings)
    code, stderr, shown = _send(cli)
    assert code == 2, shown
    assert "Traceback" not in shown
    (line,) = _errors(stderr)
    assert "the access token for 'nieuwsbrief@example.org' was refused" in line
    assert refusal in line
    if challenge:
        assert "status 401" in line
    named = "NEWSLETTER_SMTP_TOKEN_COMMAND" if source == "command" else "NEWSLETTER_OAUTH_TENANT"
    assert named in line
    assert server.recorder.arrivals == []
    assert _statuses(cli) == Counter({"pending": PEOPLE})
    (token,) = server.recorder.tokens()  # type: ignore[attr-defined]
    for secret in (token, base64.b64encode(_sasl(token)).decode(), endpoint.client_secret):
        assert secret not in shown


def test_a_server_without_xoauth2_is_one_line_and_the_command_is_not_run(
    project_dir: Path, start_server: Callable[..., SMTPServer], token_command: TokenCommand
) -> None:
    server = start_server("starttls", mechanisms=("LOGIN", "PLAIN"))
    server.password = None
    cli = _cli(
        project_dir, server, NEWSLETTER_SMTP_USERNAME="nieuwsbrief@example.org", **token_command.settings()
    )
    code, stderr, shown = _send(cli)
    assert code == 2, shown
    (line,) = _errors(stderr)
    assert "does not offer OAuth2 login (XOAUTH2; it offers LOGIN PLAIN)" in line
    assert "NEWSLETTER_SMTP_AUTH=password" in line
    assert token_command.calls() == 0
    assert _statuses(cli) == Counter({"pending": PEOPLE})


def test_a_password_login_that_microsoft_refuses_as_basic_auth_says_to_switch_to_xoauth2(
    project_dir: Path, start_server: Callable[..., SMTPServer]
) -> None:
    from aiosmtpd.smtp import AuthResult

    server = start_server("starttls")

    def basic_auth_off(*args: object) -> AuthResult:
        return AuthResult(
            success=False,
            handled=False,
            message="550 5.7.30 Basic authentication is not supported for Client Submission.",
        )

    server.SMTP_kwargs["authenticator"] = basic_auth_off  # for the connections from now on
    cli = Cli(project_dir, server, SECRET)
    cli.recipients(_people())
    code, stderr, shown = _send(cli)
    assert code == 2, shown
    (line,) = _errors(stderr)
    assert "550 5.7.30 Basic authentication is not supported" in line
    assert "NEWSLETTER_SMTP_AUTH=xoauth2" in line
    assert server.password is not None
    assert server.password not in shown
    assert _statuses(cli) == Counter({"pending": PEOPLE})


def test_a_token_command_that_fails_shows_its_complaint_in_one_line(
    project_dir: Path, start_xoauth2: Callable[..., SMTPServer], token_command: TokenCommand
) -> None:
    server = start_xoauth2(accept=_good)
    token_command.mode("fail")
    cli = _cli(project_dir, server, **token_command.settings())
    code, stderr, shown = _send(cli)
    assert code == 2, shown
    (line,) = _errors(stderr)
    assert line.startswith("error: NEWSLETTER_SMTP_TOKEN_COMMAND: ")
    assert "failed (exit 1: oama: no refresh token for nieuwsbrief@example.org; run oama authorize)" in line
    assert server.recorder.sasl == []  # type: ignore[attr-defined]
    assert _statuses(cli) == Counter({"pending": PEOPLE})


def test_entra_refusing_the_client_secret_is_one_line_without_the_secret(
    project_dir: Path,
    start_xoauth2: Callable[..., SMTPServer],
    start_endpoint: Callable[..., TokenEndpoint],
) -> None:
    endpoint = start_endpoint()
    server = start_xoauth2(accept=_good)
    wrong = "the-secret-ID-not-its-value"
    cli = _cli(project_dir, server, **endpoint.settings(NEWSLETTER_OAUTH_CLIENT_SECRET=wrong))
    code, stderr, shown = _send(cli)
    assert code == 2, shown
    (line,) = _errors(stderr)
    assert (
        "Microsoft Entra ID refused the token request (invalid_client: AADSTS7000215: Invalid client " in line
    )
    assert "Trace ID" not in line
    assert "NEWSLETTER_OAUTH_CLIENT_SECRET" in line
    assert wrong not in shown
    assert server.recorder.sasl == []  # type: ignore[attr-defined]
    assert _statuses(cli) == Counter({"pending": PEOPLE})


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({}, "NEWSLETTER_SMTP_AUTH=xoauth2 needs a token: set NEWSLETTER_SMTP_TOKEN_COMMAND, or"),
        ({"NEWSLETTER_OAUTH_TENANT": "example.onmicrosoft.com"}, "set NEWSLETTER_OAUTH_CLIENT_ID, "),
        ({"NEWSLETTER_SMTP_TOKEN_COMMAND": "get-token 'unbalanced"}, "cannot be read as a command"),
        (
            {"NEWSLETTER_SMTP_TOKEN_COMMAND": "get-token", "NEWSLETTER_OAUTH_TENANT": "x"},
            "keep one source of tokens",
        ),
        ({"NEWSLETTER_SMTP_AUTH": "oauth"}, "NEWSLETTER_SMTP_AUTH='oauth': "),
    ],
)
def test_oauth_settings_that_cannot_work_are_one_line_before_anything_is_sent(
    project_dir: Path, start_xoauth2: Callable[..., SMTPServer], settings: dict[str, str], words: str
) -> None:
    server = start_xoauth2(accept=_good)
    cli = _cli(project_dir, server, **settings)
    code, stderr, shown = _send(cli)
    assert code == 2, shown
    (line,) = _errors(stderr)
    assert words in line
    assert server.recorder.connections == 0
