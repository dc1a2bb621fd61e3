"""The doctor's DKIM findings: the public key at <selector>._domainkey.<domain> (CNAMEs followed, as
Microsoft 365's selectors are), whether it parses, is long enough and is not revoked, and whether it
is the public half of NEWSLETTER_DKIM_KEY_FILE when the tool signs itself."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from newsletter.doctor.dmarc import tags
from newsletter.doctor.findings import Finding
from newsletter.doctor.lookups import LookupFailed, Lookups, unchecked

AREA = "DNS"
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_USUAL = (
    "Microsoft 365: selector1 and selector2; Google Workspace: google; Amazon SES: the three CNAMEs "
    "its console shows for the domain"
)


@dataclass(frozen=True)
class Published:
    """What DNS holds at <selector>._domainkey.<domain>, CNAMEs followed."""

    selector: str
    domain: str
    target: str  # where the name's CNAME points; the name itself without one
    records: tuple[str, ...]  # the TXT values there that hold a key (p=)

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def cname(self) -> bool:
        return self.target != self.name

    @property
    def where(self) -> str:
        return f"DKIM key {self.name}" + (f" (a CNAME to {self.target})" if self.cname else "")

    @property
    def microsoft(self) -> bool:
        """The CNAME points into Microsoft 365 (…onmicrosoft.com), which publishes the key there."""
        return self.target.endswith(".onmicrosoft.com")


def published(lookups: Lookups, selector: str, domain: str) -> Published:
    """The key records at the selector's name; LookupFailed when the DNS server fails."""
    answer = lookups.txt(f"{selector}._domainkey.{domain}")
    records = tuple(value for value in answer.values if "p=" in value.replace(" ", ""))
    return Published(selector, domain, answer.canonical, records)


def key_trouble(found: Published, key_file: Path | None = None) -> tuple[str, str] | None:
    """(what, fix) when the key at `found` cannot verify any signature; None for a usable key."""
    if len(found.records) != 1:
        return _missing(found, key_file)
    key, problem = _key(tags(found.records[0]))
    if key is None:
        fix = (
            f"remove h= from the TXT record at {_at(found)} (or write h=sha256)"
            if problem.startswith("h=")
            else _republish(found)
        )
        return f"{found.where}: {problem}; receivers fail every signature with it", fix
    return None


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
    try:
        found = published(lookups, selector, domain)
    except LookupFailed as e:
        return [unchecked(AREA, f"DKIM of {domain}", e)]
    trouble = key_trouble(found, key_file)
    if trouble is not None:
        return [Finding.error(AREA, *trouble)]
    where, name = found.where, found.name
    record = tags(found.records[0])
    key, _ = _key(record)
    assert key is not None
    findings = _strength(where, key, _at(found), signing_ourselves=key_file is not None)
    if "y" in record.get("t", "").lower().split(":"):
        findings.append(
            Finding.warning(
                AREA,
                f"{where}: t=y (testing): receivers may treat signed mail as unsigned",
                f"remove t=y from the TXT record at {_at(found)}",
            )
        )
    if key_file is not None:
        findings.append(key_file_finding(key, key_file, name))
    if not any(f.fix for f in findings):
        findings.insert(0, Finding.ok(AREA, f"{where}: {_describe(key)}"))
    return findings


_DEFENDER = (
    "Microsoft Defender (security.microsoft.com: Email & collaboration, Policies & rules, Threat "
    "policies, Email authentication settings, DKIM)"
)


def _missing(found: Published, key_file: Path | None) -> tuple[str, str]:
    name, target, selector = found.name, found.target, found.selector
    ours = _record_to_publish(key_file)
    if ours:
        fix = f'publish one TXT record at {name}: "{ours}" (the public half of NEWSLETTER_DKIM_KEY_FILE)'
        return (
            f"{found.where}: " + ("more than one key record" if found.records else "no key published"),
            fix + (f", in the place of its CNAME to {target}" if found.cname else ""),
        )
    if found.records:
        return (
            f"{found.where}: more than one key record",
            f"keep one key record at {target}, delete the others",
        )
    if not found.cname:
        return (
            f"{found.where}: no key published",
            f"publish the one TXT record your relay gives for selector {selector} at {name} "
            f"(or correct NEWSLETTER_DKIM_SELECTOR={selector})",
        )
    what = f"DKIM key {name} is a CNAME to {target}, which has no key"
    if found.microsoft:
        return (
            f"{what}: Microsoft 365 does not sign for {found.domain} yet",
            f"turn DKIM signing on for {found.domain} in {_DEFENDER}, or in the Exchange admin center; "
            f"Microsoft 365 then publishes the key at {target}, where the CNAME points",
        )
    return (
        what,
        f"the key lives at {target}, not at {name}: have it published there (your relay's DKIM page "
        "for the domain), or point the CNAME at the name your relay gives "
        f"(or correct NEWSLETTER_DKIM_SELECTOR={selector})",
    )


def _republish(found: Published) -> str:
    if found.microsoft:
        return (
            f"in {_DEFENDER}, rotate the DKIM keys of {found.domain} (or turn its signing off and on): "
            f"Microsoft 365 publishes the key at {found.target}, where the CNAME {found.name} points"
        )
    return f"publish the key your relay gives for selector {found.selector} at {_at(found)} again"


def _at(found: Published) -> str:
    """Where the key record is to be changed: the CNAME's target, which holds it."""
    return f"{found.target} (where the CNAME {found.name} points)" if found.cname else found.name


def _key(found: dict[str, str]) -> tuple[PublicKey | None, str]:
    if found.get("v", "DKIM1") != "DKIM1":
        return None, f"v={found['v']} is not v=DKIM1"
    kind = found.get("k", "rsa").lower()
    data = "".join(found.get("p", "").split())
    if not data:
        return None, "p= is empty: the key is revoked"
    # RFC 6376 3.6.1: a key with h= may be used only with those hashes, and every signature made now
    # is sha256 (RFC 8301 forbids sha1): h=sha1 makes receivers reject each one.
    hashes = {h.strip().lower() for h in found.get("h", "sha256").split(":")}
    if "sha256" not in hashes:
        return None, f"h={found['h']} leaves out sha256, the only hash signatures use (RFC 8301)"
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


def _strength(where: str, key: PublicKey, name: str, *, signing_ourselves: bool) -> list[Finding]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        # RFC 8463 is young: a receiver that does not check Ed25519 treats the mail as unsigned, so an
        # Ed25519 signature alone can fail DMARC there. An RSA signature beside it is what works.
        return [
            Finding.warning(
                AREA,
                f"{where}: Ed25519; receivers that do not check Ed25519 yet treat mail signed only with it "
                "as unsigned",
                (
                    "make an RSA 2048 key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048), "
                    "publish it under a selector of its own and sign with it (NEWSLETTER_DKIM_KEY_FILE)"
                )
                if signing_ourselves
                else f"have the relay sign with an RSA 2048 key too, beside the Ed25519 one at {name}",
            )
        ]
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size >= 2048:
        return []
    fix = (
        f"make a 2048-bit RSA key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048), publish "
        f"it at {name} (or a new selector) and point NEWSLETTER_DKIM_KEY_FILE at it"
        if signing_ourselves
        else f"have the relay make a 2048-bit key and publish it at {name} (or a new selector)"
    )
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
