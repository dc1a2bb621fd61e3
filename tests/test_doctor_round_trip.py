"""`newsletter doctor`'s round trip: one message through a local relay that DKIM-signs it as a
provider would, delivered into a real Dovecot, read back, taken out of the mailbox and checked."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, output
from dns_server import RunningDNS, dns_server
from doctor_setup import RELAY_DOMAIN, SELECTOR, SIGNED, UNSUBSCRIBE, Key, SigningRelay, make_key, zone
from dovecot import needs_dovecot

if TYPE_CHECKING:
    from dovecot import Dovecot
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server", "dovecot"]
pytestmark = needs_dovecot

SECRET = "doctor-round-trip-secret"
# What a receiver writes about a message that came without a signature.
UNSIGNED = "spf=pass smtp.mailfrom=example.org; dkim=none; dmarc=pass"


@pytest.fixture(scope="module")
def key() -> Key:
    return make_key()


@pytest.fixture(scope="module")
def running_dns(key: Key) -> Iterator[RunningDNS]:
    with dns_server(zone(key)) as server:
        yield server


@pytest.fixture
def dns(running_dns: RunningDNS, key: Key) -> RunningDNS:
    """The module's DNS server, serving the good zone again."""
    running_dns.zone.clear()
    running_dns.zone.update(zone(key))
    running_dns.failing.clear()
    running_dns.silent.clear()
    return running_dns


@pytest.fixture
def dns_address(dns: RunningDNS) -> str:
    return dns.address


def _relay(server: SMTPServer, relay: SigningRelay) -> None:
    def arrived(arrival: Arrival) -> None:
        relay(arrival.mail_from, arrival.data)

    server.recorder.on_arrival = arrived


def _doctor(
    project_dir: Path,
    server: SMTPServer,
    dovecot: Dovecot | None,
    dns_address: str,
    *args: str,
    **settings: str,
) -> tuple[int, str]:
    mailbox = dovecot.settings() if dovecot else {}
    cli = Cli(project_dir, server, SECRET, extra=mailbox)
    result = cli.run(
        "doctor",
        *args,
        **{"NEWSLETTER_DNS_SERVER": dns_address, "NEWSLETTER_DKIM_SELECTOR": SELECTOR, **settings},
    )
    return result.returncode, output(result)


def fix_after(shown: str, line: str) -> str:
    """The fix printed under `line`."""
    lines = [each.strip() for each in shown.splitlines()]
    return lines[lines.index(line) + 1].removeprefix("fix: ")


def _round_trip(shown: str) -> list[str]:
    return [line.strip() for line in shown.splitlines() if "round trip:" in line]


def _doctor_mail(dovecot: Dovecot, folder: str = "INBOX") -> list[bytes]:
    return [data for _, _, data in dovecot.messages(folder) if b"newsletter doctor" in data]


def test_a_relay_that_signs_the_unsubscribe_headers_passes_and_the_copy_leaves_the_mailbox(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    relay = SigningRelay(key, lambda data: dovecot.append([data]))
    _relay(tls_server, relay)
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address, "--wait", "20")
    assert code == 0, shown
    lines = _round_trip(shown)
    assert all(line.startswith("ok") for line in lines), shown
    assert any(f"DKIM signature d=example.org s={SELECTOR} verifies" in line for line in lines), shown
    assert any("signs List-Unsubscribe and List-Unsubscribe-Post" in line for line in lines), shown
    assert any("SPF's domain, the Return-Path example.org, aligns" in line for line in lines), shown
    assert any("1 from other hops left aside" in line for line in lines), shown
    assert any("mx.example.org says dmarc=pass" in line for line in lines), shown
    (arrival,) = tls_server.recorder.messages
    assert arrival.rcpts == ("nieuwsbrief@example.org",)
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in arrival.data
    assert b"List-Id:" in arrival.data
    assert _doctor_mail(dovecot) == []
    assert len(_doctor_mail(dovecot, "Processed")) == 1


def test_a_signature_without_the_unsubscribe_headers_is_an_error_naming_list_unsubscribe_post(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    headers = tuple(h for h in SIGNED if h not in UNSUBSCRIBE)
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data]), headers=headers))
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address)
    assert code == 1, shown
    (error,) = [line for line in _round_trip(shown) if line.startswith("error")]
    assert "leaves List-Unsubscribe, List-Unsubscribe-Post out of what it signs (h=)" in error
    assert "Gmail shows no unsubscribe button" in error
    assert "NEWSLETTER_DKIM_KEY_FILE" in shown
    assert _doctor_mail(dovecot) == []


