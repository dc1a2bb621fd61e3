"""The doctor's DNS checks as a library, against a DNS server on 127.0.0.1 serving a test zone: a
correctly set-up domain passes, and each problem that makes Gmail, Yahoo or Outlook.com refuse or hide
the mail is found, with the record to add or change and where."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from dns_server import RunningDNS, dns_server
from dns_zones import (
    KEY_NAME,
    KEY_TARGET,
    MICROSOFT,
    SELECTOR,
    dkim_record,
    good_zone,
    key_file,
    private_key,
    short_key,
)

from newsletter.composing import dkim as signing
from newsletter.doctor.alignment import organisational_domain
from newsletter.doctor.dns import DnsSetup, dns_findings
from newsletter.doctor.findings import Finding, Level
from newsletter.doctor.spf import Relay
from newsletter.doctor.spf_record import parse

M365 = Relay("Microsoft 365", (MICROSOFT,), "smtp.office365.com")


@pytest.fixture(scope="module")
def running() -> Iterator[RunningDNS]:
    with dns_server({}) as started:
        yield started


@pytest.fixture
def server(running: RunningDNS) -> RunningDNS:
    """The module's DNS server, serving the good zone again (stopping a server takes a second)."""
    running.zone.clear()
    running.zone.update(good_zone())
    running.failing.clear()
    running.silent.clear()
    running.resolver.asked.clear()
    return running


# An Ed25519 public key as a DKIM record carries it: the 32 raw bytes in base64.
ED25519_P = base64.b64encode(
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()


def check(server: RunningDNS, **changes: object) -> list[Finding]:
    values: dict[str, object] = {
        "from_domain": "example.org",
        "envelope_domain": "example.org",
        "relay": M365,
        "dkim_selector": SELECTOR,
        "dns_server": server.address,
        **changes,
    }
    return dns_findings(DnsSetup(**values), timeout=1.0)  # type: ignore[arg-type]


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level is not Level.OK]


def one(findings: list[Finding], level: Level, text: str) -> Finding:
    """The one finding of `level` whose text holds `text`; it must have a fix."""
    found = [f for f in findings if f.level is level and text in f.what]
    assert len(found) == 1, [(f.level, f.what) for f in findings]
    assert found[0].fix
    return found[0]


def spf(server: RunningDNS, record: str, domain: str = "example.org") -> None:
    server.zone.setdefault(domain, {})["TXT"] = [record]


def test_a_correctly_set_up_domain_passes_with_only_ok_findings(server: RunningDNS) -> None:
    findings = check(server)
    assert problems(findings) == []
    shown = "\n".join(f.what for f in findings)
    assert f"includes {MICROSOFT} for Microsoft 365" in shown
    assert "p=reject" in shown
    assert f"DKIM key {KEY_NAME} (a CNAME to {KEY_TARGET}): RSA, 2048 bits" in shown
    assert "MX example-org.mail.protection.outlook.com" in shown


def test_no_spf_record_is_an_error_that_gives_the_record_with_the_relays_include(server: RunningDNS) -> None:
    server.zone["example.org"]["TXT"] = ["google-site-verification=abc"]
    finding = one(check(server), Level.ERROR, "no SPF record")
    assert finding.fix == f'add a TXT record at example.org: "v=spf1 include:{MICROSOFT} -all"'


def test_two_spf_records_are_a_permerror(server: RunningDNS) -> None:
    server.zone["example.org"]["TXT"] = [f"v=spf1 include:{MICROSOFT} -all", "v=spf1 mx -all"]
    finding = one(check(server), Level.ERROR, "2 v=spf1 TXT records")
    assert "merge them into one TXT record at example.org" in str(finding.fix)


def _chain(server: RunningDNS, lookups: int) -> None:
    """example.org's SPF costing `lookups` DNS lookups through includes nested five deep."""
    spf(server, f"v=spf1 include:{MICROSOFT} include:n1.example.org -all")
    left = lookups - 2  # the two includes above
    for depth in range(1, 6):
        terms = ["a:mail.example.org"] * min(left, 1 if depth < 5 else left)
        left -= len(terms)
        nested = f" include:n{depth + 1}.example.org" if depth < 5 else ""
        left -= bool(nested)
        spf(server, " ".join(["v=spf1", *terms]) + nested + " -all", f"n{depth}.example.org")
    server.zone["mail.example.org"] = {"A": ["192.0.2.25"]}


