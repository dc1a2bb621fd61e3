"""DKIM signing by the tool: each composed message signed with an RSA 2048 or Ed25519 key verifies
with dkimpy against the key published in a DNS server on 127.0.0.1, and fails once a signed header or
the body is changed; the h= tag covers what Gmail and Outlook.com look at, From once more than it
occurs; the key file is read in every PEM form and refused, in words, when it cannot sign."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ENVELOPE, T0, people
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dkim_keys import ed25519_pem, pem_of, published, rsa_pem, signature_tags, verifies
from dns_server import dns_server

from newsletter.composing.dkim import DkimKey, KeyProblem, Signer, dkim_record, load_key, publishes
from newsletter.composing.message import Composer, Envelope
from newsletter.config.dkim import dkim_signer
from newsletter.delivering.staff_mail import Staff, mail_staff, staff_message
from newsletter.errors import ConfigError
from newsletter.model import Rendered
from newsletter.sending.memory import MemorySender

SELECTOR = "nl2026"
DOMAIN = "example.org"
REQUIRED = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "reply-to",
}
# A worthless 512-bit RSA key: cryptography no longer makes keys this small, receivers ignore them.
TINY_RSA = b"""-----BEGIN PRIVATE KEY-----
MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAqirHQp0qd/2PfRaw
yaFQJOdRsm4KaEPSw3tFgj3WjehlpobOXYPZCec25P70tdDxWJRqrABVjGoAZ9zm
hpOKDwIDAQABAkEAmUA5gCanLrUu2srqoEwlL3ccPoOX39rlH6QPL4KdjeJ7QGBz
lPCzthgGjWClB7v3YGhK4R9NsZ9gqs5SkznTkQIhAOG8Dkj2PBTVDHCeYZmeBpNJ
fkPh1V9kpbGtTkpfEM/LAiEAwPt3Q3GD6giUdE+We9IwVYV41p7Rw7C+r1+FKD6Z
3k0CIQDfHQjhhL+Nt6Y8Cc9eDpthKNrsLWLAjrJXE3y2dZAgUQIgd+xMwtaJ2SeX
yWej5jJJ4vtcilKLnAX7mVPMlaPBTokCICiiWnAHGTD7AUJY5F7dqQQOhlnmx+mu
5K3VInJYvsmT
-----END PRIVATE KEY-----
"""


def signed_envelope(pem: bytes) -> Envelope:
    signer = Signer(load_key(pem), SELECTOR, DOMAIN)
    return replace(ENVELOPE, reply_to="redactie@example.org", dkim=signer)


def compose(rendered: Rendered, pem: bytes) -> bytes:
    composer = Composer(rendered, signed_envelope(pem), date=T0)
    return composer.compose(people(1)[0]).data


def swap(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_a_signed_message_verifies_and_fails_once_a_signed_part_is_changed(
    rendered: Rendered, kind: str
) -> None:
    pem = pem_of(kind)
    data = compose(rendered, pem)
    tags = signature_tags(data)
    assert tags["a"] == ("rsa-sha256" if kind == "rsa" else "ed25519-sha256")
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"]) == (DOMAIN, SELECTOR)
    assert "l" not in tags  # a body length would let anyone append to the message
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        assert verifies(data, server.address)
        # Relaxed canonicalisation: a relay that refolds or re-spaces a header keeps the signature.
        assert verifies(swap(data, b"MIME-Version: 1.0", b"MIME-Version:   1.0"), server.address)
        for old, new in (
            (b"Subject: Limburg", b"Subject: Gratis Limburg"),
            (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"),
            (b"List-Unsubscribe: <https://example.org/", b"List-Unsubscribe: <https://example.net/"),
            (b"From: POM Limburg", b"From: Bank Limburg"),
            (b"Health Campus", b"Wealth Campus"),
        ):
            assert not verifies(swap(data, old, new), server.address), old
        # Over-signed From: a second From added above the first one breaks the signature.
        head, _, body = data.partition(b"From: ")
        assert not verifies(head + b"From: ceo@example.org\r\nFrom: " + body, server.address)


def test_the_h_tag_holds_every_required_header_and_from_once_more_than_it_occurs(
    rendered: Rendered,
) -> None:
    data = compose(rendered, ed25519_pem())
    signed = signature_tags(data)["h"].split(":")
    assert set(signed) >= REQUIRED
    head = data.partition(b"\r\n\r\n")[0]
    froms = len(re.findall(rb"(?mi)^from:", head))
    assert froms == 1
    assert signed.count("from") == froms + 1
    assert signed.count("list-unsubscribe-post") == 1


def test_the_signature_is_added_in_front_and_leaves_the_message_as_it_was(rendered: Rendered) -> None:
    pem = ed25519_pem()
    unsigned = Composer(rendered, ENVELOPE, date=T0).compose(people(1)[0]).data
    signed = compose(rendered, pem)
    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.count(b"DKIM-Signature:") == 1  # once per message
    # The rest is the message as composed (with this test's Reply-To), byte for byte.
    rest = signed[signed.index(b"\r\nFrom: ") + 2 :]
    assert rest.replace(b"Reply-To: redactie@example.org\r\n", b"") == unsigned


def test_a_test_sends_subject_prefix_is_signed(rendered: Rendered) -> None:
    pem = rsa_pem(2048)
    composer = Composer(rendered, signed_envelope(pem), date=T0).with_subject_prefix("[TEST] ")
    data = composer.compose(people(1)[0]).data
    assert b"Subject: [TEST] " in data
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        assert verifies(data, server.address)
        assert not verifies(swap(data, b"Subject: [TEST] ", b"Subject: "), server.address)


def test_staff_mail_from_our_domain_is_signed_too() -> None:
    pem = ed25519_pem()
    sender = MemorySender()
    staff = Staff(signed_envelope(pem), sender, ["redactie@example.org", "an@example.com"])
    message = staff_message(staff, "Newsletter 2026-01: 300 sent", T0, "report.2026-01", "All sent.")
    assert mail_staff(staff, message) is None
    assert len(sender.outbox) == 2
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        for sent in sender.outbox:
            assert verifies(sent.data, server.address)
            assert "auto-submitted" in signature_tags(sent.data)["h"].split(":")


@pytest.mark.parametrize(
    ("pem", "kind", "bits"),
    [
        (rsa_pem(2048), "rsa", 2048),
        (rsa_pem(2048, pkcs1=True), "rsa", 2048),
        (rsa_pem(1024), "rsa", 1024),
        (ed25519_pem(), "ed25519", 256),
    ],
    ids=["rsa-pkcs8", "rsa-pkcs1", "rsa-1024", "ed25519-pkcs8"],
)
def test_every_pem_form_of_an_rsa_or_ed25519_key_is_read(pem: bytes, kind: str, bits: int) -> None:
    key = load_key(pem)
    assert (key.kind, key.bits) == (kind, bits)
    record = dkim_record(key)
    assert record.startswith(f"v=DKIM1; k={kind}; p=")
    assert publishes(record, key)
    # DNS panels split long values into strings with spaces: still the same key.
    assert publishes(record[:60] + " " + record[60:], key)
    assert "PRIVATE" not in repr(key)
    assert key.private.decode()[40:80] not in repr(key)


def test_a_1024_bit_key_signs_but_says_it_is_weak() -> None:
    weak = Signer(load_key(rsa_pem(1024)), SELECTOR, DOMAIN)
    strong = Signer(load_key(rsa_pem(2048)), SELECTOR, DOMAIN)
    assert "weaker than the 2048 bits" in weak.description
    assert strong.description == "DKIM for example.org, key nl2026._domainkey.example.org (RSA, 2048 bits)"


def test_a_record_of_another_key_is_not_this_keys() -> None:
    key = load_key(ed25519_pem())
    other = load_key(rsa_pem(2048))
    assert not publishes(dkim_record(other), key)
    assert not publishes(dkim_record(key).replace("k=ed25519", "k=rsa"), key)


def _encrypted() -> bytes:
    key = serialization.load_pem_private_key(rsa_pem(2048), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


def _ec() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("pem", "words"),
    [
        (TINY_RSA, "the RSA key has 512 bits"),
        (_encrypted(), "encrypted with a passphrase"),
        (_ec(), "the key is EC, not RSA or Ed25519"),
        (b"ssh-ed25519 AAAAC3Nza... me@laptop\n", "not a PEM private key"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "not a private key"),
    ],
    ids=["512-bits", "encrypted", "ec", "public-ssh", "certificate"],
)
def test_what_cannot_sign_is_refused_in_words(pem: bytes, words: str) -> None:
    with pytest.raises(KeyProblem, match=words):
        load_key(pem)


def _signer(tmp_path: Path, selector: str | None = SELECTOR, domain: str | None = None) -> Signer | None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(ed25519_pem())
    return dkim_signer(key_file, selector, domain, "news.example.org")


def test_the_domain_defaults_to_the_from_domain_and_may_be_a_parent_of_it(tmp_path: Path) -> None:
    own = _signer(tmp_path)
    assert own is not None
    assert own.domain == "news.example.org"
    parent = _signer(tmp_path, domain="Example.ORG.")
    assert parent is not None
    assert parent.domain == "example.org"
    assert dkim_signer(None, SELECTOR, None, "example.org") is None


@pytest.mark.parametrize(
    ("selector", "domain", "words"),
    [
        (None, None, "set NEWSLETTER_DKIM_SELECTOR too"),
        ("nl_2026", None, "NEWSLETTER_DKIM_SELECTOR='nl_2026' cannot be a DNS name"),
        ("-nl", None, "NEWSLETTER_DKIM_SELECTOR='-nl' cannot be a DNS name"),
        (SELECTOR, "example..org", "NEWSLETTER_DKIM_DOMAIN='example..org' cannot be a DNS name"),
        (SELECTOR, "example.com", "NEWSLETTER_DKIM_DOMAIN='example.com' does not align"),
        (SELECTOR, "mail.news.example.org", "does not align with NEWSLETTER_FROM's domain news.example.org"),
        (SELECTOR, "ample.org", "does not align"),
        (SELECTOR, "org", "is a top-level domain"),
    ],
)
def test_a_selector_or_domain_that_cannot_sign_for_from_is_refused(
    tmp_path: Path, selector: str | None, domain: str | None, words: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        _signer(tmp_path, selector, domain)


def test_the_key_is_read_once_not_per_message(rendered: Rendered, tmp_path: Path) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(ed25519_pem())
    signer = dkim_signer(key_file, SELECTOR, None, DOMAIN)
    assert isinstance(signer, Signer)
    assert isinstance(signer.key, DkimKey)
    key_file.unlink()  # gone after the start: the run signs on with the key it read
    composer = Composer(rendered, replace(ENVELOPE, dkim=signer), date=T0)
    messages = [composer.compose(p).data for p in people(300)]
    with dns_server(published(SELECTOR, DOMAIN, ed25519_pem())) as server:
        assert all(verifies(data, server.address) for data in messages[::30])
    assert len({signature_tags(m)["b"] for m in messages}) == 300  # one signature per message
