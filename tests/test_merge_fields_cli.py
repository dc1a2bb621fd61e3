"""Merge fields against the audience as the CLI meets them: a field matches its column however either is
written, a field that no column provides is refused before the first message in every mode, and a
merge mistake met during a send marks nobody failed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, logged, output
from conftest import edit, line_of
from issue_files import copy_sample

from newsletter.composing import message

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

SECRET = "merge-fields-test-secret"
ISSUE = "issues/2026-02.yaml"
GREETING = "Beste {{ first_name | default('lezer') }},"
SEND_AT = "2026-01-20T09:00"


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _issue(cli: Cli, greeting: str, subject: str | None = None) -> Path:
    """issues/2026-02.yaml: the sample, ready for dispatch, greeting with `greeting`, its audience
    issues/leden.csv."""
    path = copy_sample(cli.folder, "2026-02", send_at=SEND_AT, audience="leden.csv", subject=subject)
    edit(path, GREETING, greeting)
    return path


def _audience(cli: Cli, text: str) -> None:
    (cli.folder / "issues" / "leden.csv").write_text(text, encoding="utf-8")


def _text(data: bytes) -> str:
    part = message.parse(data).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_voornaam_and_first_name_both_fill_from_a_voornaam_column(cli: Cli) -> None:
    _issue(cli, "Beste {{ voornaam }} ({{ FIRST_NAME }}) uit {{ Gemeente }},", subject="Voor {{ VOORNAAM }}")
    _audience(
        cli,
        "E-mail;Voornaam;GEMEENTE\r\nan@example.org;An;Hasselt\r\nbert@example.org;Bert;Genk\r\n"
        "carla@example.org;Carla;\r\n",
    )
    checked = cli.run("validate", ISSUE, "--recipients", "issues/leden.csv")
    assert checked.returncode == 0, output(checked)
    assert "fits issues/leden.csv: 3 recipients, 0 rows skipped" in checked.stdout

    result = cli.run("send", ISSUE, "--yes")
    assert result.returncode == 0, output(result)
    by_address = {a.rcpts[0]: a for a in cli.server.recorder.messages}
    assert sorted(by_address) == ["an@example.org", "bert@example.org", "carla@example.org"]
    assert "Beste An (An) uit Hasselt," in _text(by_address["an@example.org"].data)
    assert by_address["bert@example.org"].subject == "Voor Bert"
    # A column that is there but empty for a row is an empty value, not a mistake.
    assert "Beste Carla (Carla) uit ," in _text(by_address["carla@example.org"].data)
    assert Counter(r.status for r in cli.rows("2026-02")) == Counter(sent=3)


MODES = {
    "validate": ("validate", ISSUE, "--recipients", "issues/leden.csv"),
    "dry run": ("send", ISSUE, "--dry-run"),
    "test": ("send", ISSUE, "--test", "redactie@example.org"),
    "live": ("send", ISSUE, "--yes"),
    "dispatch": ("dispatch", "--now", SEND_AT),
}


@pytest.mark.parametrize("mode", MODES)
def test_a_misspelt_field_is_refused_in_every_mode_with_its_line_and_nothing_is_sent(
    cli: Cli, mode: str
) -> None:
    path = _issue(cli, "Beste {{ voornaam }} uit {{ gemeentee }},")
    _audience(cli, "email;Voornaam;gemeente\nan@example.org;An;Hasselt\nbert@example.org;Bert;Genk\n")
    result = cli.run(*MODES[mode])
    assert result.returncode == 2, output(result)
    line = line_of(path, "{{ gemeentee }}")
    assert (
        f"issues/2026-02.yaml:{line}: {{{{ gemeentee }}}}: the audience issues/leden.csv has no such "
        "column (columns: email, Voornaam, gemeente); did you mean {{ gemeente }}? Or give it a "
        "fallback: {{ gemeentee | default('…') }}"
    ) in output(result)
    assert "Traceback" not in output(result)
    assert cli.server.recorder.connections == 0
    assert not (cli.folder / "outbox").exists()
    assert not cli.db.exists() or cli.rows("2026-02") == []
    if mode == "dispatch":
        assert logged(result, "invalid")


def test_a_field_without_a_close_column_says_to_add_it_or_give_a_fallback(cli: Cli) -> None:
    _issue(cli, "Beste {{ lidnummer }},")
    _audience(cli, "email;voornaam\nan@example.org;An\n")
    result = cli.run("validate", ISSUE, "--recipients", "issues/leden.csv")
    assert result.returncode == 2
    assert (
        "{{ lidnummer }}: the audience issues/leden.csv has no such column (columns: email, voornaam); "
        in (result.stderr)
    )
    assert "add the column, or give the field a fallback: {{ lidnummer | default('…') }}" in result.stderr
    assert "did you mean" not in result.stderr


def test_a_field_missing_from_a_started_delivery_stops_it_and_nobody_is_marked_failed(cli: Cli) -> None:
    path = _issue(cli, GREETING)
    _audience(cli, "email;voornaam\nan@example.org;An\nbert@example.org;Bert\ncarla@example.org;Carla\n")
    first = cli.run("send", ISSUE, "--yes", "--limit", "1")
    assert first.returncode == 1, output(first)

    # The column added to the file after the delivery started: its recorded audience does not have it.
    _audience(
        cli,
        "email;voornaam;gemeente\nan@example.org;An;Hasselt\nbert@example.org;Bert;Genk\n"
        "carla@example.org;Carla;Bree\n",
    )
    edit(path, GREETING, "Beste inwoner van {{ gemeente }},")
    stopped = cli.run("send", ISSUE, "--yes")
    assert stopped.returncode == 2, output(stopped)
    assert "the issue uses {{ gemeente }} without a default" in stopped.stderr
    assert "{{ gemeente | default('…') }}" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert Counter(r.status for r in cli.rows("2026-02")) == Counter(sent=1, pending=2)
    assert sum(cli.server.recorder.copies().values()) == 1

    edit(path, "{{ gemeente }}", "{{ gemeente | default('Limburg') }}")
    again = cli.run("send", ISSUE, "--yes")
    assert again.returncode == 0, output(again)
    assert cli.server.recorder.copies() == Counter(
        ["an@example.org", "bert@example.org", "carla@example.org"]
    )
    assert Counter(r.status for r in cli.rows("2026-02")) == Counter(sent=3)