def test_eleven_lookups_through_nested_includes_are_an_error_and_ten_are_fine(server: RunningDNS) -> None:
    _chain(server, 11)
    finding = one(check(server), Level.ERROR, "11 DNS lookups through its includes")
    assert "include:n1.example.org 10" in finding.what
    assert "until 10 lookups are left" in str(finding.fix)
    _chain(server, 10)
    findings = check(server)
    assert problems(findings) == []
    assert any("(10 DNS lookups of 10)" in f.what for f in findings)


def test_more_than_two_void_lookups_are_an_error_naming_them(server: RunningDNS) -> None:
    spf(server, f"v=spf1 include:{MICROSOFT} a:old1.example.org mx:old2.example.org -all")
    assert problems(check(server)) == []
    spf(server, f"v=spf1 include:{MICROSOFT} a:old1.example.org mx:old2.example.org a:old3.example.org -all")
    finding = one(check(server), Level.ERROR, "3 void lookups")
    assert "a:old1.example.org, mx:old2.example.org, a:old3.example.org" in finding.what


def test_a_missing_relay_include_is_an_error_naming_the_include_to_add(server: RunningDNS) -> None:
    spf(server, "v=spf1 include:_spf.google.com -all")
    server.zone["_spf.google.com"] = {"TXT": ["v=spf1 ip4:35.190.247.0/24 -all"]}
    finding = one(check(server), Level.ERROR, f"does not include {MICROSOFT}")
    assert finding.fix == f"add include:{MICROSOFT} before the all in the TXT record at example.org"


def test_one_of_a_profiles_includes_is_enough(server: RunningDNS) -> None:
    brevo = Relay("Brevo", ("spf.brevo.com", "spf.sendinblue.com"), "smtp-relay.brevo.com")
    server.zone["spf.sendinblue.com"] = {"TXT": ["v=spf1 ip4:185.41.28.0/22 -all"]}
    spf(server, "v=spf1 include:spf.sendinblue.com -all")
    assert problems(check(server, relay=brevo)) == []
    spf(server, "v=spf1 -all")
    finding = one(check(server, relay=brevo), Level.ERROR, "does not include spf.brevo.com")
    assert finding.fix == "add include:spf.brevo.com before the all in the TXT record at example.org"


def test_the_relays_include_is_found_through_another_include_and_a_redirect(server: RunningDNS) -> None:
    spf(server, "v=spf1 redirect=_spf.example.org")
    spf(server, f"v=spf1 include:{MICROSOFT} ~all", "_spf.example.org")
    assert problems(check(server)) == []


@pytest.mark.parametrize(
    ("ending", "level", "text"),
    [
        ("+all", Level.ERROR, "lets anyone send as example.org"),
        ("all", Level.ERROR, "lets anyone send as example.org"),
        ("?all", Level.WARNING, "?all says nothing"),
        ("", Level.WARNING, "no all and no redirect="),
    ],
)
def test_how_the_record_ends_decides_about_strangers(
    server: RunningDNS, ending: str, level: Level, text: str
) -> None:
    spf(server, f"v=spf1 include:{MICROSOFT} {ending}".strip())
    finding = one(check(server), level, text)
    assert "at example.org in ~all" in str(finding.fix) or "in -all or ~all" in str(finding.fix)


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("ip4:192.0.2.300", "'192.0.2.300' is not an IPv4 address"),
        ("ip4:192.0.2.0/33", "is not an IPv4 address or network"),
        ("ip6:2001:db8::/129", "is not an IPv6 address or network"),
        ("inclde:spf.example.com", "not an SPF mechanism"),
        ("a:mail.example.org/24//200", "a CIDR length is at most"),
        ("include:", "include needs a domain"),
        ("include.example.com", "include needs a domain"),
    ],
)
def test_syntax_errors_are_permerrors(server: RunningDNS, term: str, text: str) -> None:
    spf(server, f"v=spf1 {term} include:{MICROSOFT} -all")
    finding = one(check(server), Level.ERROR, text)
    assert "receivers treat the record as a permerror" in finding.what


