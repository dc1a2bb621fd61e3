"""`newsletter doctor --no-send`'s DNS lines, run as a person runs it, against a DNS server on 127.0.0.1
serving a test zone (NEWSLETTER_DNS_SERVER) and aiosmtpd as the relay: a correctly set-up domain gives
only ok lines and exit 0; a problem is an error line with its fix and exit 1; a mistake in the settings
is one line and exit 2, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output
from dns_server import RunningDNS, dns_server
from dns_zones import KEY_NAME, KEY_TARGET, MICROSOFT, SELECTOR, good_zone, key_file, private_key

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

_LINE = re.compile(r"\s*(ok|warning|error)  DNS: (.*)")


@pytest.fixture
def dns() -> Iterator[RunningDNS]:
    with dns_server(good_zone()) as running:
        yield running


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer, dns: RunningDNS) -> Cli:
    # An explicit password login keeps the microsoft365 profile from asking for OAuth2 settings.
    settings = {
        "NEWSLETTER_RELAY": "microsoft365",
        "NEWSLETTER_SMTP_AUTH": "password",
        "NEWSLETTER_DKIM_SELECTOR": SELECTOR,
        "NEWSLETTER_DNS_SERVER": dns.address,
    }
    return Cli(project_dir, smtp_server, "doctor-secret", settings)


def dns_lines(text: str) -> list[tuple[str, str]]:
    """(level, what) of each DNS finding printed."""
    return [(m[1], m[2]) for line in text.splitlines() if (m := _LINE.fullmatch(line))]


def fix_after(text: str, what: str) -> str:
    """The fix printed under the finding that holds `what`."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if what in line)
    return lines[at + 1].strip().removeprefix("fix: ")


def test_a_correctly_set_up_domain_gives_only_ok_dns_lines_and_exit_0(cli: Cli) -> None:
    result = cli.run("doctor", "--no-send")
    shown = output(result)
    assert result.returncode == 0, shown
    lines = dns_lines(result.stdout)
    assert [level for level, _ in lines] == ["ok"] * 5, shown
    assert (
        f"SPF of example.org (the From domain, also the envelope sender's): includes {MICROSOFT} "
        "for Microsoft 365" in [what for _, what in lines]
    )
    assert f"DKIM key {KEY_NAME} (a CNAME to {KEY_TARGET}): RSA, 2048 bits" in [what for _, what in lines]
    assert "Traceback" not in shown


def test_each_problem_is_an_error_line_with_its_fix_and_exit_1(cli: Cli, dns: RunningDNS) -> None:
    dns.zone["example.org"]["TXT"] = ["v=spf1 include:_spf.google.com +all"]
    dns.zone["_spf.google.com"] = {"TXT": ["v=spf1 ip4:35.190.247.0/24 -all"]}
    del dns.zone["_dmarc.example.org"]
    dns.zone[KEY_TARGET]["TXT"] = ["v=DKIM1; k=rsa; p="]
    result = cli.run("doctor", "--no-send")
    shown = result.stdout
    assert result.returncode == 1, output(result)
    errors = [what for level, what in dns_lines(shown) if level == "error"]
    assert len(errors) == 4, shown
    assert fix_after(shown, f"does not include {MICROSOFT}") == (
        f"add include:{MICROSOFT} before the all in the TXT record at example.org"
    )
    assert "end the TXT record at example.org in -all or ~all" in fix_after(shown, "+all")
    assert 'add a TXT record at _dmarc.example.org: "v=DMARC1; p=none;' in fix_after(
        shown, "DMARC of example.org"
    )
    assert KEY_NAME in fix_after(shown, "the key is revoked")


def test_spf_is_checked_on_the_bounce_addresss_domain(cli: Cli, dns: RunningDNS) -> None:
    result = cli.run("doctor", "--no-send", NEWSLETTER_BOUNCE_ADDRESS="bounces+{token}@bounces.example.org")
    assert result.returncode == 1, output(result)
    assert (
        "error",
        "SPF of bounces.example.org (the envelope sender's domain, NEWSLETTER_BOUNCE_ADDRESS: receivers "
        "check SPF here): no SPF record; Gmail, Yahoo and Outlook.com refuse or junk bulk mail without one",
    ) in dns_lines(result.stdout)


def test_without_a_profile_the_smtp_host_is_looked_for_in_the_spf(cli: Cli, dns: RunningDNS) -> None:
    dns.zone["example.org"]["TXT"] = ["v=spf1 ip4:127.0.0.0/8 -all"]
    result = cli.run("doctor", "--no-send", NEWSLETTER_RELAY="")
    assert result.returncode == 0, output(result)
    assert (
        "ok",
        "SPF of example.org (the From domain, also the envelope sender's): lists NEWSLETTER_SMTP_HOST "
        "127.0.0.1 (127.0.0.1)",
    ) in dns_lines(result.stdout)


def test_a_dkim_key_that_is_not_the_key_files_public_half_is_an_error(cli: Cli, tmp_path: Path) -> None:
    mine = key_file(tmp_path / "dkim.pem", private_key())
    assert cli.run("doctor", "--no-send", NEWSLETTER_DKIM_KEY_FILE=str(mine)).returncode == 0
    other = key_file(tmp_path / "other.pem", private_key(1024))
    result = cli.run("doctor", "--no-send", NEWSLETTER_DKIM_KEY_FILE=str(other))
    assert result.returncode == 1, output(result)
    assert "the key in DNS is not the file's public half" in result.stdout
    assert other.read_text().splitlines()[1] not in output(result)


