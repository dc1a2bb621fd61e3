"""What the doctor's CLI tests share: a correct DNS zone for the From domain (SPF, DMARC, an MX and a
DKIM key made in the test with `cryptography`), and a relay that does what a provider's does on the way
to the reader: DKIM-sign the message, and deliver it into a mailbox as the receiving server would, with
a Return-Path and its Authentication-Results on top. Plain helpers without asserts."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FROM_DOMAIN = "example.org"
SELECTOR = "doctor"
RELAY_DOMAIN = "relay.example.com"  # a relay's own domain, as amazonses.com or onmicrosoft.com
UNSUBSCRIBE = (b"list-unsubscribe", b"list-unsubscribe-post")
SIGNED = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id", *UNSUBSCRIBE)


@dataclass(frozen=True)
class Key:
    private_pem: bytes
    public_record: str  # the TXT record at <selector>._domainkey.<domain>


def make_key() -> Key:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key(private, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}")


def zone(key: Key) -> dict[str, dict[str, list[str]]]:
    """A correctly set-up From domain, and the relay's own domain with the same key."""
    return {
        FROM_DOMAIN: {"TXT": ["v=spf1 ip4:127.0.0.1 -all"], "MX": ["10 mx.example.org"]},
        f"_dmarc.{FROM_DOMAIN}": {"TXT": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.org"]},
        f"{SELECTOR}._domainkey.{FROM_DOMAIN}": {"TXT": [key.public_record]},
        f"{SELECTOR}._domainkey.{RELAY_DOMAIN}": {"TXT": [key.public_record]},
        "mx.example.org": {"A": ["127.0.0.1"]},
    }


@dataclass
class SigningRelay:
    """What to do with each message that reaches the relay: sign it as `domain` over `headers`,
    then hand it to `deliver` (into the IMAP server) with a Return-Path and Authentication-Results."""

    key: Key
    deliver: Callable[[bytes], None]
    domain: str = FROM_DOMAIN
    headers: tuple[bytes, ...] = SIGNED
    return_path: str | None = None  # default: the envelope sender
    results: str = "spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass"
    sign: bool = True  # False: delivered unsigned, as Microsoft 365 delivers inside the organisation
    tamper: bool = False  # change the body after signing, as a footer-adding filter does
    delivered: list[bytes] = field(default_factory=list)

    def __call__(self, mail_from: str, data: bytes) -> None:
        signed = data
        if self.sign:
            signature = dkim.sign(
                data,
                SELECTOR.encode(),
                self.domain.encode(),
                self.key.private_pem,
                include_headers=list(self.headers),
            )
            signed = signature + data
        if self.tamper:
            signed = signed.rstrip(b"\r\n") + b"\r\n-- \r\nAdded by a filter\r\n"
        top = (
            f"Return-Path: <{self.return_path or mail_from}>\r\n"
            f"Authentication-Results: mx.example.org; {self.results}\r\n"
            # An earlier hop's header that says the opposite: not the receiver's, so left aside.
            "Authentication-Results: hop.example.net; dmarc=fail\r\n"
        ).encode()
        self.delivered.append(top + signed)
        self.deliver(top + signed)