def test_an_unknown_modifier_is_ignored_by_receivers_and_a_ptr_is_deprecated(server: RunningDNS) -> None:
    spf(server, f"v=spf1 ptr include:{MICROSOFT} redirct=_spf.example.org -all")
    findings = check(server)
    assert "correct the spelling" in str(one(findings, Level.WARNING, "redirct=_spf.example.org").fix)
    one(findings, Level.WARNING, "uses ptr")
    assert not [f for f in findings if f.level is Level.ERROR]


def test_spf_is_checked_on_the_envelope_senders_domain_and_the_relay_include_asked_there(
    server: RunningDNS,
) -> None:
    spf(server, "v=spf1 mx -all", "bounces.example.org")
    server.zone["bounces.example.org"]["MX"] = ["10 mx.example.org"]
    server.zone["mx.example.org"] = {"A": ["192.0.2.10"]}
    findings = check(server, envelope_domain="bounces.example.org")
    finding = one(findings, Level.ERROR, f"does not include {MICROSOFT}")
    assert finding.what.startswith("SPF of bounces.example.org (the envelope sender's domain")
    assert "receivers check SPF here" in finding.what
    assert [f.level for f in findings if f.what.startswith("SPF of example.org")] == [Level.OK]


def test_without_a_profile_the_smtp_hosts_address_is_checked_as_a_warning_only(server: RunningDNS) -> None:
    server.zone["smtp.example.net"] = {"A": ["192.0.2.25"]}
    spf(server, "v=spf1 ip4:192.0.2.0/24 -all")
    relay = Relay(host="smtp.example.net")
    assert problems(check(server, relay=relay)) == []
    spf(server, "v=spf1 ip4:198.51.100.0/24 -all")
    finding = one(check(server, relay=relay), Level.WARNING, "NEWSLETTER_SMTP_HOST=smtp.example.net")
    assert "(192.0.2.25) is not among the record's ip4/ip6/a/mx" in finding.what
    assert "NEWSLETTER_RELAY" in str(one(check(server, relay=Relay()), Level.WARNING, "no relay is set").fix)


def test_no_dmarc_record_is_an_error_with_the_record_to_add(server: RunningDNS) -> None:
    del server.zone["_dmarc.example.org"]
    finding = one(check(server), Level.ERROR, "no record at _dmarc.example.org")
    assert "Gmail, Yahoo and Outlook.com refuse bulk mail" in finding.what
    assert 'add a TXT record at _dmarc.example.org: "v=DMARC1; p=none; rua=mailto:dmarc@example.org"' in str(
        finding.fix
    )


def test_a_subdomain_from_falls_back_to_the_organisational_domains_record_and_its_sp(
    server: RunningDNS,
) -> None:
    server.zone["news.example.org"] = server.zone.pop("example.org")
    server.zone["_dmarc.example.org"]["TXT"] = ["v=DMARC1; p=reject; sp=none; rua=mailto:dmarc@example.org"]
    findings = check(
        server, from_domain="news.example.org", envelope_domain="news.example.org", relay=Relay()
    )
    finding = one(findings, Level.WARNING, "sp=none meets Gmail's and Yahoo's requirement")
    assert finding.what.startswith("DMARC of news.example.org (_dmarc.example.org)")
    assert "sp=quarantine" in str(finding.fix)


def test_p_none_works_but_protects_nobody_and_says_how_to_tighten(server: RunningDNS) -> None:
    server.zone["_dmarc.example.org"]["TXT"] = ["v=DMARC1; p=none"]
    findings = check(server)
    assert "change p=none to p=quarantine, later p=reject" in str(one(findings, Level.WARNING, "p=none").fix)
    assert "rua=mailto:ADDRESS" in str(one(findings, Level.WARNING, "no rua=").fix)
    assert not [f for f in findings if f.level is Level.ERROR]


def test_two_dmarc_records_a_bad_policy_pct_and_strict_alignment(server: RunningDNS) -> None:
    server.zone["_dmarc.example.org"]["TXT"] = ["v=DMARC1; p=reject", "v=DMARC1; p=none"]
    one(check(server), Level.ERROR, "2 v=DMARC1 records at _dmarc.example.org")
    server.zone["_dmarc.example.org"]["TXT"] = ["v=DMARC1; p=block; rua=mailto:d@example.org"]
    one(check(server), Level.ERROR, "has no valid p=")
    server.zone["_dmarc.example.org"]["TXT"] = [
        "v=DMARC1; p=quarantine; pct=20; adkim=s; rua=mailto:d@example.org"
    ]
    findings = check(server)
    one(findings, Level.WARNING, "pct=20")
    one(findings, Level.WARNING, "d=example.org exactly")


