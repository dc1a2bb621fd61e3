"""Relay profiles (NEWSLETTER_RELAY): each fills the SMTP settings and limits its provider documents,
explicit settings from the environment or .env win, a bad name is one line and exit 2, and a real
send through a profile keeps to its limits while an explicit host points it at a local server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from command import Cli, output, run
from command import environment as clean_environment
from conftest import audience_csv

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "relays-test-secret"

# What each profile fills in, from the provider's page cited in newsletter/config/relays.py.
PROFILES: dict[str, dict[str, Any]] = {
    "microsoft365": {
        "smtp_host": "smtp.office365.com", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_auth": "xoauth2", "rate": "30/minute", "daily_limit": 10_000, "connections": 3,
        "messages_per_connection": 100,
    },
    "google-workspace": {
        "smtp_host": "smtp.gmail.com", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_auth": "xoauth2", "rate": None, "daily_limit": 2_000, "connections": 1,
        "messages_per_connection": 100,
    },
    "amazon-ses:eu-west-1": {
        "smtp_host": "email-smtp.eu-west-1.amazonaws.com", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_auth": "password", "rate": "1/second", "daily_limit": 200, "connections": 1,
        "messages_per_connection": 100,
    },
    "amazon-ses:us-gov-west-1": {
        "smtp_host": "email-smtp.us-gov-west-1.amazonaws.com", "smtp_port": 587,
        "smtp_security": "starttls", "smtp_auth": "password", "rate": "1/second", "daily_limit": 200,
    },
    "brevo": {
        "smtp_host": "smtp-relay.brevo.com", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_auth": "password", "rate": None, "daily_limit": 300,
    },
    "mailgun:eu": {
        "smtp_host": "smtp.eu.mailgun.org", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_auth": "password", "daily_limit": 100,
    },
    "mailgun:us": {
        "smtp_host": "smtp.mailgun.org", "smtp_port": 587, "smtp_auth": "password", "daily_limit": 100,
    },
    "postmark": {
        "smtp_host": "smtp-broadcasts.postmarkapp.com", "smtp_port": 587, "smtp_security": "starttls",
        "smtp_auth": "password", "rate": None, "daily_limit": None,
    },
}  # fmt: skip


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    from newsletter.config import load_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.mark.parametrize(("relay", "expected"), PROFILES.items(), ids=list(PROFILES))
def test_each_profile_fills_the_settings_its_provider_documents(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, relay: str, expected: dict[str, Any]
) -> None:
    settings = _settings(monkeypatch, NEWSLETTER_RELAY=relay)
    assert {field: getattr(settings, field) for field in expected} == expected
    sender = settings.smtp_sender() if expected["smtp_auth"] == "password" else None
    if sender is not None:
        assert (sender.host, sender.port) == (expected["smtp_host"], 587)


def test_every_profile_cites_its_source_and_names_the_spf_include(project_dir: Path) -> None:
    from newsletter.config.relays import relay_profile

    for name in PROFILES:
        profile = relay_profile(name)
        assert profile.source.startswith("https://"), name
        assert profile.spf_include, name
        assert all("." in include for include in profile.spf_include), name
        assert profile.limits, name
    assert relay_profile("microsoft365").spf_include == ("spf.protection.outlook.com",)
    assert relay_profile("amazon-ses:eu-west-1").spf_include == ("amazonses.com",)


def test_the_relay_name_is_read_in_any_case_with_spaces_around(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, NEWSLETTER_RELAY="  Amazon-SES:EU-Central-1 ")
    assert settings.smtp_host == "email-smtp.eu-central-1.amazonaws.com"


def test_explicit_settings_from_the_environment_and_from_env_win_over_the_profile(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_dir / ".env").write_text(
        "NEWSLETTER_RELAY=microsoft365\nNEWSLETTER_DAILY_LIMIT=2500\nNEWSLETTER_CONNECTIONS=\n",
        encoding="utf-8",
    )
    settings = _settings(monkeypatch, NEWSLETTER_RATE="10/minute", NEWSLETTER_SMTP_HOST="smtp.example.org")
    assert settings.rate == "10/minute"  # environment
    assert settings.smtp_host == "smtp.example.org"  # environment
    assert settings.daily_limit == 2500  # .env
    assert settings.connections == 3  # an empty value is no value: the profile's stands
    assert settings.smtp_port == 587  # the profile's, with its own security
    assert str(settings.limiter_rate()) == "10/minute"
    assert settings.options().daily_limit == 2500


def test_an_explicit_security_other_than_the_profiles_takes_its_own_default_port(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, NEWSLETTER_RELAY="amazon-ses:eu-west-1", NEWSLETTER_SMTP_SECURITY="ssl")
    sender = settings.smtp_sender()
    assert (sender.host, sender.port) == ("email-smtp.eu-west-1.amazonaws.com", 465)


@pytest.mark.parametrize(
    ("relay", "env", "kind"),
    [
        ("microsoft365", {}, "xoauth2"),
        # A tenant that still allows passwords: the explicit password is the login.
        ("microsoft365", {"NEWSLETTER_SMTP_PASSWORD": "pw"}, "password"),
        ("microsoft365", {"NEWSLETTER_SMTP_PASSWORD": "pw", "NEWSLETTER_SMTP_AUTH": "xoauth2"}, "xoauth2"),
        ("microsoft365", {"NEWSLETTER_SMTP_TOKEN_COMMAND": "get-token"}, "xoauth2"),
        ("google-workspace", {"NEWSLETTER_SMTP_PASSWORD": "app-password"}, "password"),
        ("google-workspace", {"NEWSLETTER_SMTP_TOKEN_COMMAND": "oama access a@example.org"}, "xoauth2"),
        ("amazon-ses:eu-west-1", {}, "password"),
        ("brevo", {"NEWSLETTER_SMTP_AUTH": "xoauth2", "NEWSLETTER_SMTP_TOKEN_COMMAND": "t"}, "xoauth2"),
    ],
)
def test_the_profiles_login_kind_gives_way_to_any_explicit_login_setting(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, relay: str, env: dict[str, str], kind: str
) -> None:
    from newsletter.config.login import login_kind

    assert login_kind(_settings(monkeypatch, NEWSLETTER_RELAY=relay, **env)) == kind


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "office365",
            "write one of microsoft365, google-workspace, amazon-ses:<region>, brevo, mailgun:<region>",
        ),
        ("amazon-ses", "write amazon-ses and the region of your SES account, e.g. amazon-ses:eu-west-1"),
        ("amazon-ses:europe", "write amazon-ses and the region of your SES account"),
        ("mailgun:de", "write mailgun:eu or mailgun:us"),
        ("brevo:eu", "write one of microsoft365"),
    ],
)
def test_a_bad_relay_name_is_one_line_naming_the_names_there_are_and_exit_2(
    project_dir: Path, value: str, says: str
) -> None:
    for args in (("send", ISSUE, "--dry-run"), ("config",)):
        result = run(*args, cwd=project_dir, env=clean_environment(NEWSLETTER_RELAY=value))
        assert result.returncode == 2, output(result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"NEWSLETTER_RELAY={value!r}: {says}" in lines[0]
    assert not (project_dir / "outbox").exists()


def test_microsoft365_without_a_token_source_says_what_to_set_in_one_line(project_dir: Path) -> None:
    audience_csv(project_dir / "leden.csv", [f"lid{i:03d}@example.org" for i in range(1, 301)])
    env = clean_environment(
        NEWSLETTER_RECIPIENTS="leden.csv",
        NEWSLETTER_RELAY="microsoft365",
        NEWSLETTER_SMTP_USERNAME="nieuwsbrief@example.org",
        NEWSLETTER_FROM="POM Limburg <nieuwsbrief@example.org>",
        NEWSLETTER_UNSUBSCRIBE_URL="https://example.org/uitschrijven?token={token}",
        NEWSLETTER_SECRET=SECRET,
    )
    result = run("send", ISSUE, "--test", "me@example.org", cwd=project_dir, env=env)
    assert result.returncode == 2, output(result)
    assert result.stderr.strip() == (
        "error: NEWSLETTER_RELAY=microsoft365 (OAuth2 login, xoauth2) needs a token: set "
        "NEWSLETTER_SMTP_TOKEN_COMMAND, or NEWSLETTER_OAUTH_TENANT, NEWSLETTER_OAUTH_CLIENT_ID, "
        "NEWSLETTER_OAUTH_CLIENT_SECRET for Microsoft 365, or NEWSLETTER_SMTP_PASSWORD where password "
        "login is allowed (see .env.example)"
    )


def test_a_send_through_the_ses_profile_stops_at_its_daily_quota_while_the_explicit_host_wins(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = Cli(project_dir, smtp_server, SECRET, extra={"NEWSLETTER_RELAY": "amazon-ses:eu-west-1"})
    emails = [f"lid{i:03d}@example.org" for i in range(1, 301)]
    cli.recipients(emails)
    # The sandbox's 1/second would take five minutes: the rate is overridden, the daily 200 is not.
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes", NEWSLETTER_RATE="1000/second")
    assert result.returncode == 1, output(result)  # some are still due
    assert "the daily limit of 200 is reached; 100 still due" in result.stdout
    delivered = smtp_server.recorder.copies()
    assert len(delivered) == 200
    assert set(delivered.values()) == {1}
    assert set(delivered) == set(emails[:200])
    # Connections are recycled after the default 100 messages: the profile documents no other figure.
    assert sorted(smtp_server.recorder.sessions().values()) == [100, 100]
    statuses = [row.status for row in cli.rows()]
    assert statuses.count("sent") == 200
    assert statuses.count("pending") == 100


def test_a_send_through_microsoft365_with_an_explicit_password_logs_in_with_it_over_three_connections(
    project_dir: Path, tls_server: SMTPServer
) -> None:
    cli = Cli(project_dir, tls_server, SECRET, extra={"NEWSLETTER_RELAY": "microsoft365"})
    cli.recipients([f"lid{i:03d}@example.org" for i in range(1, 301)])
    result = cli.run(
        "send", ISSUE, "--recipients", "leden.csv", "--yes",
        NEWSLETTER_RATE="1000/second", NEWSLETTER_MESSAGES_PER_CONNECTION="50",
    )  # fmt: skip
    assert result.returncode == 0, output(result)
    assert len(tls_server.recorder.copies()) == 300
    # 300 messages, at most 50 a connection, over the profile's three connections. How the three
    # share the work depends on which one is free first, so only the ceiling and the total are fixed.
    sessions = sorted(tls_server.recorder.sessions().values())
    assert max(sessions) <= 50, sessions
    assert sum(sessions) == 300
    assert len(sessions) >= 6


def test_the_dry_run_and_the_live_send_say_the_pace_the_profile_sets_and_how_long_it_takes(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = Cli(project_dir, smtp_server, SECRET, extra={"NEWSLETTER_RELAY": "microsoft365"})
    cli.recipients([f"lid{i:03d}@example.org" for i in range(1, 301)])
    # 300 messages at 30 a minute: 299 intervals of 2 s, about 10 minutes.
    pace = (
        "at most 30/minute over 3 connections: 300 messages take about 10 min "
        "(NEWSLETTER_RELAY's profile microsoft365)"
    )
    dry = cli.run("send", ISSUE, "--recipients", "leden.csv", "--dry-run", NEWSLETTER_SMTP_AUTH="password")
    assert dry.returncode == 0, output(dry)
    assert f"a real send goes {pace}" in dry.stdout
    # The live send says the same before it starts; 1 message is let through by a daily limit of 1.
    # The rate is given explicitly now; the connections still come from the profile.
    live = cli.run(
        "send", ISSUE, "--recipients", "leden.csv", "--yes",
        NEWSLETTER_SMTP_AUTH="password", NEWSLETTER_DAILY_LIMIT="1", NEWSLETTER_RATE="30/minute",
    )  # fmt: skip
    shown = "pace:       at most 30/minute over 3 connections: 1 message takes about 1 s (NEWSLETTER_RELAY's"
    assert shown in live.stdout, output(live)


def test_google_workspace_without_a_token_says_a_token_command_or_an_app_password(
    project_dir: Path, smtp_server: SMTPServer
) -> None:
    cli = Cli(project_dir, smtp_server, SECRET, extra={"NEWSLETTER_RELAY": "google-workspace"})
    cli.recipients([f"lid{i:03d}@example.org" for i in range(1, 301)])
    result = cli.run(
        "send", ISSUE, "--recipients", "leden.csv", "--yes", NEWSLETTER_SMTP_USERNAME="nb@example.org"
    )
    assert result.returncode == 2, output(result)
    (line,) = result.stderr.strip().splitlines()
    assert "NEWSLETTER_SMTP_TOKEN_COMMAND" in line
    assert "app password" in line
    assert "Microsoft" not in line  # Entra ID is no way into a Google mailbox
    assert smtp_server.recorder.connections == 0
