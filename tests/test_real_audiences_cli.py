"""Audiences as they really are, through the CLI to a real SMTP server: international addresses (sent
with SMTPUTF8 where the server offers it, else that one recipient fails with the reason), and a CSV
saved by Excel with Alt+Enter line breaks inside cells."""

from __future__ import annotations

import email.parser
import email.policy
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from command import Cli, output
from conftest import edit

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server"]

SECRET = "audiences-test-secret"
ISSUE = "issues/2026-01.yaml"
GREETING = "Beste {{ first_name | default('lezer') }},"
NO_SMTPUTF8 = "the server does not accept international addresses (no SMTPUTF8)"
INTERNATIONAL = "email;voornaam\r\nzoë@example.org;Zoë\r\njan@bücher.example;Jan\r\nan@example.org;An\r\n"


def _cli(project_dir: Path, server: SMTPServer, audience: str | bytes) -> Cli:
    cli = Cli(project_dir, server, SECRET)
    path = cli.folder / "leden.csv"
    path.write_bytes(audience.encode() if isinstance(audience, str) else audience)
    return cli


def _send(cli: Cli) -> str:
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    return f"{result.returncode}\n{output(result)}"


def _read(arrival: Arrival) -> EmailMessage:
    """The message as a mail program that speaks SMTPUTF8 reads it (UTF-8 in the headers)."""
    parsed = email.parser.Parser(policy=email.policy.SMTPUTF8).parsestr(arrival.data.decode("utf-8"))
    assert isinstance(parsed, EmailMessage)
    return parsed


def _body(arrival: Arrival, kind: str) -> str:
    part = _read(arrival).get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_international_addresses_go_out_over_smtputf8_when_the_server_offers_it(
    project_dir: Path, start_server: Callable[..., SMTPServer]
) -> None:
    server = start_server("plain", smtputf8=True)
    cli = _cli(project_dir, server, INTERNATIONAL)
    outcome = _send(cli)
    assert outcome.startswith("0\n"), outcome
    by_rcpt = {a.rcpts[0]: a for a in server.recorder.messages}
    assert sorted(by_rcpt) == ["an@example.org", "jan@xn--bcher-kva.example", "zoë@example.org"]
    zoe = by_rcpt["zoë@example.org"]
    assert zoe.smtputf8
    (to,) = _read(zoe)["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë", "zoë@example.org")
    # Only the message that needs it asks for SMTPUTF8; a punycode domain is plain ASCII.
    assert not by_rcpt["jan@xn--bcher-kva.example"].smtputf8
    assert not by_rcpt["an@example.org"].smtputf8
    assert Counter(r.status for r in cli.rows()) == Counter(sent=3)


def test_without_smtputf8_only_the_international_address_fails_with_the_reason(
    project_dir: Path, start_server: Callable[..., SMTPServer]
) -> None:
    server = start_server("plain")
    cli = _cli(project_dir, server, INTERNATIONAL)
    outcome = _send(cli)
    assert outcome.startswith("1\n"), outcome
    assert server.recorder.copies() == Counter(["jan@xn--bcher-kva.example", "an@example.org"])
    statuses = {r.recipient.email: (r.status, r.last_reply) for r in cli.rows()}
    assert statuses["zoë@example.org"] == ("failed", NO_SMTPUTF8)
    failed = cli.run("status", ISSUE, "--failed")
    assert f"2026-01,zoë@example.org,failed,1,{NO_SMTPUTF8}" in failed.stdout


def test_international_addresses_in_a_test_send_and_the_suppression_list(
    project_dir: Path, start_server: Callable[..., SMTPServer]
) -> None:
    server = start_server("plain", smtputf8=True)
    cli = _cli(project_dir, server, INTERNATIONAL)
    assert cli.run("suppress", "add", "Zoë@Example.org").returncode == 0
    test = cli.run("send", ISSUE, "--recipients", "leden.csv", "--test", "jörg@example.org")
    assert test.returncode == 0, output(test)
    assert server.recorder.copies() == Counter(["jörg@example.org"])
    outcome = _send(cli)
    assert outcome.startswith("0\n"), outcome
    assert server.recorder.copies()["zoë@example.org"] == 0
    assert {r.recipient.email: r.status for r in cli.rows()}["zoë@example.org"] == "skipped"


# What Excel writes for "CSV UTF-8 (comma delimited)" in a Dutch locale: a BOM, ";" between cells,
# CRLF between rows, and a cell with Alt+Enter quoted with the line break inside (LF from Excel, CRLF
# once another program saved it again).
EXCEL = (
    "E-mail;Voornaam;Naam;Notities\r\n"
    'an@example.org;An;"An\r\nPeeters";"Belt liever\nniet voor 10 uur"\r\n'
    '"bert@example.org\r\nBcc: everyone@example.net";Bert;Bert Janssens;\r\n'
    'carla@example.org;Carla;"Carla\nBcc: everyone@example.net";"Eerste regel\r\ntweede regel"\r\n'
).encode("utf-8-sig")


def test_an_excel_csv_with_line_breaks_in_cells_reaches_everyone_whose_address_is_one_line(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = _cli(project_dir, smtp_server, EXCEL)
    edit(cli.folder / ISSUE, GREETING, f"{GREETING}\n\n      Uw notitie: {{{{ notities }}}}")
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert result.returncode == 0, output(result)
    # Line 5 of the file, where an editor shows the row: An's cells span lines 2 to 4.
    assert (
        "skipped leden.csv:5: bert@example.org Bcc: everyone@example.net: the address holds a line "
        "break; an address is one line"
    ) in result.stderr
    by_rcpt = {a.rcpts[0]: a for a in smtp_server.recorder.messages}
    assert sorted(by_rcpt) == ["an@example.org", "carla@example.org"]
    an, carla = by_rcpt["an@example.org"], by_rcpt["carla@example.org"]
    # In the body the line break stays one: <br> in the HTML, a new line in the text.
    assert "Uw notitie: Belt liever<br>\nniet voor 10 uur" in _body(an, "html")
    assert "Uw notitie: Belt liever\nniet voor 10 uur" in _body(an, "plain")
    assert "Eerste regel\ntweede regel" in _body(carla, "plain")
    # In a header it is a space, and it never starts a header of its own.
    for arrival, name in ((an, "An Peeters"), (carla, "Carla Bcc: everyone@example.net")):
        head = arrival.data.split(b"\r\n\r\n", 1)[0]
        assert not [line for line in head.split(b"\r\n") if line.lower().startswith(b"bcc")]
        assert _read(arrival)["To"].addresses[0].display_name == name
    assert Counter(r.status for r in cli.rows()) == Counter(sent=2)