def test_a_bounce_address_at_ses_custom_mail_from_domain_is_an_error(server: RunningDNS) -> None:
    # Amazon SES's custom MAIL FROM domain: its MX takes SES's feedback, no mailbox of ours.
    spf(server, "v=spf1 include:amazonses.com -all", "bounce.example.org")
    server.zone["bounce.example.org"]["MX"] = ["10 feedback-smtp.eu-west-1.amazonses.com"]
    server.zone["amazonses.com"] = {"TXT": ["v=spf1 ip4:54.240.0.0/18 -all"]}
    ses = Relay("Amazon SES (eu-west-1)", ("amazonses.com",), "email-smtp.eu-west-1.amazonaws.com")
    finding = one(
        check(server, envelope_domain="bounce.example.org", relay=ses), Level.ERROR, "its MX is Amazon SES's"
    )
    assert "set NEWSLETTER_BOUNCE_ADDRESS to an address of a mailbox at your own domain" in str(finding.fix)
    # The From domain's own MX is no such thing.
    assert problems(check(server)) == []


def test_a_dead_first_dns_server_of_a_list_leaves_the_next_its_time(server: RunningDNS) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))  # takes the questions and never answers
        first = f"127.0.0.1:{dead.getsockname()[1]}"
        assert problems(check(server, dns_server=f"{first},{server.address}")) == []


def test_an_envelope_sender_of_another_domain_leaves_only_dkim_for_dmarc(server: RunningDNS) -> None:
    spf(server, f"v=spf1 include:{MICROSOFT} -all", "bounce.example.net")
    server.zone["bounce.example.net"]["MX"] = ["10 mx.example.net"]
    finding = one(check(server, envelope_domain="bounce.example.net"), Level.WARNING, "does not align")
    assert "NEWSLETTER_BOUNCE_ADDRESS at example.org" in str(finding.fix)


@pytest.mark.parametrize(
    ("record", "level", "text"),
    [
        ("v=DKIM1; k=rsa; p=", Level.ERROR, "p= is empty: the key is revoked"),
        (dkim_record(short_key(768)), Level.ERROR, "RSA, 768 bits; receivers ignore keys under 1024 bits"),
        (dkim_record(private_key(1024).public_key()), Level.WARNING, "RSA, 1024 bits; 2048 is recommended"),
        ("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQ!!", Level.ERROR, "p= is not base64"),
        ("v=DKIM1; k=rsa; p=TWFuIGlzIGRpc3Rpbmd1aXNoZWQ=", Level.ERROR, "p= is not an rsa public key"),
        (dkim_record(private_key().public_key(), " t=y;"), Level.WARNING, "t=y (testing)"),
        (f"v=DKIM1; k=ed25519; p={ED25519_P}", Level.WARNING, "Ed25519; receivers that do not check"),
        (
            dkim_record(private_key().public_key(), " h=sha1;"),
            Level.ERROR,
            "h=sha1 leaves out sha256, the only hash signatures use",
        ),
    ],
)
def test_a_bad_dkim_key_is_found_behind_the_cname(
    server: RunningDNS, record: str, level: Level, text: str
) -> None:
    server.zone[KEY_TARGET]["TXT"] = [record]
    finding = one(check(server), level, text)
    assert finding.what.startswith(f"DKIM key {KEY_NAME} (a CNAME to {KEY_TARGET})")
    assert KEY_NAME in str(finding.fix)


def test_a_weak_key_of_our_own_signing_says_to_make_one_for_the_key_file(
    server: RunningDNS, tmp_path: Path
) -> None:
    weak = private_key(1024)
    server.zone[KEY_TARGET]["TXT"] = [dkim_record(weak.public_key())]
    finding = one(
        check(server, dkim_key_file=key_file(tmp_path / "dkim.pem", weak)), Level.WARNING, "1024 bits"
    )
    assert "NEWSLETTER_DKIM_KEY_FILE" in str(finding.fix)
    assert "openssl genpkey" in str(finding.fix)
    assert "have the relay" not in str(finding.fix)


