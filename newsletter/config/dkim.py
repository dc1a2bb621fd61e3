"""DKIM signing from the settings: NEWSLETTER_DKIM_KEY_FILE read once per run, checked with
NEWSLETTER_DKIM_SELECTOR and NEWSLETTER_DKIM_DOMAIN before anything is sent.

Each mistake is one ConfigError naming the setting; the key's bytes never appear in one.

`python -m newsletter.config.dkim` prints the TXT record to publish for the key in the settings.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from newsletter.composing.dkim import DkimKey, KeyProblem, Signer, dkim_record, load_key
from newsletter.errors import ConfigError

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# A PEM key is a few kilobytes; anything far larger is some other file given by mistake.
_MAX_KEY_FILE = 64 * 1024


def read_key(path: Path) -> DkimKey:
    """The private key in the file NEWSLETTER_DKIM_KEY_FILE names; ConfigError saying what is wrong."""
    name = "NEWSLETTER_DKIM_KEY_FILE"
    try:
        if path.is_dir():
            raise ConfigError(f"{name}={path} is a folder; give the private key's PEM file in it")
        if not path.is_file():
            raise ConfigError(f"{name}={path}: no such file; give the private key's PEM file")
        if path.stat().st_size > _MAX_KEY_FILE:
            raise ConfigError(f"{name}={path}: not a private key (far too large); give the key's PEM file")
        pem = path.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"{name}={path}: cannot read it ({e.strerror}); make it readable to this user"
        ) from None
    try:
        return load_key(pem)
    except KeyProblem as e:
        raise ConfigError(f"{name}={path}: {e}") from None


def dns_name(name: str, value: str, *, example: str) -> str:
    """`value` as DNS labels in lower case (an IDN in punycode): what a selector or d= may be."""
    text = value.strip().rstrip(".").lower()
    try:
        ascii_text = text if text.isascii() else text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_text = ""
    labels = ascii_text.split(".")
    if not ascii_text or len(ascii_text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ConfigError(
            f"{name}={value!r} cannot be a DNS name: letters, digits and hyphens between dots, e.g. {example}"
        )
    return ascii_text


def aligned(domain: str, from_domain: str) -> bool:
    """Whether d=`domain` aligns with the From domain for DMARC: the same, or a parent of it."""
    return from_domain == domain or from_domain.endswith("." + domain)


def dkim_signer(
    key_file: Path | None, selector: str | None, domain: str | None, from_domain: str
) -> Signer | None:
    """The signer the settings ask for, or None without NEWSLETTER_DKIM_KEY_FILE.

    `from_domain` is the From address's domain in ASCII; NEWSLETTER_DKIM_DOMAIN defaults to it.
    """
    if key_file is None:
        return None
    if not selector or not selector.strip():
        raise ConfigError(
            "NEWSLETTER_DKIM_KEY_FILE is set: set NEWSLETTER_DKIM_SELECTOR too, the name the key is "
            "published under in DNS (e.g. nl2026 for nl2026._domainkey.example.org)"
        )
    if "._domainkey" in selector.lower():
        raise ConfigError(
            f"NEWSLETTER_DKIM_SELECTOR={selector!r} is the whole DNS name: write only the part before "
            f"._domainkey, e.g. {selector.strip().lower().partition('._domainkey')[0] or 'nl2026'}"
        )
    s = dns_name("NEWSLETTER_DKIM_SELECTOR", selector, example="nl2026")
    d = dns_name("NEWSLETTER_DKIM_DOMAIN", domain, example="example.org") if domain else from_domain
    if "." not in d and aligned(d, from_domain):
        raise ConfigError(
            f"NEWSLETTER_DKIM_DOMAIN={d!r} is a top-level domain, which receivers do not take as a "
            f"signer: write {from_domain}, or its registered domain if From is on a subdomain"
        )
    if not aligned(d, from_domain):
        raise ConfigError(
            f"NEWSLETTER_DKIM_DOMAIN={d!r} does not align with NEWSLETTER_FROM's domain {from_domain}: "
            f"receivers' DMARC checks would fail; write {from_domain} or a parent domain of it"
        )
    return Signer(read_key(key_file), s, d)


def published_record(signer: Signer) -> list[str]:
    """What to publish in DNS for `signer`, as lines for a person: the name, the type, the value."""
    return [
        f"name:  {signer.record_name}",
        "type:  TXT",
        f"value: {dkim_record(signer.key)}",
        f"({signer.description}; the value holds only the public key)",
    ]


def main() -> int:
    """Print the DKIM record for the settings in .env and the environment; 2 for a mistake in them."""
    from newsletter.config import load_settings

    try:
        settings = load_settings()
        if settings.dkim_key_file is None:
            raise ConfigError("set NEWSLETTER_DKIM_KEY_FILE (and _SELECTOR) to the key to publish")
        signer = settings.envelope(for_real=False).dkim
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    assert signer is not None  # a key file is set
    print("\n".join(published_record(signer)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
