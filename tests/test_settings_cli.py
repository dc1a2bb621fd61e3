"""Settings checked at the start, as a person or cron meets them: the CLI in a subprocess, each bad
setting one line naming it, exit 2, nothing sent; a port that is not an SMTP server or speaks TLS the
other way round is reported at once, with the setting to change, after one connection."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, run

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "settings-test-secret"
StartServer = Callable[..., "SMTPServer"]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    cli = Cli(project_dir, smtp_server, SECRET)
    cli.recipients(["an@example.org", "bert@example.org"])
    return cli


def _send(cli: Cli, **settings: str) -> tuple[int, str, str]:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", **settings)
    return result.returncode, result.stdout, result.stderr


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


NOT_PEM = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("NEWSLETTER_FROM", "not-an-address"),
        ("NEWSLETTER_FROM", "POM <nieuwsbrief@example.org>\r\nBcc: everyone@example.net"),
        ("NEWSLETTER_FROM", "POM Limburg <nieuwsbrief@@example.org>"),
        ("NEWSLETTER_FROM", "a@example.org, b@example.org"),
        ("NEWSLETTER_FROM", '"unterminated <a@example.org>'),
        ("NEWSLETTER_REPLY_TO", "redactie\x1b@example.org"),
        ("NEWSLETTER_REPLY_TO", "redactie"),
        ("NEWSLETTER_UNSUBSCRIBE_MAILTO", "uit@example.org\nBcc: everyone@example.net"),
        ("NEWSLETTER_UNSUBSCRIBE_MAILTO", "Uitschrijven <uit@example.org>"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "https://example.org/u?token={token}\r\nBcc: everyone@example.net"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "http://example.org/u?token={token}"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "https://example.org/u?e={email}"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "https:///u?token={token}"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "javascript:alert(1)//{token}"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "https://example.org/" + "a" * 600 + "?t={token}&e={email}"),
        ("NEWSLETTER_SMTP_PORT", "0"),
        ("NEWSLETTER_SMTP_PORT", "65536"),
        ("NEWSLETTER_SMTP_PORT", "smtp"),
        ("NEWSLETTER_SMTP_TIMEOUT", "inf"),
        ("NEWSLETTER_SMTP_TIMEOUT", "nan"),
        ("NEWSLETTER_SMTP_TIMEOUT", "0"),
        ("NEWSLETTER_SMTP_TIMEOUT", "-1"),
        ("NEWSLETTER_SMTP_CA_FILE", "not-pem.crt"),
        ("NEWSLETTER_SMTP_HOST", "smtp.example.org\r\nX: y"),
        ("NEWSLETTER_SMTP_PLAINTEXT_AUTH", "yes"),
    ],
)
def test_a_bad_setting_exits_2_with_one_line_naming_it_and_nothing_reaches_the_server(
    cli: Cli, setting: str, value: str
) -> None:
    (cli.folder / "not-pem.crt").write_text(NOT_PEM, encoding="utf-8")
    code, _, stderr = _send(cli, **{setting: value})
    assert code == 2
    assert setting in _one_line(stderr)
    assert cli.server.recorder.connections == 0
    assert not cli.db.exists()


def test_a_line_break_written_in_env_is_refused_before_it_can_add_a_header(cli: Cli) -> None:
    (cli.folder / ".env").write_text(
        'NEWSLETTER_FROM="POM <nieuwsbrief@example.org>\\nBcc: everyone@example.net"\n', encoding="utf-8"
    )
    env = cli.env()
    del env["NEWSLETTER_FROM"]

    result = run("send", ISSUE, "--recipients", "leden.csv", "--yes", cwd=cli.folder, env=env)
    assert result.returncode == 2
    assert "NEWSLETTER_FROM holds a line break" in _one_line(result.stderr)
    assert cli.server.recorder.connections == 0


def test_a_bad_setting_message_says_how_to_write_it(cli: Cli) -> None:
    _, _, port = _send(cli, NEWSLETTER_SMTP_PORT="0")
    assert "from 1 to 65535" in port
    _, _, sender = _send(cli, NEWSLETTER_FROM="not-an-address")
    assert "write e.g. Newsletter <newsletter@example.org>" in sender
    _, _, url = _send(cli, NEWSLETTER_UNSUBSCRIBE_URL="https://example.org/u?e={email}")
    assert "{token}" in url
    _, _, ca = _send(cli, NEWSLETTER_SMTP_CA_FILE="not-pem.crt")
    assert "no such file" in ca


def test_the_password_is_not_printed_with_a_bad_setting(cli: Cli) -> None:
    _, stdout, stderr = _send(cli, NEWSLETTER_SMTP_PASSWORD="hunter2-secret", NEWSLETTER_SMTP_PORT="x")
    assert "hunter2-secret" not in stdout + stderr


def test_an_international_sender_domain_goes_out_in_punycode(cli: Cli) -> None:
    code, _, stderr = _send(cli, NEWSLETTER_FROM="Région Limbourg <nieuwsbrief@bücher.example>")
    assert code == 0, stderr
    arrivals = cli.server.recorder.messages
    assert {a.mail_from for a in arrivals} == {"nieuwsbrief@xn--bcher-kva.example"}
    assert all(a.message_id.endswith("@xn--bcher-kva.example>") for a in arrivals)


def test_a_render_tolerates_an_http_unsubscribe_url_but_says_so(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = Cli(project_dir, smtp_server, SECRET)
    result = cli.run("render", ISSUE, NEWSLETTER_UNSUBSCRIBE_URL="http://example.org/u?e={email}")
    assert result.returncode == 0, result.stderr
    assert "must be an https:// address" in result.stderr
    assert "must carry {token}" in result.stderr
    assert "Traceback" not in result.stderr


# -- a port that is not what the settings say ----------------------------------------------------


class _WebServer(http.server.ThreadingHTTPServer):
    connections = 0

    def process_request(self, request: object, client_address: object) -> None:
        self.connections += 1
        super().process_request(request, client_address)  # type: ignore[arg-type]


@pytest.fixture
def web_server() -> Iterator[_WebServer]:
    """A real HTTP server on 127.0.0.1, in a thread, counting the connections it gets."""
    server = _WebServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# A short timeout keeps the wait for a greeting short (the wait is at most the timeout).
FAST = {"NEWSLETTER_SMTP_TIMEOUT": "1"}


def test_a_web_server_is_not_an_smtp_server_exit_2_after_one_connection(
    cli: Cli, web_server: _WebServer
) -> None:
    port = str(web_server.server_address[1])
    code, _, stderr = _send(cli, NEWSLETTER_SMTP_PORT=port, NEWSLETTER_SMTP_SECURITY="none", **FAST)
    assert code == 2
    line = _one_line(stderr)
    assert f"127.0.0.1:{port} is not an SMTP server (it answered" in line
    assert "NEWSLETTER_SMTP_HOST" in line
    assert web_server.connections == 1
    assert {r.status for r in cli.rows()} == {"pending"}


def test_starttls_against_an_implicit_tls_port_names_the_setting_after_one_connection(
    project_dir: Path, start_server: StartServer
) -> None:
    server = start_server("ssl")
    cli = Cli(project_dir, server, SECRET, {"NEWSLETTER_SMTP_SECURITY": "starttls", **FAST})
    cli.recipients(["an@example.org"])
    code, _, stderr = _send(cli)
    assert code == 2
    line = _one_line(stderr)
    assert "NEWSLETTER_SMTP_SECURITY=ssl" in line
    assert f"port {server.port}" in line
    assert server.recorder.connections == 1
    assert server.recorder.arrivals == []


def test_implicit_tls_against_a_starttls_port_names_the_setting_after_one_connection(
    project_dir: Path, start_server: StartServer
) -> None:
    server = start_server("starttls")
    cli = Cli(project_dir, server, SECRET, {"NEWSLETTER_SMTP_SECURITY": "ssl"})
    cli.recipients(["an@example.org"])
    code, _, stderr = _send(cli)
    assert code == 2
    line = _one_line(stderr)
    assert "NEWSLETTER_SMTP_SECURITY=starttls" in line
    assert "plain text" in line
    assert server.recorder.connections == 1
    assert server.recorder.logins == []


def test_a_login_without_tls_is_refused_unless_the_relay_is_trusted(
    project_dir: Path, start_server: StartServer
) -> None:
    server = start_server("plain-auth")
    cli = Cli(project_dir, server, SECRET)
    cli.recipients(["an@example.org"])
    code, _, stderr = _send(cli)
    assert code == 2
    assert "NEWSLETTER_SMTP_PLAINTEXT_AUTH=allow" in _one_line(stderr)
    assert server.recorder.connections == 0

    code, _, stderr = _send(cli, NEWSLETTER_SMTP_PLAINTEXT_AUTH="allow")
    assert code == 0, stderr
    assert server.recorder.logins == [("PLAIN", server.username, True)]
    assert len(server.recorder.messages) == 1


def test_a_login_without_tls_is_refused_outright_when_the_server_offers_starttls(
    project_dir: Path, start_server: StartServer
) -> None:
    server = start_server("starttls")
    cli = Cli(
        project_dir,
        server,
        SECRET,
        {"NEWSLETTER_SMTP_SECURITY": "none", "NEWSLETTER_SMTP_PLAINTEXT_AUTH": "allow"},
    )
    cli.recipients(["an@example.org"])
    code, _, stderr = _send(cli)
    assert code == 2
    assert "set NEWSLETTER_SMTP_SECURITY=starttls" in _one_line(stderr)
    assert server.recorder.logins == []
    assert server.recorder.connections == 1


@pytest.mark.parametrize(
    ("args", "setting", "value"),
    [
        (
            ("dispatch", "--now", "2026-01-20T09:00"),
            "NEWSLETTER_REPORT_TO",
            "staf@example.org\r\nBcc: x@example.net",
        ),
        (("dispatch", "--now", "2026-01-20T09:00"), "NEWSLETTER_REPORT_TO", "staf@example.org, geen-adres"),
        (
            ("send", ISSUE, "--recipients", "leden.csv", "--test-team"),
            "NEWSLETTER_TEST_RECIPIENTS",
            "a@example.org;b@example.org",
        ),
    ],
)
def test_a_bad_address_list_setting_exits_2_naming_it_before_anything_is_sent(
    cli: Cli, args: tuple[str, ...], setting: str, value: str
) -> None:
    result = cli.run(*args, **{setting: value})
    assert result.returncode == 2, result.stdout + result.stderr
    line = _one_line(result.stderr)
    assert setting in line
    assert "commas between addresses" in line or "line break" in line
    assert cli.server.recorder.connections == 0