def test_a_selector_without_a_key_and_no_selector_at_all(server: RunningDNS) -> None:
    assert "correct NEWSLETTER_DKIM_SELECTOR=s2" in str(
        one(check(server, dkim_selector="s2"), Level.ERROR, "no key").fix
    )
    finding = one(check(server, dkim_selector=None), Level.WARNING, "the key could not be checked")
    assert "NEWSLETTER_DKIM_SELECTOR" in str(finding.fix)
    assert "selector1 and selector2" in str(finding.fix)
    assert "google" in str(finding.fix)


def test_no_key_in_dns_with_a_key_file_gives_the_record_to_publish(
    server: RunningDNS, tmp_path: Path
) -> None:
    mine = key_file(tmp_path / "dkim.pem", private_key())
    del server.zone[f"{SELECTOR}._domainkey.example.org"]
    server.zone[f"{SELECTOR}._domainkey.example.org"] = {"TXT": ["v=spf1 -all"]}
    finding = one(check(server, dkim_key_file=mine), Level.ERROR, "no key published")
    record = signing.dkim_record(signing.load_key(mine.read_bytes()))
    assert record.startswith("v=DKIM1; k=rsa; p=")
    assert finding.fix == (
        f'publish one TXT record at {SELECTOR}._domainkey.example.org: "{record}" (the public half of '
        "NEWSLETTER_DKIM_KEY_FILE)"
    )


def test_the_key_in_dns_must_be_the_public_half_of_the_key_file(server: RunningDNS, tmp_path: Path) -> None:
    mine = key_file(tmp_path / "dkim.pem", private_key())
    assert problems(check(server, dkim_key_file=mine)) == []
    other = key_file(tmp_path / "other.pem", private_key(1024))
    finding = one(check(server, dkim_key_file=other), Level.ERROR, "is not the file's public half")
    assert str(other) in finding.what
    secret = other.read_text().splitlines()[1]
    assert secret not in f"{finding.what} {finding.fix}"
    # The fix is the record to publish: the file's public half, as signing would need it.
    assert f'"{signing.dkim_record(signing.load_key(other.read_bytes()))}"' in str(finding.fix)
    (tmp_path / "broken.pem").write_text("not a key\n")
    one(
        check(server, dkim_key_file=tmp_path / "broken.pem"),
        Level.ERROR,
        "not an unencrypted PEM private key",
    )
    one(check(server, dkim_key_file=tmp_path / "missing.pem"), Level.ERROR, "the file cannot be read")


def test_a_from_domain_that_receives_no_mail(server: RunningDNS) -> None:
    del server.zone["example.org"]["MX"]
    finding = one(check(server), Level.ERROR, "has no MX nor address record")
    assert (
        finding.fix
        == "add an MX record at example.org naming the server that receives its mail (e.g. 10 mx.example.org)"
    )
    server.zone["example.org"]["MX"] = ["0 ."]
    one(check(server), Level.ERROR, "a null MX says example.org takes no mail")
    del server.zone["example.org"]["MX"]
    server.zone["example.org"]["A"] = ["192.0.2.80"]
    one(check(server), Level.WARNING, "no MX record, only an address record")


def test_a_failing_dns_server_is_an_error_naming_the_name_and_the_zone_to_fix(server: RunningDNS) -> None:
    server.failing.add("_dmarc.example.org")
    finding = one(check(server), Level.ERROR, "could not check DMARC of example.org")
    assert finding.what == (
        f"could not check DMARC of example.org: the DNS server {server.address} answered SERVFAIL "
        "(the TXT record of _dmarc.example.org)"
    )
    assert not finding.checked
    assert "the DNS hosting of _dmarc.example.org fails" in str(finding.fix)
    assert "NEWSLETTER_DNS_SERVER" in str(finding.fix)


def test_a_silent_dns_server_is_an_error_as_nothing_was_checked_and_the_other_checks_go_on(
    server: RunningDNS,
) -> None:
    server.silent.add(KEY_NAME)
    findings = check(server)
    finding = one(findings, Level.ERROR, "could not check DKIM of example.org")
    assert f"the DNS server {server.address} did not answer (the TXT record of {KEY_NAME})" in finding.what
    assert not finding.checked
    assert "check NEWSLETTER_DNS_SERVER" in str(finding.fix)
    assert [f.level for f in findings] == [Level.OK, Level.OK, Level.OK, Level.ERROR, Level.OK]
    assert [f.checked for f in findings] == [True, True, True, False, True]


