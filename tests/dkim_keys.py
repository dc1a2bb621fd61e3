"""DKIM test keys made by cryptography, and verification against the key published in a test DNS
server (tests/dns_server.py), as a receiver does it. Plain helpers without asserts.

    pem = rsa_pem(2048)                     # or ed25519_pem(); PKCS#8 unless told pkcs1=True
    zone = published("nl2026", "example.org", pem)
    with dns_server(zone) as server:
        assert verifies(data, server.address)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from newsletter.composing.dkim import dkim_record, load_key, record_name
from newsletter.doctor.resolver import make_resolver, txt_records

_NONE = serialization.NoEncryption()


@cache
def rsa_pem(bits: int = 2048, *, pkcs1: bool = False) -> bytes:
    """A fresh RSA key (the same one for the same arguments within a test run) as PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    form = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, form, _NONE)


@cache
def ed25519_pem() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _NONE)


def pem_of(kind: str) -> bytes:
    return rsa_pem(2048) if kind == "rsa" else ed25519_pem()


def published(selector: str, domain: str, pem: bytes) -> dict[str, dict[str, list[str]]]:
    """A test zone publishing the key of `pem` as the TXT record a person would publish."""
    return {record_name(selector, domain): {"TXT": [dkim_record(load_key(pem))]}}


def dns_lookup(server: str) -> Callable[..., bytes | None]:
    """dkimpy's `dnsfunc`, asking only the test DNS server at `server` (127.0.0.1:PORT)."""
    resolver = make_resolver(server, timeout=5.0)

    def lookup(name: bytes, timeout: float = 5.0) -> bytes | None:
        found = txt_records(resolver, name.decode("ascii").rstrip("."))
        return found[0].encode("ascii") if found else None

    return lookup


def verifies(data: bytes, server: str) -> bool:
    """Whether the first DKIM signature of `data` verifies with the key the test DNS server publishes."""
    return bool(dkim.verify(data, dnsfunc=dns_lookup(server)))


def signature_tags(data: bytes) -> dict[str, str]:
    """The tags of the message's DKIM-Signature header, whitespace removed (h= keeps its colons)."""
    head = data.partition(b"\r\n\r\n")[0].decode("ascii")
    unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
    line = next(x for x in unfolded.split("\r\n") if x.lower().startswith("dkim-signature:"))
    tags = {}
    for part in line.partition(":")[2].split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            tags[name.strip()] = "".join(value.split())
    return tags
