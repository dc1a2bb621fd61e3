"""The doctor's DKIM findings: the public key at <selector>._domainkey.<domain> (CNAMEs followed, as
Microsoft 365's selectors are), whether it parses, is long enough and is not revoked, and whether it
is the public half of NEWSLETTER_DKIM_KEY_FILE when the tool signs itself."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from newsletter.doctor.dmarc import tags
from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import TROUBLE_FIX, LookupFailed, Lookups, trouble

AREA = "DNS"
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_USUAL = (
    "Microsoft 365: selector1 and selector2; Google Workspace: google; Amazon SES: the three CNAMEs "
    "its console shows for the domain"
)


def dkim_findings(
    lookups: Lookups, selector: str | None, domain: str, key_file: Path | None
) -> list[Finding]:
    if selector is None:
        return [
            Finding.warning(
                AREA,
                f"DKIM of {domain}: the key could not be checked, as no selector is set",
                f"set NEWSLETTER_DKIM_SELECTOR to the selector your relay signs with ({_USUAL})",
            )
        ]
    name = f"{selector}._domainkey.{domain}"
    try:
        answer = lookups.txt(name)
    except LookupFailed as e:
        failure = Finding.error if e.answered else Finding.warning
        return [failure(AREA, f"DKIM of {domain}: {trouble(e)}", TROUBLE_FIX)]
    where = f"DKIM key {name}" + (f" (a CNAME to {answer.canonical})" if answer.canonical != name else "")
    records = [value for value in answer.values if "p=" in value.replace(" ", "")]
    if len(records) != 1:
        ours = _record_to_publish(key_file)
        return [
            Finding.error(
                AREA,
                f"{where}: " + ("more than one key record" if records else "no key published"),
                (f'publish one TXT record at {name}: "{ours}" (the public half of NEWSLETTER_DKIM_KEY_FILE)')
                if ours
                else f"publish the one TXT record your relay gives for selector {selector} at {name} "
                f"(or correct NEWSLETTER_DKIM_SELECTOR={selector})",
            )
        ]
    found = tags(records[0])
    key, problem = _key(found)
    if key is None:
        return [
            Finding.error(
                AREA,
                f"{where}: {problem}; receivers fail every signature with it",
                f"publish the key your relay gives for selector {selector} at {name} again",
            )
        ]
    findings = _strength(where, key, name)
    if "y" in found.get("t", "").lower().split(":"):
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: t=y (testing): receivers may treat signed mail as unsigned",
                f"remove t=y from the TXT record at {name}",
            )
        )
    if key_file is not None:
        findings.append(key_file_finding(key, key_file, name))
    if not any(f.fix for f in findings):
        findings.insert(0, Finding.ok(AREA, f"{where}: {_describe(key)}"))
    return findings


def _key(found: dict[str, str]) -> tuple[PublicKey | None, str]:
    if found.get("v", "DKIM1") != "DKIM1":
        return None, f"v={found['v']} is not v=DKIM1"
    kind = found.get("k", "rsa").lower()
    data = "".join(found.get("p", "").split())
    if not data:
        return None, "p= is empty: the key is revoked"
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, "p= is not base64"
    try:
        if kind == "ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(raw), ""
        if kind != "rsa":
            return None, f"k={kind} is neither rsa nor ed25519"
        key = serialization.load_der_public_key(raw)
    except (ValueError, UnsupportedAlgorithm):
        return None, f"p= is not an {kind} public key"
    if not isinstance(key, rsa.RSAPublicKey):
        return None, "p= is not an RSA public key (k=rsa)"
    return key, ""


def _describe(key: PublicKey) -> str:
    return f"RSA, {key.key_size} bits" if isinstance(key, rsa.RSAPublicKey) else "Ed25519"


def _strength(where: str, key: PublicKey, name: str) -> list[Finding]:
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size >= 2048:
        return []
    fix = f"have the relay make a 2048-bit key and publish it at {name} (or a new selector)"
    if key.key_size < 1024:
        return [
            Finding.error(
                AREA, f"{where}: RSA, {key.key_size} bits; receivers ignore keys under 1024 bits", fix
            )
        ]
    return [Finding.warning(AREA, f"{where}: RSA, {key.key_size} bits; 2048 is recommended", fix)]


def key_file_finding(published: PublicKey, path: Path, name: str) -> Finding:
    """Whether the key at `name` is the public half of the private key in `path` (never shown)."""
    what = f"DKIM key {name} and NEWSLETTER_DKIM_KEY_FILE {path}"
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as e:
        return Finding.error(
            AREA,
            f"{what}: the file cannot be read ({e.strerror})",
            "set NEWSLETTER_DKIM_KEY_FILE to the PEM file of the private key",
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return Finding.error(
            AREA,
            f"{what}: the file is not an unencrypted PEM private key",
            "set NEWSLETTER_DKIM_KEY_FILE to the PEM file of the private key, without a passphrase",
        )
    if _public_bytes(private.public_key()) == _public_bytes(published):
        return Finding.ok(AREA, f"{what}: the key in DNS is the file's public half")
    ours = _record_to_publish(path)
    return Finding.error(
        AREA,
        f"{what}: the key in DNS is not the file's public half, so every signature fails",
        (
            f'publish the file\'s public key at {name}: "{ours}"'
            if ours
            else f"publish the file's public key at {name}"
        )
        + ", or set NEWSLETTER_DKIM_KEY_FILE to the key of that selector",
    )


def _record_to_publish(key_file: Path | None) -> str | None:
    """The TXT record that publishes the key the tool signs with, or None without a usable key file."""
    from newsletter.composing.dkim import KeyProblem, dkim_record, load_key

    if key_file is None:
        return None
    try:
        return dkim_record(load_key(key_file.read_bytes()))
    except (OSError, KeyProblem):
        return None


def _public_bytes(key: object) -> bytes:
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b""