def test_a_signature_of_the_relays_own_domain_does_not_align_with_from(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    relay = SigningRelay(
        key,
        lambda data: dovecot.append([data]),
        domain=RELAY_DOMAIN,
        return_path=f"bounce-1234@{RELAY_DOMAIN}",
        results=f"spf=pass smtp.mailfrom={RELAY_DOMAIN}; dkim=pass header.d={RELAY_DOMAIN}; dmarc=fail",
    )
    _relay(tls_server, relay)
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address)
    assert code == 1, shown
    lines = _round_trip(shown)
    assert any(f"DKIM signature d={RELAY_DOMAIN} s={SELECTOR} verifies" in line for line in lines), shown
    assert any(
        line.startswith("error") and f"only the relay's own domain signs ({RELAY_DOMAIN})" in line
        for line in lines
    ), shown
    assert any("550 5.7.515" in line for line in lines), shown
    assert any(line.startswith("warning") and f"the Return-Path {RELAY_DOMAIN}" in line for line in lines)
    assert any(line.startswith("error") and "says dmarc=fail" in line for line in lines), shown


KEY_NAME = f"{SELECTOR}._domainkey.example.org"
M365_TARGET = f"{SELECTOR}-example-org._domainkey.example.onmicrosoft.com"
ANOTHER_KEY = {"TXT": [make_key().public_record]}  # a key the relay does not sign with


@pytest.mark.parametrize(
    ("published", "said", "fix"),
    [
        (
            {"TXT": ["v=DKIM1; k=rsa; p="]},
            f"does not verify: DKIM key {KEY_NAME}: p= is empty: the key is revoked",
            f"publish the key your relay gives for selector {SELECTOR} at {KEY_NAME} again",
        ),
        (
            {"TXT": ["v=spf1 -all"]},
            f"does not verify: DKIM key {KEY_NAME}: no key published",
            f"publish the one TXT record your relay gives for selector {SELECTOR} at {KEY_NAME}",
        ),
        (
            {"CNAME": [M365_TARGET]},
            f"does not verify: DKIM key {KEY_NAME} is a CNAME to {M365_TARGET}, which has no key",
            "turn DKIM signing on for example.org in Microsoft Defender",
        ),
        (
            ANOTHER_KEY,
            f"does not verify: the key at {KEY_NAME} is published, but the signature does not match it",
            "something between the relay's signing and the mailbox changes the message",
        ),
    ],
    ids=["revoked", "no key", "cname without target", "another key"],
)
def test_a_signature_that_fails_says_why_the_key_or_the_message(
    project_dir: Path,
    tls_server: SMTPServer,
    dovecot: Dovecot,
    dns: RunningDNS,
    key: Key,
    published: dict[str, list[str]],
    said: str,
    fix: str,
) -> None:
    dns.zone[KEY_NAME] = published
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data])))
    code, shown = _doctor(project_dir, tls_server, dovecot, dns.address)
    assert code == 1, shown
    (line,) = [line for line in _round_trip(shown) if f"DKIM signature d=example.org s={SELECTOR}" in line]
    assert line.startswith("error"), shown
    assert said in line, shown
    # Only a key that is there and does not match leaves the message itself to blame.
    assert ("changed" in line) is (published == ANOTHER_KEY), line
    assert fix_after(shown, line).startswith(fix), shown
    assert any("no DKIM signature on the message verifies" in line for line in _round_trip(shown)), shown


def test_a_key_that_could_not_be_looked_up_is_not_blamed_on_the_message(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns: RunningDNS, key: Key
) -> None:
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data])))
    dns.failing.add(KEY_NAME)
    code, shown = _doctor(project_dir, tls_server, dovecot, dns.address)
    assert code == 1, shown
    (line,) = [line for line in _round_trip(shown) if f"DKIM signature d=example.org s={SELECTOR}" in line]
    assert line.startswith("error"), shown
    assert (
        f"could not be verified: could not check its key {KEY_NAME}: the DNS server {dns.address} answered "
        "SERVFAIL" in line
    )
    assert "changed" not in line
    assert "NOT checked" in shown.strip().splitlines()[-1]


def test_a_signature_broken_on_the_way_says_the_body_changed_after_signing(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data]), tamper=True))
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address)
    assert code == 1, shown
    lines = _round_trip(shown)
    (line,) = [line for line in lines if line.startswith("error") and "does not verify" in line]
    assert "the body changed after signing" in line, shown
    assert "a footer or disclaimer rule" in fix_after(shown, line)
    assert any("no DKIM signature on the message verifies" in line for line in lines), shown


def test_a_selector_without_a_key_while_the_relay_signs_with_another_names_the_one_to_set(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data])))
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address, NEWSLETTER_DKIM_SELECTOR="s2")
    assert code == 1, shown  # the DNS part found no key at s2
    assert "DKIM key s2._domainkey.example.org: no key published" in shown
    (line,) = [line for line in _round_trip(shown) if line.startswith("warning")]
    assert line.endswith(
        f"NEWSLETTER_DKIM_SELECTOR=s2 has no usable key at s2._domainkey.example.org, but the relay signs "
        f"with s={SELECTOR}, which verifies"
    )
    assert fix_after(shown, line).startswith(f"set NEWSLETTER_DKIM_SELECTOR={SELECTOR}")


