"""The signed words of the feedback loop: unsubscribe tokens, the VERP tag of a bounce address, and
the credential with which a sender pulls the endpoint's new suppressions.

An unsubscribe token carries who it is for: `<payload>.<mac>`, the payload being the list and the
address (URL-safe base64 of "list_id\\naddress"), the mac an HMAC-SHA256 of it, cut to 128 bits.
So the endpoint reads the reader from the token alone and checks it against the secret, and
against the previous secrets while a new one is rolled out. A token is bound to its list and its
address: changing either breaks the mac.

Messages sent before this form carry the HMAC alone (`legacy_token`); such a token names nobody, and
is matched by computing it for the addresses the ledger knows (`match_legacy`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from newsletter.model import address_key

_MAC_BYTES = 16
# "unsubscribe" keeps these macs apart from any other use of the same secret (the pull credential).
_PURPOSE = b"newsletter unsubscribe v2\n"


@dataclass(frozen=True)
class Reader:
    """Whom a token that verified names."""

    list_id: str
    email: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: bytes, payload: bytes, size: int = _MAC_BYTES) -> bytes:
    return hmac.new(secret.encode(), purpose + payload, hashlib.sha256).digest()[:size]


def unsubscribe_token(secret: str, list_id: str, email: str) -> str:
    """The token in a reader's unsubscribe link: the list and address, signed."""
    payload = f"{list_id}\n{email}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, _PURPOSE, payload))}"


_TOKEN = re.compile(r"[A-Za-z0-9_-]{4,600}\.[A-Za-z0-9_-]{22}")


def read_token(token: str, secrets: Sequence[str]) -> Reader | None:
    """Whom `token` names, if it verifies under one of `secrets` (the current one first); else None.

    A truncated, altered or foreign token gives None, never an error.
    """
    token = token.strip()
    if not _TOKEN.fullmatch(token):
        return None
    payload_text, _, mac_text = token.partition(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if not any(hmac.compare_digest(_mac(secret, _PURPOSE, payload), mac) for secret in secrets):
        return None
    try:
        list_id, _, email = payload.decode("utf-8").partition("\n")
    except UnicodeDecodeError:
        return None
    return Reader(list_id, email) if list_id and email else None


def legacy_token(secret: str, list_id: str, email: str) -> str:
    """The token of messages sent before tokens named their reader: an HMAC of list and address."""
    mac = hmac.new(secret.encode(), f"{list_id}\n{address_key(email)}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


_LEGACY = re.compile(r"[A-Za-z0-9_-]{24}")


def is_legacy(token: str) -> bool:
    return bool(_LEGACY.fullmatch(token.strip()))


def match_legacy(
    token: str, secrets: Sequence[str], list_ids: Iterable[str], emails: Iterable[str]
) -> Reader | None:
    """Whom an old token belongs to, among the addresses the ledger sent to; None if nobody.

    Costs one HMAC per address, list and secret: a few milliseconds for ten thousand readers.
    """
    token = token.strip()
    if not is_legacy(token):
        return None
    lists = list(dict.fromkeys(list_ids))
    for email in dict.fromkeys(emails):
        for list_id in lists:
            for secret in secrets:
                if hmac.compare_digest(legacy_token(secret, list_id, email), token):
                    return Reader(list_id, email)
    return None


def verify_unsubscribe_token(secret: str, list_id: str, email: str, token: str) -> bool:
    """Whether `token`, of either form, is this list's token for this address."""
    reader = read_token(token, [secret])
    if reader is not None:
        return reader.list_id == list_id and address_key(reader.email) == address_key(email)
    return hmac.compare_digest(legacy_token(secret, list_id, email), token.strip())


# -- VERP -----------------------------------------------------------------------------------------

_DIGEST = re.compile(r"\.([0-9a-f]{32})@")


def message_tag(message_id: str) -> str:
    """What a VERP bounce address carries of a message: the 32 hex digits of its Message-ID.

    Hex survives servers that change the case of a local part, and fits in its 64 characters.
    """
    found = _DIGEST.search(message_id)
    if found:
        return found.group(1)
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


def bounce_address(template: str, message_id: str) -> str:
    """The envelope sender of one message: `bounces+{token}@…` with the message's tag, or as it is."""
    return template.replace("{token}", message_tag(message_id)) if "{token}" in template else template


def tag_in_address(template: str, address: str) -> str | None:
    """The message tag a bounce was addressed with, if `address` is `template` with a tag in it."""
    if "{token}" not in template:
        return None
    before, _, after = template.lower().partition("{token}")
    address = address.strip().strip("<>").lower()
    if not (address.startswith(before) and address.endswith(after)):
        return None
    tag = address[len(before) : len(address) - len(after)]
    return tag if re.fullmatch(r"[0-9a-f]{32}", tag) else None


# -- pulling suppressions -------------------------------------------------------------------------

_PULL = b"newsletter suppressions pull v1\n"
PULL_LEEWAY = 300  # seconds a pull credential is good for, either side of its time


def pull_credential(secret: str, since: str, now: int) -> str:
    """What a sender sends (`Authorization: Bearer …`) to fetch the suppressions added since `since`.

    It proves knowledge of the secret without sending it, and is good for a few minutes only.
    """
    payload = f"{now}\n{since}".encode()
    return f"{now}.{_b64(_mac(secret, _PULL, payload, 32))}"


def check_pull_credential(credential: str, secrets: Sequence[str], since: str, now: int) -> bool:
    moment, _, mac_text = credential.strip().partition(".")
    if not moment.isdigit() or abs(int(moment) - now) > PULL_LEEWAY:
        return False
    try:
        mac = _unb64(mac_text)
    except (binascii.Error, ValueError):
        return False
    payload = f"{moment}\n{since}".encode()
    return any(hmac.compare_digest(_mac(secret, _PULL, payload, 32), mac) for secret in secrets)
