"""`newsletter doctor --no-send` against real SMTP servers on 127.0.0.1: the relay check step by step,
each failure with what to change, and nothing ever sent."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme
from command import Cli, output
from dns_server import dns_server
from doctor_setup import SELECTOR, make_key, zone

if TYPE_CHECKING:
    from oauth_servers import TokenCommand, TokenEndpoint
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server", "oauth_servers"]

SECRET = "doctor-test-secret"


@pytest.fixture(scope="module")
def dns_address() -> Iterator[str]:
    with dns_server(zone(make_key())) as server:
        yield server.address


def _doctor(project_dir: Path, server: SMTPServer, dns_address: str, **settings: str) -> tuple[int, str]:
    cli = Cli(project_dir, server, SECRET)
    result = cli.run(
        "doctor",
        "--no-send",
        NEWSLETTER_DNS_SERVER=dns_address,
        NEWSLETTER_DKIM_SELECTOR=SELECTOR,
        **settings,
    )
    return result.returncode, output(result)


def _relay_lines(shown: str) -> list[str]:
    return [line.strip() for line in shown.splitlines() if "relay:" in line]


def test_a_relay_with_starttls_and_a_login_passes_every_step_and_gets_no_message(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    code, shown = _doctor(project_dir, tls_server, dns_address)
    assert code == 0, shown
    lines = _relay_lines(shown)
    assert all(line.startswith("ok") for line in lines), shown
    assert any("greeting: 220" in line for line in lines), shown
    assert any("TLS: TLSv1.3" in line and "valid until" in line for line in lines), shown
    assert any("logged in as 'mailer' with a password (offered: LOGIN PLAIN)" in line for line in lines), (
        shown
    )
    assert any("MAIL FROM:<nieuwsbrief@example.org> accepted (NEWSLETTER_FROM)" in line for line in lines)
    assert any("RCPT TO:<nieuwsbrief@example.org> accepted" in line for line in lines), shown
    # aiosmtpd offers SIZE 33554432; the sample issue is weighed against it.
    assert any("the newest issue's message is " in line for line in lines), shown
    assert "RSET and QUIT" in lines[-1]
    assert tls_server.recorder.messages == []
    assert tls_server.password is not None
    assert tls_server.password not in shown


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_listening_names_the_host_and_port_settings(
    project_dir: Path, smtp_server: SMTPServer, dns_address: str
) -> None:
    code, shown = _doctor(project_dir, smtp_server, dns_address, NEWSLETTER_SMTP_PORT=str(_free_port()))
    assert code == 1, shown
    last = _relay_lines(shown)[-1]
    assert last.startswith("error"), shown
    assert "connection refused" in last
    assert "fix: NEWSLETTER_SMTP_HOST and NEWSLETTER_SMTP_PORT" in shown


def _starttls_server(start_server: Callable[..., SMTPServer], ca: trustme.CA, name: str) -> SMTPServer:
    """A STARTTLS server like the others, its certificate for `name` signed by `ca`."""
    server = start_server("starttls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    server.SMTP_kwargs["tls_context"] = context  # for the connections from now on
    return server


def test_a_certificate_for_another_name_says_so_and_names_the_host_setting(
    project_dir: Path, start_server: Callable[..., SMTPServer], tls_ca: trustme.CA, dns_address: str
) -> None:
    server = _starttls_server(start_server, tls_ca, "mail.example.net")
    code, shown = _doctor(project_dir, server, dns_address)
    assert code == 1, shown
    assert "the TLS certificate is for another name than '127.0.0.1'" in shown
    assert "; it is for mail.example.net" in shown
    assert "fix: NEWSLETTER_SMTP_HOST: the name on the relay's certificate" in shown
    assert not any("logged in" in line for line in _relay_lines(shown))


def test_a_certificate_from_an_unknown_ca_points_to_the_ca_file_setting(
    project_dir: Path, start_server: Callable[..., SMTPServer], dns_address: str
) -> None:
    server = _starttls_server(start_server, trustme.CA(), "127.0.0.1")
    code, shown = _doctor(project_dir, server, dns_address)
    assert code == 1, shown
    assert "signed by a CA this machine does not trust" in shown
    assert "fix: NEWSLETTER_SMTP_CA_FILE" in shown


def test_a_refused_password_names_the_login_settings_and_never_shows_the_password(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    code, shown = _doctor(project_dir, tls_server, dns_address, NEWSLETTER_SMTP_PASSWORD="Wrong-Pa55word")
    assert code == 1, shown
    last = _relay_lines(shown)[-1]
    assert last.startswith("error"), shown
    assert "login refused for 'mailer' (535" in last
    assert "fix: NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD" in shown
    assert "Wrong-Pa55word" not in shown
    assert not any("MAIL FROM" in line for line in _relay_lines(shown))


def test_microsofts_5_7_30_says_to_switch_to_oauth2_before_the_end_of_2026(
    project_dir: Path, start_server: Callable[..., SMTPServer], dns_address: str
) -> None:
    from aiosmtpd.smtp import AuthResult

    server = start_server("starttls")

    def basic_auth_off(*args: object) -> AuthResult:
        return AuthResult(
            success=False,
            handled=False,
            message="550 5.7.30 Basic authentication is not supported for Client Submission.",
        )

    server.SMTP_kwargs["authenticator"] = basic_auth_off
    code, shown = _doctor(project_dir, server, dns_address)
    assert code == 1, shown
    assert "no longer takes a password login (550 5.7.30" in shown
    assert "NEWSLETTER_SMTP_AUTH=xoauth2" in shown
    assert "from the end of 2026" in shown


def test_a_refused_mail_from_names_the_from_setting(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    tls_server.recorder.fail_mail(550, "5.7.1 Sender address rejected: not owned by user mailer")
    code, shown = _doctor(project_dir, tls_server, dns_address)
    assert code == 1, shown
    last = _relay_lines(shown)[-1]
    assert "refuses MAIL FROM:<nieuwsbrief@example.org>: 550 5.7.1 Sender address rejected" in last, shown
    assert "fix: NEWSLETTER_FROM must be an address that NEWSLETTER_SMTP_USERNAME may send as" in shown


def test_a_refused_bounce_address_names_that_setting(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    tls_server.recorder.fail_mail(550, "5.7.60 SMTP; Client does not have permissions to send as this sender")
    code, shown = _doctor(
        project_dir, tls_server, dns_address, NEWSLETTER_BOUNCE_ADDRESS="bounces+{token}@example.org"
    )
    assert code == 1, shown
    assert "does not let this account send as 'bounces+" in shown
    assert "fix: NEWSLETTER_BOUNCE_ADDRESS (the envelope sender) must be an address" in shown


def test_xoauth2_asked_for_but_not_offered_says_so_before_any_token_is_fetched(
    project_dir: Path, tls_server: SMTPServer, dns_address: str, tmp_path: Path
) -> None:
    marker = tmp_path / "token-asked"
    code, shown = _doctor(
        project_dir,
        tls_server,
        dns_address,
        NEWSLETTER_SMTP_AUTH="xoauth2",
        NEWSLETTER_SMTP_PASSWORD="",
        NEWSLETTER_SMTP_TOKEN_COMMAND=f"touch {marker}",
    )
    assert code == 1, shown
    assert "does not offer OAuth2 login (XOAUTH2; it offers LOGIN PLAIN)" in shown
    assert "fix: NEWSLETTER_SMTP_HOST: the provider's submission host" in shown
    assert not marker.exists()


def test_a_size_limit_below_the_newest_issue_is_an_error(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    tls_server.SMTP_kwargs["data_size_limit"] = 20_000
    code, shown = _doctor(project_dir, tls_server, dns_address)
    assert code == 1, shown
    assert "the relay takes at most 20 kB" in shown
    assert "fix: smaller images in the issue" in shown
    assert tls_server.recorder.messages == []


def test_a_to_that_is_no_address_is_one_line_and_exit_2(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    cli = Cli(project_dir, tls_server, SECRET)
    result = cli.run("doctor", "--to", "lezer at example.com", NEWSLETTER_DNS_SERVER=dns_address)
    assert result.returncode == 2, output(result)
    (line,) = result.stderr.strip().splitlines()
    assert "--to='lezer at example.com' is not an address; write e.g. reader@example.com" in line
    assert tls_server.recorder.connections == 0
    assert result.stdout == ""  # stopped before any finding, DNS included


def _fix_of_last_relay_line(shown: str) -> str:
    lines = [line.strip() for line in shown.splitlines()]
    at = max(i for i, line in enumerate(lines) if "relay:" in line)
    return lines[at + 1].removeprefix("fix: ")


def test_entra_refusing_the_client_secret_points_to_the_oauth_settings_not_the_password(
    project_dir: Path,
    start_xoauth2: Callable[..., SMTPServer],
    start_endpoint: Callable[..., TokenEndpoint],
    dns_address: str,
) -> None:
    server = start_xoauth2(accept=lambda token: True)
    endpoint = start_endpoint()
    wrong = "the-secret-ID-not-its-value"
    oauth = endpoint.settings(NEWSLETTER_OAUTH_CLIENT_SECRET=wrong)
    code, shown = _doctor(
        project_dir, server, dns_address, NEWSLETTER_SMTP_AUTH="xoauth2", NEWSLETTER_SMTP_PASSWORD="", **oauth
    )
    assert code == 1, shown
    assert "Microsoft Entra ID refused the token request (invalid_client: AADSTS7000215" in shown
    fix = _fix_of_last_relay_line(shown)
    assert fix.startswith("NEWSLETTER_OAUTH_CLIENT_SECRET: a new secret's Value (not its Secret ID)"), fix
    assert "NEWSLETTER_SMTP_PASSWORD" not in fix
    assert wrong not in shown
    assert server.recorder.sasl == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mode", "said", "fix"),
    [
        ("fail", "failed (exit 1: oama: no refresh token", "NEWSLETTER_SMTP_TOKEN_COMMAND: a command that"),
        (
            "refused",
            "the access token for 'nieuwsbrief@example.org' was refused (535",
            "NEWSLETTER_SMTP_TOKEN",
        ),
    ],
)
def test_a_token_command_login_that_fails_points_to_the_command_not_the_password(
    project_dir: Path,
    start_xoauth2: Callable[..., SMTPServer],
    token_command: TokenCommand,
    dns_address: str,
    mode: str,
    said: str,
    fix: str,
) -> None:
    server = start_xoauth2(accept=lambda token: token.startswith("good-"))
    token_command.mode(mode)
    code, shown = _doctor(
        project_dir,
        server,
        dns_address,
        NEWSLETTER_SMTP_AUTH="xoauth2",
        NEWSLETTER_SMTP_PASSWORD="",
        **token_command.settings(),
    )
    assert code == 1, shown
    assert said in _relay_lines(shown)[-1], shown
    shown_fix = _fix_of_last_relay_line(shown)
    assert shown_fix.startswith(fix), shown_fix
    assert "NEWSLETTER_SMTP_PASSWORD" not in shown_fix


BOUNCES = {"NEWSLETTER_BOUNCE_ADDRESS": "bounces+{token}@example.org"}


def _refuse_mail_from(monkeypatch: pytest.MonkeyPatch, server: SMTPServer, address: str, reply: str) -> None:
    """The server refuses MAIL FROM with `address` only, as a relay that checks Send As does."""
    recorder = server.recorder
    accept = recorder.handle_MAIL

    async def handle_mail(
        smtp: object, session: object, envelope: object, mail_from: str, options: list[str]
    ) -> str:
        if mail_from.lower() == address:
            return reply
        return await accept(smtp, session, envelope, mail_from, options)  # type: ignore[arg-type]

    monkeypatch.setattr(recorder, "handle_MAIL", handle_mail)


def test_with_a_bounce_address_the_from_address_is_tried_too_and_the_header_left_to_the_round_trip(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    code, shown = _doctor(project_dir, tls_server, dns_address, **BOUNCES)
    assert code == 0, shown
    lines = _relay_lines(shown)
    assert all(line.startswith("ok") for line in lines), shown
    (bounce,) = [line for line in lines if "MAIL FROM:<bounces+" in line]
    assert bounce.endswith("; the From address is tried next, the From header itself only by the round trip")
    assert any(
        "MAIL FROM:<nieuwsbrief@example.org> accepted too (NEWSLETTER_FROM, tried for the From header" in line
        for line in lines
    ), shown
    assert "RSET and QUIT" in lines[-1]
    assert tls_server.recorder.messages == []


def test_a_relay_that_refuses_the_from_address_is_found_without_sending(
    project_dir: Path, tls_server: SMTPServer, dns_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
    _refuse_mail_from(monkeypatch, tls_server, "nieuwsbrief@example.org", refusal)
    code, shown = _doctor(project_dir, tls_server, dns_address, **BOUNCES)
    assert code == 1, shown
    last = _relay_lines(shown)[-1]
    assert last.startswith("error"), shown
    assert (
        "refuses MAIL FROM:<nieuwsbrief@example.org>, the From address (NEWSLETTER_FROM): 550 5.7.60" in last
    )
    assert "the relay will refuse the From header too" in last
    assert _fix_of_last_relay_line(shown).startswith("NEWSLETTER_FROM must be an address that")
    assert tls_server.recorder.messages == []


def test_a_from_address_refused_for_another_reason_is_a_warning_that_points_to_the_round_trip(
    project_dir: Path, tls_server: SMTPServer, dns_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_mail_from(monkeypatch, tls_server, "nieuwsbrief@example.org", "550 5.1.8 Bad sender domain")
    code, shown = _doctor(project_dir, tls_server, dns_address, **BOUNCES)
    assert code == 0, shown
    (line,) = [line for line in _relay_lines(shown) if line.startswith("warning")]
    assert "554 5.2.252 SendAsDenied" in line
    assert "run doctor without --no-send" in shown