def test_a_message_that_never_arrives_is_an_error_that_says_where_to_look(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str
) -> None:
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address, "--wait", "1")
    assert code == 1, shown
    last = _round_trip(shown)[-1]
    assert last.startswith("error"), shown
    assert "did not arrive in INBOX on 127.0.0.1" in last
    assert "spam folder" in shown
    assert len(tls_server.recorder.messages) == 1


def test_without_a_bounce_mailbox_nothing_is_sent_and_the_settings_are_named(
    project_dir: Path, tls_server: SMTPServer, dns_address: str
) -> None:
    code, shown = _doctor(project_dir, tls_server, None, dns_address)
    assert code == 0, shown
    (line,) = _round_trip(shown)
    assert line.startswith("warning")
    assert "nothing was sent" in line
    assert "NEWSLETTER_IMAP_HOST" in shown
    assert "NEWSLETTER_MAILDIR" in shown
    assert tls_server.recorder.messages == []


def test_an_unsigned_copy_within_from_s_own_domain_suggests_an_outside_mailbox(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data]), sign=False, results=UNSIGNED))
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address)
    assert code == 0, shown
    assert "does not sign mail delivered inside the organisation" in shown
    assert "run doctor --to ADDRESS with a mailbox outside the organisation" in shown


def test_to_sends_the_round_trip_to_that_address_and_an_unsigned_copy_there_is_an_error(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data]), sign=False, results=UNSIGNED))
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address, "--to", "lezer@example.com")
    assert code == 1, shown
    assert "RCPT TO:<lezer@example.com> accepted" in shown
    assert "came back without a DKIM signature: Gmail and Yahoo require one" in shown
    (arrival,) = tls_server.recorder.messages
    assert arrival.rcpts == ("lezer@example.com",)


def test_a_bounce_address_with_a_token_is_where_the_round_trip_goes(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data])))
    bounces = {"NEWSLETTER_BOUNCE_ADDRESS": "bounces+{token}@example.org"}
    code, shown = _doctor(project_dir, tls_server, dovecot, dns_address, **bounces)
    assert code == 0, shown
    (arrival,) = tls_server.recorder.messages
    (rcpt,) = arrival.rcpts
    assert rcpt.startswith("bounces+")
    assert arrival.mail_from.startswith("bounces+")
    assert rcpt != "bounces+{token}@example.org"


def test_the_tools_own_signature_passes_where_the_relay_signs_only_with_its_domain(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, dns_address: str, key: Key
) -> None:
    # A relay that signs as itself and leaves the unsubscribe headers out, as many do: with
    # NEWSLETTER_DKIM_KEY_FILE the message already carries our aligned signature when it leaves.
    headers = tuple(h for h in SIGNED if h not in UNSUBSCRIBE)
    relay = SigningRelay(key, lambda data: dovecot.append([data]), domain=RELAY_DOMAIN, headers=headers)
    _relay(tls_server, relay)
    key_file = project_dir / "dkim.pem"
    key_file.write_bytes(key.private_pem)
    code, shown = _doctor(
        project_dir, tls_server, dovecot, dns_address, "--wait", "20", NEWSLETTER_DKIM_KEY_FILE=str(key_file)
    )
    assert code == 0, shown
    lines = _round_trip(shown)
    assert any(f"DKIM signature d=example.org s={SELECTOR} verifies" in line for line in lines), shown
    assert any(f"DKIM signature d={RELAY_DOMAIN} s={SELECTOR} verifies" in line for line in lines), shown
    assert any("signs List-Unsubscribe and List-Unsubscribe-Post" in line for line in lines), shown
    assert "error" not in "\n".join(lines)
    (arrival,) = tls_server.recorder.messages
    assert arrival.data.startswith(b"DKIM-Signature:")


def test_a_published_key_of_another_kind_than_the_signature_is_a_finding_not_a_crash(
    project_dir: Path, tls_server: SMTPServer, dovecot: Dovecot, key: Key
) -> None:
    # The relay signs rsa-sha256, the selector publishes an Ed25519 key: PyNaCl refuses the bytes.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    other = zone(key)
    other[f"{SELECTOR}._domainkey.example.org"] = {
        "TXT": [f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"]
    }
    _relay(tls_server, SigningRelay(key, lambda data: dovecot.append([data])))
    with dns_server(other) as server:
        code, shown = _doctor(project_dir, tls_server, dovecot, server.address, "--wait", "20")
    assert code == 1, shown
    assert "Traceback" not in shown
    assert any("is not of the signature's kind" in line for line in _round_trip(shown)), shown
    # The run reached its summary line, as every run must.
    assert "error(s)" in shown.strip().splitlines()[-1]
