"""Test zones for `newsletter doctor`: a correctly set-up domain (example.org sending through Microsoft
365, DMARC p=reject with reports, an RSA 2048 DKIM key behind a CNAME as Microsoft 365 publishes it) and
DKIM key records. Plain helpers without asserts."""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dns_server import Zone

SELECTOR = "selector1"
KEY_NAME = f"{SELECTOR}._domainkey.example.org"
# Where Microsoft 365's selector CNAME points (…onmicrosoft.com).
KEY_TARGET = "selector1-example-org._domainkey.example.onmicrosoft.com"
MICROSOFT = "spf.protection.outlook.com"


@cache
def private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def dkim_record(key: rsa.RSAPublicKey, extra: str = "") -> str:
    """The TXT value that publishes `key`, as a DKIM key record."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa;{extra} p={base64.b64encode(der).decode()}"


def short_key(bits: int) -> rsa.RSAPublicKey:
    """A public key of `bits` bits (below what cryptography makes): enough to publish and measure."""
    return rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0x10001).public_key()


def key_file(path: Path, key: rsa.RSAPrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def good_zone() -> Zone:
    """example.org as it should be for a send through Microsoft 365."""
    return {
        "example.org": {
            "TXT": [f"v=spf1 include:{MICROSOFT} -all", "google-site-verification=abc"],
            "MX": ["10 example-org.mail.protection.outlook.com"],
        },
        MICROSOFT: {"TXT": ["v=spf1 ip4:40.92.0.0/15 ip4:52.100.0.0/15 ip6:2a01:111:f400::/48 -all"]},
        "_dmarc.example.org": {"TXT": ["v=DMARC1; p=reject; rua=mailto:dmarc@example.org"]},
        KEY_NAME: {"CNAME": [KEY_TARGET]},
        KEY_TARGET: {"TXT": [dkim_record(private_key().public_key())]},
    }
