"""What the audience and the suppression list hold, as the CLI meets it: a link value that is no link
is skipped with its line before the send, and a suppressed address matches the audience however it
was typed (spaces, case, an international domain in either form)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from command import Cli, table_rows
from conftest import edit

from newsletter.composing import message

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "inputs-test-secret"


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _write(cli: Cli, name: str, text: str) -> None:
    (cli.folder / name).write_text(text, encoding="utf-8")


# -- a merge value that is a link's address --------------------------------------------------------


def test_dry_run_skips_a_row_whose_link_value_is_no_link_naming_its_line(cli: Cli) -> None:
    edit(
        cli.folder / ISSUE,
        "{{ first_name | default('lezer') }},",
        "{{ first_name | default('lezer') }}, [je pagina]({{ website }}),",
    )
    _write(
        cli,
        "leden.csv",
        "email;voornaam;website\n"
        "an@example.org;An;https://an.example.org/\n"
        "eve@example.org;Eve;javascript:alert(document.cookie)\n"
        "bert@example.org;Bert;mailto:bert@example.org\n"
        "dora@example.org;Dora;data:text/html;base64,PHNjcmlwdD4=\n",
    )
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "skipped leden.csv:3: eve@example.org: {{ website }} is the address of a link" in result.stderr
    assert "skipped leden.csv:5: dora@example.org: {{ website }} is the address of a link" in result.stderr
    assert "2 invalid rows" in result.stdout
    files = sorted((cli.folder / "outbox" / "2026-01").glob("*.eml"))
    assert [f.name.split("-", 1)[1] for f in files] == ["an@example.org.eml", "bert@example.org.eml"]
    for path in files:
        html = message.parse(path.read_bytes()).get_body(("html",))
        assert html is not None
        soup = BeautifulSoup(str(html.get_content()), "lxml")
        hrefs = [str(a["href"]) for a in soup.find_all("a", href=True)]
        assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:", "vbscript:"))]
        assert {"https://an.example.org/", "mailto:bert@example.org"} & set(hrefs)


def test_validate_refuses_a_link_default_that_is_no_link(cli: Cli) -> None:
    edit(
        cli.folder / ISSUE,
        "{{ first_name | default('lezer') }},",
        "[site]({{ website | default('javascript:alert(1)') }}),",
    )
    result = cli.run("validate", ISSUE)
    assert result.returncode == 2
    assert "{{ website | default('javascript:alert(1)') }} is the address of a link" in result.stderr
    assert "Traceback" not in result.stderr


# -- the suppression list ------------------------------------------------------------------------


def test_suppressed_addresses_match_the_audience_however_they_were_typed(cli: Cli) -> None:
    added = cli.run("suppress", "add", " Spaced@Example.org ", "lezer@bücher.example", "--reason", "asked")
    assert added.returncode == 0, added.stderr
    assert "2 added" in added.stdout
    listed = list(csv.reader(io.StringIO(cli.run("suppress", "list", "--csv").stdout)))
    assert [row[0] for row in listed[1:]] == ["lezer@xn--bcher-kva.example", "Spaced@example.org"]

    cli.recipients(
        ["an@example.org", "spaced@example.org", "lezer@xn--bcher-kva.example", "bert@example.org"]
    )
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert result.returncode == 0, result.stderr
    assert cli.server.recorder.copies() == Counter(["an@example.org", "bert@example.org"])
    assert Counter(r.status for r in cli.rows()) == Counter(sent=2, skipped=2)


def test_the_unicode_form_of_a_suppressed_international_address_is_skipped_too(cli: Cli) -> None:
    assert cli.run("suppress", "add", "lezer@xn--bcher-kva.example").returncode == 0
    cli.recipients(["lezer@bücher.example", "an@example.org"])
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert result.returncode == 0, result.stderr
    assert cli.server.recorder.copies() == Counter(["an@example.org"])
    assert [r.status for r in cli.rows() if r.recipient.email != "an@example.org"] == ["skipped"]


def test_suppress_add_refuses_a_non_address_naming_its_position_and_stores_nothing(cli: Cli) -> None:
    result = cli.run("suppress", "add", "an@example.org", "geen adres", "bert@example.org")
    assert result.returncode == 2
    assert "address 2 'geen adres' is not a valid address" in result.stderr
    assert "Traceback" not in result.stderr
    listed = cli.run("suppress", "list", "--csv")
    assert listed.stdout.strip().splitlines() == ["email,reason,source,issue,added_at,detail"]


def test_suppress_list_is_a_table_for_people_in_local_time_and_csv_for_machines(cli: Cli) -> None:
    empty = cli.run("suppress", "list")
    assert (empty.returncode, empty.stdout) == (0, "the suppression list is empty\n")
    assert cli.run("suppress", "add", "an@example.org", "--reason", "asked by phone").returncode == 0
    _write(cli, "afmeldingen.csv", "email\nbert@example.com\n")
    assert cli.run("suppress", "import", "afmeldingen.csv").returncode == 0

    machines = {
        row["email"]: row for row in csv.DictReader(io.StringIO(cli.run("suppress", "list", "--csv").stdout))
    }
    people = cli.run("suppress", "list", NEWSLETTER_TIMEZONE="America/New_York")
    assert people.returncode == 0, people.stderr
    table = table_rows(people.stdout)
    assert table.pop("address") == ["address", "reason", "source", "when", "issue"]
    new_york = ZoneInfo("America/New_York")
    for email, source, reason in (
        ("an@example.org", "by hand", "asked by phone"),
        ("bert@example.com", "import of afmeldingen.csv", "imported"),
    ):
        added = dt.datetime.fromisoformat(machines[email]["added_at"]).astimezone(new_york)
        assert table[email] == [email, reason, source, f"{added:%Y-%m-%d %H:%M}", ""]
    assert people.stdout.endswith("2 addresses on the suppression list\n")


def test_suppress_remove_normalises_as_add_does(cli: Cli) -> None:
    assert cli.run("suppress", "add", "An@Example.org").returncode == 0
    removed = cli.run("suppress", "remove", "  An@EXAMPLE.ORG ")
    assert removed.returncode == 0, removed.stderr
    assert "An@example.org removed" in removed.stdout
    refused = cli.run("suppress", "remove", "kapot")
    assert refused.returncode == 2
    assert "'kapot' is not a valid address" in refused.stderr


def test_suppress_import_normalises_and_reports_bad_rows_with_their_line(cli: Cli) -> None:
    _write(cli, "afmeldingen.csv", "email\n Spaced@Example.org \nkapot\nlezer@bücher.example\n")
    result = cli.run("suppress", "import", "afmeldingen.csv")
    assert result.returncode == 0, result.stderr
    assert "afmeldingen.csv:3: kapot: not a valid address" in result.stderr
    assert "2 of 2 addresses added" in result.stdout
    listed = list(csv.reader(io.StringIO(cli.run("suppress", "list", "--csv").stdout)))
    assert [row[0] for row in listed[1:]] == ["lezer@xn--bcher-kva.example", "Spaced@example.org"]