def test_a_server_that_never_answers_leaves_every_check_an_error_not_a_pass(server: RunningDNS) -> None:
    server.silent.update(server.zone)
    findings = check(server)
    assert findings, "no finding at all"
    assert all(f.level is Level.ERROR and not f.checked for f in findings), [f.what for f in findings]
    checks = [f.what.split(":")[0] for f in findings]
    assert checks == [
        "could not check SPF of example.org (the From domain, also the envelope sender's)",
        "could not check DMARC of example.org",
        "could not check DKIM of example.org",
        "could not check whether example.org receives mail",
    ]


def test_spf_lookups_are_asked_once_even_when_two_checks_need_them(server: RunningDNS) -> None:
    check(server, envelope_domain="example.org")
    asked = server.resolver.asked
    assert asked.count(("example.org", "TXT")) == 1
    assert asked.count((MICROSOFT, "TXT")) == 1


def test_organisational_domains_without_a_public_suffix_list() -> None:
    assert organisational_domain("news.example.org") == "example.org"
    assert organisational_domain("mail.news.example.co.uk") == "example.co.uk"
    assert organisational_domain("example.org") == "example.org"


def test_a_record_parses_into_its_terms() -> None:
    record = parse("v=spf1 -a:mail.example.org/24//64 ~mx ip6:2001:db8::/32 exists:%{i}.rbl.example.org ?all")
    assert [(t.qualifier, t.name) for t in record.terms] == [
        ("-", "a"),
        ("~", "mx"),
        ("+", "ip6"),
        ("+", "exists"),
        ("?", "all"),
    ]
    assert (record.terms[0].domain, record.terms[0].cidr4, record.terms[0].cidr6) == (
        "mail.example.org",
        24,
        64,
    )
    assert record.terms[3].macro
    assert record.problems == ()


def test_a_dns_server_host_name_that_does_not_resolve_is_one_settings_error() -> None:
    import socket

    from newsletter.doctor.resolver import make_resolver
    from newsletter.errors import ConfigError

    def nowhere(host: str) -> list[str]:
        # The system's resolver, standing in: a test must never ask the machine's DNS.
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ConfigError) as raised:
        make_resolver("dns.example.org:5353", addresses=nowhere)
    assert str(raised.value).startswith(
        "NEWSLETTER_DNS_SERVER='dns.example.org:5353': the host name 'dns.example.org' does not resolve "
        "(Name or service not known)"
    )
    resolver = make_resolver("dns.example.org:5353, 192.0.2.53", addresses=lambda host: ["127.0.0.9", "::1"])
    assert [(n.address, n.port) for n in resolver.nameservers] == [  # type: ignore[union-attr]
        ("127.0.0.9", 5353),
        ("::1", 5353),
        ("192.0.2.53", 53),
    ]


def test_a_selector_cname_whose_target_is_missing_or_revoked_names_the_target(server: RunningDNS) -> None:
    target = "s1.dkim.mail.example.com"
    server.zone[KEY_NAME] = {"CNAME": [target]}
    finding = one(check(server), Level.ERROR, f"is a CNAME to {target}, which has no key")
    assert finding.what == f"DKIM key {KEY_NAME} is a CNAME to {target}, which has no key"
    assert str(finding.fix).startswith(f"the key lives at {target}, not at {KEY_NAME}")
    server.zone[target] = {"TXT": ["v=DKIM1; k=rsa; p="]}
    finding = one(check(server), Level.ERROR, "the key is revoked")
    assert finding.what.startswith(f"DKIM key {KEY_NAME} (a CNAME to {target})")
    assert finding.fix == (
        f"publish the key your relay gives for selector {SELECTOR} at {target} (where the CNAME {KEY_NAME} "
        "points) again"
    )
    server.zone[KEY_NAME] = {"CNAME": [KEY_TARGET]}
    server.zone[KEY_TARGET]["TXT"] = ["v=DKIM1; k=rsa; p="]
    fix = str(one(check(server), Level.ERROR, "the key is revoked").fix)
    assert fix.startswith("in Microsoft Defender"), fix
    assert f"publishes the key at {KEY_TARGET}, where the CNAME {KEY_NAME} points" in fix
