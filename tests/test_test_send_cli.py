"""`newsletter send --test` says why it failed, as a real send does, is addressed to the test address
alone and says whose fields it carries. In a subprocess, against aiosmtpd on 127.0.0.1 and a port
that nobody listens on."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output

from newsletter.composing import message

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "test-send-secret"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error: ")]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    cli = Cli(project_dir, smtp_server, SECRET)
    (cli.folder / "leden.csv").write_text(
        "email;voornaam;naam\r\nan@example.org;An;An Peeters\r\nbert@example.org;Bert;Bert Claes\r\n",
        encoding="utf-8",
    )
    return cli


def test_a_test_send_is_to_the_test_address_alone_and_says_whose_fields_it_carries(cli: Cli) -> None:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--test", "me@example.org")
    assert result.returncode == 0, output(result)
    assert (
        "test send of 2026-01, personalised as the first audience row: An Peeters (an@example.org)"
        in result.stdout
    )
    assert "sent to me@example.org" in result.stdout
    (arrival,) = cli.server.recorder.messages
    assert arrival.rcpts == ("me@example.org",)
    parsed = message.parse(arrival.data)
    assert parsed["To"] == "me@example.org"  # no subscriber's name on a message to a colleague
    text = parsed.get_body(("plain",))
    assert text is not None
    assert "Beste An," in text.get_content()  # the first row's fields fill the merge fields
    assert "an@example.org" not in arrival.data.decode("ascii", "replace")


@pytest.mark.parametrize("how", ["--test", "real"])
def test_a_server_that_is_down_is_one_line_naming_it_and_a_test_exits_2(cli: Cli, how: str) -> None:
    port = _closed_port()
    args = ("--test", "me@example.org") if how == "--test" else ("--yes",)
    result = cli.run(
        "send",
        ISSUE,
        "--recipients",
        "leden.csv",
        *args,
        NEWSLETTER_SMTP_PORT=str(port),
        NEWSLETTER_SMTP_TIMEOUT="2",
    )
    said = output(result)
    # A test that did not go out is a setting to fix (exit 2); a real send keeps everyone due (exit 1).
    assert result.returncode == (2 if how == "--test" else 1), said
    assert "Traceback" not in said
    reason = f"the mail server cannot be reached (cannot connect to 127.0.0.1:{port}: Connection refused)"
    assert reason in said
    if how == "--test":
        assert _errors(result.stderr) == [f"error: {reason}; the test was not sent"]
        assert f"sending a test to me@example.org through 127.0.0.1:{port}…" in result.stdout
        assert "┃" not in result.stdout  # no table of counts without a reason
        assert not cli.db.exists()


@pytest.mark.parametrize("how", ["--test", "real"])
def test_a_refused_login_names_the_settings_and_exits_2(
    project_dir: Path, start_server: Callable[..., SMTPServer], how: str
) -> None:
    server = start_server("starttls")
    cli = Cli(project_dir, server, SECRET, {"NEWSLETTER_SMTP_PASSWORD": "not-the-password"})
    cli.recipients(["an@example.org", "bert@example.org"])
    args = ("--test", "me@example.org") if how == "--test" else ("--yes",)
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", *args)
    assert result.returncode == 2, output(result)
    (line,) = _errors(result.stderr)
    assert f"127.0.0.1:{server.port}: login refused for 'mailer'" in line
    assert line.endswith("check NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD")
    assert "not-the-password" not in output(result)
    assert server.recorder.arrivals == []