def test_a_failing_and_a_silent_dns_server_are_named_without_a_traceback(cli: Cli, dns: RunningDNS) -> None:
    dns.failing.add("example.org")
    result = cli.run("doctor", "--no-send")
    assert result.returncode == 1, output(result)
    assert (
        f"could not check SPF of example.org (the From domain, also the envelope sender's): the DNS "
        f"server {dns.address} answered SERVFAIL (the TXT record of example.org)" in result.stdout
    )
    assert "the DNS hosting of example.org fails" in result.stdout
    dns.failing.clear()
    dns.silent.add("_dmarc.example.org")
    result = cli.run("doctor", "--no-send")
    assert result.returncode == 1, output(result)
    assert (
        "error",
        f"could not check DMARC of example.org: the DNS server {dns.address} did not answer (the TXT "
        "record of _dmarc.example.org)",
    ) in dns_lines(result.stdout)
    assert "Traceback" not in output(result)


def test_a_dns_server_that_never_answers_exits_1_and_the_summary_says_nothing_was_checked(
    cli: Cli, dns: RunningDNS
) -> None:
    dns.silent.update(dns.zone)
    result = cli.run("doctor", "--no-send")
    assert result.returncode == 1, output(result)
    lines = dns_lines(result.stdout)
    assert [level for level, _ in lines] == ["error"] * 4, result.stdout
    assert all(what.startswith("could not check ") for _, what in lines)
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("4 error(s), "), summary
    assert "4 of them NOT checked (a lookup failed): this is no pass" in summary


def test_a_dns_server_given_by_host_name_is_looked_up_and_asked(cli: Cli, dns: RunningDNS) -> None:
    # localhost comes from /etc/hosts: the system's resolver answers it without asking any DNS server.
    result = cli.run("doctor", "--no-send", NEWSLETTER_DNS_SERVER=f"localhost:{dns.port}")
    assert result.returncode == 0, output(result)
    assert [level for level, _ in dns_lines(result.stdout)] == ["ok"] * 5, result.stdout
    assert ("example.org", "TXT") in dns.resolver.asked


def test_several_dns_servers_are_asked_in_turn_the_next_when_one_fails(cli: Cli, dns: RunningDNS) -> None:
    with dns_server({}) as broken:
        broken.failing.update(dns.zone)  # SERVFAIL for every name the good server knows
        alone = cli.run("doctor", "--no-send", NEWSLETTER_DNS_SERVER=broken.address)
        assert alone.returncode == 1, output(alone)
        listed = f"{broken.address}, {dns.address}"
        result = cli.run("doctor", "--no-send", NEWSLETTER_DNS_SERVER=listed)
    assert result.returncode == 0, output(result)
    assert [level for level, _ in dns_lines(result.stdout)] == ["ok"] * 5, result.stdout
    assert ("example.org", "TXT") in broken.resolver.asked


def test_a_selector_cname_to_microsoft_without_its_target_says_to_turn_dkim_signing_on(
    cli: Cli, dns: RunningDNS
) -> None:
    del dns.zone[KEY_TARGET]
    result = cli.run("doctor", "--no-send")
    assert result.returncode == 1, output(result)
    what = f"DKIM key {KEY_NAME} is a CNAME to {KEY_TARGET}, which has no key"
    assert ("error", f"{what}: Microsoft 365 does not sign for example.org yet") in dns_lines(result.stdout)
    fix = fix_after(result.stdout, what)
    assert fix.startswith("turn DKIM signing on for example.org in Microsoft Defender"), fix
    assert f"publishes the key at {KEY_TARGET}" in fix
    assert "publish the one TXT record" not in result.stdout


def test_the_settings_the_message_needs_are_one_line_before_any_dns_lookup(cli: Cli, dns: RunningDNS) -> None:
    result = cli.run("doctor", "--no-send", NEWSLETTER_UNSUBSCRIBE_URL="")
    assert result.returncode == 2, output(result)
    (line,) = result.stderr.strip().splitlines()
    assert "NEWSLETTER_UNSUBSCRIBE_URL" in line
    assert result.stdout == ""
    assert dns.resolver.asked == []


def test_one_spf_lookup_is_one_lookup(cli: Cli, dns: RunningDNS) -> None:
    dns.zone["example.org"]["TXT"] = ["v=spf1 ip4:127.0.0.0/8 include:spf.protection.outlook.com -all"]
    dns.zone["spf.protection.outlook.com"]["TXT"] = ["v=spf1 ip4:40.92.0.0/15 -all"]
    result = cli.run("doctor", "--no-send")
    assert result.returncode == 0, output(result)
    assert "(1 DNS lookup of 10)" in result.stdout
    assert "1 DNS lookups" not in result.stdout


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"NEWSLETTER_FROM": ""},
            "error: set NEWSLETTER_FROM (e.g. Newsletter <newsletter@example.org>): doctor checks its domain",
        ),
        (
            {"NEWSLETTER_DNS_SERVER": "127.0.0.1:dns"},
            "error: NEWSLETTER_DNS_SERVER='127.0.0.1:dns': write the DNS server's address",
        ),
        ({"NEWSLETTER_FROM": "nieuwsbrief"}, "error: NEWSLETTER_FROM='nieuwsbrief' is not an address"),
        (
            {"NEWSLETTER_DNS_SERVER": "127.0.0.1,"},
            "error: NEWSLETTER_DNS_SERVER='127.0.0.1,': write the DNS server's address, with a port after a "
            "colon if it is not 53, and a comma between servers",
        ),
    ],
)
def test_a_mistake_in_the_settings_is_one_line_and_exit_2(
    cli: Cli, settings: dict[str, str], line: str
) -> None:
    result = cli.run("doctor", "--no-send", **settings)
    assert result.returncode == 2, output(result)
    assert result.stderr.strip().startswith(line), output(result)
    assert len(result.stderr.strip().splitlines()) == 1
