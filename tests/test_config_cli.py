"""`newsletter config` as a person runs it: every setting in effect with where it came from (the
environment, .env, the relay profile, the default), grouped as .env.example groups them, secrets never
shown, and what the relay profile filled in, was overridden in and documents."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from command import environment, output, run
from conftest import ROOT

PASSWORD = "Smtp-Pa55word-for-config"
SECRET = "unsubscribe-secret-for-config-0123456789"
CLIENT_SECRET = "Entra~client~secret~for~config"
IMAP_PASSWORD = "Imap-Pa55word-for-config"


def _config(folder: Path, *args: str, **settings: str) -> tuple[int, str, str]:
    result = run("config", *args, cwd=folder, env=environment(settings))
    return result.returncode, result.stdout, result.stderr


def _lines(stdout: str) -> dict[str, tuple[str, str]]:
    """The setting lines by name: (value, where from)."""
    found = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"(NEWSLETTER_\w+)=(.*?)\s+# (.+)", line)
        if match:
            found[match[1]] = (match[2], match[3])
    return found


def test_each_value_is_shown_with_where_it_came_from(project_dir: Path) -> None:
    (project_dir / ".env").write_text(
        'NEWSLETTER_RELAY=microsoft365\nNEWSLETTER_FROM="POM Limburg <nieuwsbrief@example.org>"\n'
        "NEWSLETTER_DAILY_LIMIT=2500\nNEWSLETTER_RATE=5/minute\n",
        encoding="utf-8",
    )
    code, stdout, stderr = _config(project_dir, NEWSLETTER_RATE="20/minute", NEWSLETTER_TIMEZONE="UTC")
    assert code == 0, stderr
    shown = _lines(stdout)
    assert shown["NEWSLETTER_RELAY"] == ("microsoft365", ".env")
    assert shown["NEWSLETTER_FROM"] == ('"POM Limburg <nieuwsbrief@example.org>"', ".env")
    assert shown["NEWSLETTER_RATE"] == ("20/minute", "environment")  # the environment wins over .env
    assert shown["NEWSLETTER_DAILY_LIMIT"] == ("2500", ".env")
    assert shown["NEWSLETTER_TIMEZONE"] == ("UTC", "environment")
    assert shown["NEWSLETTER_SMTP_HOST"] == ("smtp.office365.com", "profile microsoft365")
    assert shown["NEWSLETTER_SMTP_PORT"] == ("587", "profile microsoft365")
    assert shown["NEWSLETTER_CONNECTIONS"] == ("3", "profile microsoft365")
    assert shown["NEWSLETTER_SMTP_AUTH"] == ("xoauth2", "profile microsoft365")
    assert shown["NEWSLETTER_DB"] == ("newsletter.sqlite3", "default")
    assert shown["NEWSLETTER_MESSAGES_PER_CONNECTION"] == ("100", "default")
    assert "NEWSLETTER_REPLY_TO" not in shown  # unset: listed with --all only
    # Grouped in .env.example's order, under its headings.
    headings = [line for line in stdout.splitlines() if line.startswith("# --- ")]
    assert headings[:3] == [
        "# --- Where things are",
        "# --- Who sends, and how readers leave",
        "# --- The mail server",
    ]
    assert (
        stdout.index("NEWSLETTER_DB=") < stdout.index("NEWSLETTER_FROM=") < stdout.index("NEWSLETTER_RELAY=")
    )


def test_the_relay_profile_says_what_it_filled_what_was_overridden_and_its_documented_limits(
    project_dir: Path,
) -> None:
    code, stdout, stderr = _config(
        project_dir,
        NEWSLETTER_RELAY="amazon-ses:eu-west-1",
        NEWSLETTER_SMTP_HOST="smtp.example.org",
        NEWSLETTER_RATE="14/second",
    )
    assert code == 0, stderr
    profile = stdout[stdout.index("# --- Relay profile amazon-ses:eu-west-1: Amazon SES (eu-west-1)") :]
    filled = "NEWSLETTER_SMTP_PORT, NEWSLETTER_SMTP_SECURITY, NEWSLETTER_SMTP_AUTH, NEWSLETTER_DAILY_LIMIT"
    assert f"# filled in: {filled}\n" in profile
    assert (
        "# overridden by explicit settings: NEWSLETTER_SMTP_HOST (environment), NEWSLETTER_RATE (environment)"
        in profile
    )
    assert "# documented limits: sandbox: 200 messages a day, 1 a second" in profile
    assert "# source: https://docs.aws.amazon.com/ses/latest/dg/quotas.html" in profile
    assert "an account out of the sandbox may send more" in profile
    assert _lines(stdout)["NEWSLETTER_SMTP_HOST"] == ("smtp.example.org", "environment")


def test_an_explicit_password_beside_microsoft365_is_the_login_and_config_says_so(project_dir: Path) -> None:
    code, stdout, stderr = _config(
        project_dir, NEWSLETTER_RELAY="microsoft365", NEWSLETTER_SMTP_PASSWORD=PASSWORD
    )
    assert code == 0, stderr
    assert "# login: password, as the explicit login settings say (the profile's own is xoauth2)" in stdout
    assert "NEWSLETTER_SMTP_AUTH" not in _lines(stdout)


def test_secrets_are_shown_as_set_never_their_value_and_the_token_command_is_not_run(
    project_dir: Path,
) -> None:
    ran = project_dir / "token-command-ran"
    command = f"{sys.executable} -c \"open('{ran}', 'w')\""
    (project_dir / ".env").write_text(
        f"NEWSLETTER_SECRET={SECRET}\nNEWSLETTER_IMAP_PASSWORD={IMAP_PASSWORD}\n"
    )
    code, stdout, stderr = _config(
        project_dir,
        "--all",
        NEWSLETTER_SMTP_PASSWORD=PASSWORD,
        NEWSLETTER_OAUTH_CLIENT_SECRET=CLIENT_SECRET,
        NEWSLETTER_PREVIOUS_SECRETS=f"old-{SECRET}",
        NEWSLETTER_SMTP_TOKEN_COMMAND=command,
    )
    assert code == 0, stderr
    for secret in (PASSWORD, SECRET, CLIENT_SECRET, IMAP_PASSWORD):
        assert secret not in stdout + stderr
    shown = _lines(stdout)
    assert shown["NEWSLETTER_SMTP_PASSWORD"] == ("(set, hidden)", "environment")
    assert shown["NEWSLETTER_SECRET"] == ("(set, hidden)", ".env")
    assert shown["NEWSLETTER_IMAP_PASSWORD"] == ("(set, hidden)", ".env")
    assert shown["NEWSLETTER_OAUTH_CLIENT_SECRET"] == ("(set, hidden)", "environment")
    assert shown["NEWSLETTER_PREVIOUS_SECRETS"] == ("(set, hidden)", "environment")
    assert shown["NEWSLETTER_SMTP_TOKEN_COMMAND"][1] == "environment"
    assert not ran.exists()
    # --all lists what is not set, too.
    assert "NEWSLETTER_REPLY_TO=" in stdout
    assert re.search(r"^NEWSLETTER_REPLY_TO=\s+# unset$", stdout, re.MULTILINE)
    assert re.search(r"^NEWSLETTER_SMTP_PORT=587\s+# default for starttls$", stdout, re.MULTILINE)


@pytest.mark.parametrize("name", ["NEWSLETTER_SMTP_HOST", "smtp_host", "SMTP_HOST"])
def test_a_name_shows_that_one_setting(project_dir: Path, name: str) -> None:
    code, stdout, stderr = _config(project_dir, name, NEWSLETTER_RELAY="brevo")
    assert code == 0, stderr
    assert stdout.splitlines() == [
        "NEWSLETTER_SMTP_HOST=smtp-relay.brevo.com".ljust(60) + "  # profile brevo"
    ]


def test_an_unknown_name_or_a_bad_setting_is_one_line_and_exit_2(project_dir: Path) -> None:
    code, stdout, stderr = _config(project_dir, "SMTP_HOTS")
    assert code == 2
    assert (
        stderr.strip()
        == "error: SMTP_HOTS: there is no such setting; `newsletter config --all` lists them all"
    )
    code, stdout, stderr = _config(
        project_dir, NEWSLETTER_SMTP_PORT="smtp", NEWSLETTER_SMTP_PASSWORD=PASSWORD
    )
    assert code == 2
    assert stderr.strip() == (
        "error: NEWSLETTER_SMTP_PORT: 'smtp' is not a whole number; write a port number from 1 to 65535, "
        "e.g. 587 (see .env.example)"
    )
    assert PASSWORD not in stdout + stderr


def test_config_groups_every_setting_as_env_example_does() -> None:
    from newsletter.config import Settings
    from newsletter.config.explain import GROUPS, env_name

    expected: list[tuple[str, list[str]]] = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"# --- (.*?) -+", line)
        if heading:
            expected.append((heading[1], []))
        setting = re.match(r"NEWSLETTER_(\w+)=", line)
        if setting and expected:
            expected[-1][1].append(setting[1])
    assert [(title, list(names)) for title, names in GROUPS] == expected
    grouped = {f"NEWSLETTER_{name}" for _, names in GROUPS for name in names}
    assert {env_name(Settings, field) for field in Settings.model_fields} == grouped


def test_config_is_listed_under_set_up_beside_doctor(project_dir: Path) -> None:
    result = run("--help", cwd=project_dir, env=environment({"COLUMNS": "200"}))
    assert result.returncode == 0, output(result)
    set_up = result.stdout[result.stdout.index("Set up") :]
    assert re.search(r"^\s+doctor\s", set_up, re.MULTILINE)
    assert re.search(r"^\s+config\s+Print every setting", set_up, re.MULTILINE)


def test_env_example_copied_with_only_the_relay_filled_in_gets_the_profiles_values(project_dir: Path) -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    (project_dir / ".env").write_text(example.replace("\nNEWSLETTER_RELAY=\n", "\nNEWSLETTER_RELAY=brevo\n"))
    code, stdout, stderr = _config(project_dir)
    assert code == 0, stderr
    shown = _lines(stdout)
    for name in (
        "NEWSLETTER_SMTP_HOST",
        "NEWSLETTER_SMTP_PORT",
        "NEWSLETTER_SMTP_SECURITY",
        "NEWSLETTER_DAILY_LIMIT",
    ):
        assert shown[name][1] == "profile brevo", name
    assert shown["NEWSLETTER_RELAY"] == ("brevo", ".env")
    assert "# overridden by explicit settings: none" in stdout
