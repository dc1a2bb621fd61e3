"""Checks of the settings that end up in every message's headers, each failure one ConfigError that
names the NEWSLETTER_ variable and says how to write it.

A line break in NEWSLETTER_FROM would let whoever edits .env add headers (a Bcc) to every message,
and an address that is none makes every server refuse the run halfway; both are refused before
anything is sent. Addresses are normalised as the audience's are (`recipients.check_address`: the
domain lower-cased and in punycode), so the sender's domain can end a Message-ID.
"""

from __future__ import annotations

from email.headerregistry import Address, AddressHeader, HeaderRegistry
from urllib.parse import quote, urlsplit

from newsletter.composing.headers import has_controls
from newsletter.errors import ConfigError
from newsletter.reading.recipients import check_address

# Room for the token and, at worst, a percent-encoded address of 254 characters, in a List-Unsubscribe
# line that must stay under 998 octets (a URL has no spaces to fold at).
MAX_URL = 900
_TOKEN_ROOM = 24
_EMAIL_ROOM = 450
_REGISTRY = HeaderRegistry()


def _refuse_controls(name: str, value: str) -> None:
    if has_controls(value):
        raise ConfigError(
            f"{name} holds a line break or another control character; write it on one line "
            "(check the quotes in .env)"
        )


def address_setting(name: str, value: str, *, display_name: bool = True, example: str | None = None) -> str:
    """One address, e.g. `POM Limburg <nieuwsbrief@example.org>` (or only the address, without
    `display_name`), as it goes into the headers: the domain normalised, the name quoted as needed."""
    _refuse_controls(name, value)
    example = example or (
        "Newsletter <newsletter@example.org>" if display_name else "unsubscribe@example.org"
    )
    addresses = _parse_addresses(value)
    if addresses is not None and len(addresses) > 1:
        raise ConfigError(f"{name}={value!r}: one address only, e.g. {example}")
    if not addresses or not addresses[0].domain:
        raise ConfigError(f"{name}={value!r} is not an address; write e.g. {example}")
    found = addresses[0]
    if found.display_name and not display_name:
        raise ConfigError(f"{name}={value!r}: only the address, without a name, e.g. {example}")
    try:
        # Our own addresses stay ASCII before the @: in From every message would need SMTPUTF8.
        checked = check_address(found.addr_spec, international=False)
    except ValueError as e:
        raise ConfigError(f"{name}={value!r} is not a valid address ({e}); write e.g. {example}") from None
    if not found.display_name:
        return checked
    return str(Address(display_name=found.display_name, addr_spec=checked))


def _parse_addresses(value: str) -> tuple[Address, ...] | None:
    """The addresses in `value` as a From header would hold them; None when it is not well formed."""
    try:
        parsed = _REGISTRY("from", value)
    except Exception:  # noqa: BLE001 - the email package raises IndexError and more on odd input
        return None
    if not isinstance(parsed, AddressHeader) or parsed.defects:
        return None
    return parsed.addresses


def unsubscribe_url_setting(value: str, *, for_real: bool) -> tuple[str, list[str]]:
    """The unsubscribe URL as messages carry it (host in punycode, other non-ASCII percent-encoded),
    and the warnings for what a local render tolerates but a real send (`for_real`) refuses."""
    name = "NEWSLETTER_UNSUBSCRIBE_URL"
    example = "https://example.org/unsubscribe?token={token}"
    _refuse_controls(name, value)
    if any(c.isspace() or c in '<>"\\' for c in value):
        raise ConfigError(f"{name}={value!r} holds a space, a quote or <>; write e.g. {example}")
    if "{token}" not in value and "{email}" not in value:
        raise ConfigError(f"{name} must contain {{token}}, e.g. {example}")
    url = _ascii_url(name, value)
    parts = urlsplit(url.replace("{token}", "t").replace("{email}", "e"))
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{name}={value!r} is not a web address with a host; write e.g. {example}")
    longest = len(url.replace("{token}", "t" * _TOKEN_ROOM).replace("{email}", "e" * _EMAIL_ROOM))
    if longest > MAX_URL:
        raise ConfigError(
            f"{name} is {len(value)} characters long; with the token and address it must fit in a mail "
            f"header line: keep it under {MAX_URL - _EMAIL_ROOM} characters"
        )
    problems = []
    if parts.scheme != "https":
        problems.append(f"{name} must be an https:// address, e.g. {example} (mail programs warn about http)")
    if "{token}" not in value:
        problems.append(
            f"{name} must carry {{token}}: with only {{email}} anyone can unsubscribe anyone else; "
            f"write e.g. {example}"
        )
    if problems and for_real:
        raise ConfigError(problems[0])
    return url, problems


def _ascii_url(name: str, value: str) -> str:
    if value.isascii():
        return value
    parts = urlsplit(value)
    try:
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except UnicodeError:
        raise ConfigError(f"{name}={value!r}: the host is not a valid domain name") from None
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    # Only non-ASCII characters are encoded: what was percent-encoded or reserved stays as written.
    rest = quote(parts._replace(scheme="", netloc="").geturl(), safe="".join(map(chr, range(33, 127))))
    return f"{parts.scheme}://{netloc}{rest}"


def ascii_host(name: str, value: str) -> str:
    """A host name without spaces or control characters; an IDN in punycode."""
    _refuse_controls(name, value)
    host = value.strip()
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise ConfigError(f"{name}={value!r}: write only the server's name, e.g. smtp.example.org")
    try:
        return host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ConfigError(f"{name}={value!r} is not a valid host name") from None


_TAG_ROOM = 32  # the hex digits `tokens.message_tag` puts in place of {token}


def bounce_address_setting(value: str) -> str:
    """NEWSLETTER_BOUNCE_ADDRESS: one address without a name, `{token}` (if any) in its local part,
    still an address of at most 64 characters before the @ once a message's tag fills it in."""
    name = "NEWSLETTER_BOUNCE_ADDRESS"
    example = "bounces@example.org or bounces+{token}@example.org"
    _refuse_controls(name, value)
    local, at, domain = value.strip().rpartition("@")
    if "{token}" in domain:
        raise ConfigError(
            f"{name}={value!r}: {{token}} belongs before the @, e.g. bounces+{{token}}@example.org"
        )
    if local.count("{token}") > 1:
        raise ConfigError(f"{name}={value!r}: write {{token}} once, e.g. bounces+{{token}}@example.org")
    filled = value.strip().replace("{token}", "0" * _TAG_ROOM)
    checked = address_setting(name, filled, display_name=False, example=example)
    if len(checked.rpartition("@")[0]) > 64:
        raise ConfigError(
            f"{name}={value!r}: with the message's tag ({_TAG_ROOM} characters) the part before the @ is "
            "longer than 64 characters; shorten it"
        )
    if "{token}" not in local:
        return checked
    # The check normalised the domain; the tag goes back where {token} was.
    before, _, after = local.partition("{token}")
    return f"{before}{{token}}{after}@{checked.rpartition('@')[2]}" if at else checked
