"""DKIM: a private key as dkimpy signs with it, the signature of one finished message, and the TXT
record that publishes the key.

Pure computation: the key comes in as the bytes of a PEM file (`config.dkim` reads the file and the
settings). Relaxed/relaxed canonicalisation, no `l=` (a body length would let anyone append to the
message), rsa-sha256 or ed25519-sha256 (RFC 8463) by the kind of key. From is signed once more than
it occurs, so that nobody can add a From that a reader would see and the signature still covers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

MIN_RSA_BITS = 1024  # RFC 8301: verifiers must not accept smaller keys
RECOMMENDED_RSA_BITS = 2048  # what Gmail, Microsoft and Yahoo ask of bulk senders

# Signed when present, in this order. List-Unsubscribe-Post must be covered, or Gmail shows no
# unsubscribe button; Content-Type and MIME-Version keep the parts from being swapped.
SIGNED_HEADERS = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Auto-Submitted",
)

Kind = Literal["rsa", "ed25519"]


class KeyProblem(ValueError):
    """The PEM bytes are no private key DKIM can sign with; the words say why, never the key."""


@dataclass(frozen=True, repr=False)
class DkimKey:
    """A private key for DKIM: its kind, its size, and the forms dkimpy and DNS want."""

    kind: Kind
    bits: int  # 256 for Ed25519
    private: bytes  # PKCS#1 PEM (RSA) or the base64 seed (Ed25519), as dkim.sign takes it
    public: bytes  # the p= value of the TXT record (base64, ASCII)

    def __repr__(self) -> str:
        # Never the private key, in a traceback or a log.
        return f"DkimKey({self.kind}, {self.bits} bits)"

    @property
    def algorithm(self) -> bytes:
        return b"rsa-sha256" if self.kind == "rsa" else b"ed25519-sha256"


def load_key(pem: bytes) -> DkimKey:
    """The private key in `pem` (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY", RSA or Ed25519).

    Raises KeyProblem for an encrypted key, something that is no private key, another kind of key,
    or an RSA key under MIN_RSA_BITS.
    """
    # "BEGIN ENCRYPTED PRIVATE KEY" (PKCS#8) or "Proc-Type: 4,ENCRYPTED" (OpenSSL's PKCS#1).
    if b"ENCRYPTED" in pem:
        raise KeyProblem(
            "the key is encrypted with a passphrase; store it without one, readable only by this user "
            "(chmod 600)"
        )
    if b"-----BEGIN" not in pem:
        raise KeyProblem('not a PEM private key (it must start with "-----BEGIN PRIVATE KEY-----")')
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise KeyProblem("the key is encrypted with a passphrase; store it without one (chmod 600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyProblem("not a private key cryptography can read (PKCS#1 or PKCS#8 PEM)") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyProblem(
                f"the RSA key has {key.key_size} bits; receivers ignore keys under {MIN_RSA_BITS}: "
                f"make one of {RECOMMENDED_RSA_BITS} bits"
            )
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return DkimKey("rsa", key.key_size, private, base64.b64encode(spki))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return DkimKey("ed25519", 256, base64.b64encode(seed), base64.b64encode(raw))
    kind = type(key).__name__.removeprefix("_").removesuffix("PrivateKey")
    raise KeyProblem(f"the key is {kind}, not RSA or Ed25519, the kinds DKIM signs with")


def dkim_record(key: DkimKey) -> str:
    """The TXT record to publish at <selector>._domainkey.<domain>: `v=DKIM1; k=rsa; p=…`."""
    return f"v=DKIM1; k={key.kind}; p={key.public.decode('ascii')}"


def publishes(record: str, key: DkimKey) -> bool:
    """Whether the TXT `record` found in DNS publishes `key`'s public half (k= defaults to rsa;
    spaces inside p=, as DNS panels split long values, do not count)."""
    tags = {}
    for part in record.split(";"):
        name, _, value = part.partition("=")
        tags[name.strip().lower()] = "".join(value.split())
    return tags.get("k", "rsa") == key.kind and tags.get("p", "") == key.public.decode("ascii")


def record_name(selector: str, domain: str) -> str:
    """Where the key's TXT record goes in DNS."""
    return f"{selector}._domainkey.{domain}"


def _present(head: bytes) -> list[bytes]:
    """The names of SIGNED_HEADERS that occur in `head`, lower case, as often as they occur."""
    wanted = {name.lower().encode() for name in SIGNED_HEADERS}
    found = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation
        name = line.partition(b":")[0].strip().lower()
        if name in wanted:
            found.append(name)
    return found


@dataclass(frozen=True)
class Signer:
    """Signs finished messages for `domain` (d=) with `key`, published under `selector` (s=)."""

    key: DkimKey
    selector: str
    domain: str

    @property
    def record_name(self) -> str:
        return record_name(self.selector, self.domain)

    @property
    def description(self) -> str:
        """For a person: 'DKIM for example.org, key nl2026._domainkey.example.org (RSA, 2048 bits)'."""
        kind = "RSA" if self.key.kind == "rsa" else "Ed25519"
        weak = ""
        if self.key.kind == "rsa" and self.key.bits < RECOMMENDED_RSA_BITS:
            weak = f"; weaker than the {RECOMMENDED_RSA_BITS} bits receivers ask for: make a new key"
        return f"DKIM for {self.domain}, key {self.record_name} ({kind}, {self.key.bits} bits{weak})"

    def headers_for(self, data: bytes) -> list[bytes]:
        """The h= list for `data`: each signed header that occurs, in order, and From once more."""
        head = data.partition(b"\r\n\r\n")[0]
        present = _present(head)
        order = [name.lower().encode() for name in SIGNED_HEADERS]
        ordered = sorted(present, key=order.index)
        return [*ordered, b"from"]

    def sign(self, data: bytes) -> bytes:
        """`data` (a whole message, CRLF line ends) with its DKIM-Signature header in front."""
        header = dkim.sign(
            data,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.key.private,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=self.key.algorithm,
            include_headers=self.headers_for(data),
            length=False,
            linesep=b"\r\n",
        )
        assert isinstance(header, bytes)
        return header + data
