"""Every DKIM signature of the round trip's copy, verified with dkimpy, and why one fails: the key is
looked up first through the doctor's resolver (a CNAME followed), so that a key that is missing,
revoked or could not be looked up is told apart from a message that changed after it was signed."""

from __future__ import annotations

from dataclasses import dataclass

import dkim

from newsletter.doctor.dkim_key import key_trouble, published
from newsletter.doctor.lookups import LookupFailed, Lookups, unchecked

_CHANGED = (
    "something between the relay's signing and the mailbox changes the message (a footer or disclaimer "
    "rule, a link rewriter, a mailing-list server): sign after it, or turn it off for the newsletter; "
    "otherwise the relay signs with another key than the one published at {name}"
)


@dataclass(frozen=True)
class Signature:
    domain: str
    selector: str
    signed: tuple[str, ...]  # h=, lower case
    verified: bool
    why: str = ""  # why not, when not
    fix: str = ""  # what to change, when not
    checked: bool = True  # False: its key could not be looked up, so nothing is known about it

    @property
    def key_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


def verify_signatures(data: bytes, lookups: Lookups) -> list[Signature]:
    checker = dkim.DKIM(data)
    values = [value for name, value in checker.headers if name.lower() == b"dkim-signature"]
    found = []
    for index, value in enumerate(values):
        try:
            tags = dkim.util.parse_tag_value(value)
        except dkim.util.InvalidTagValueList:
            found.append(_unreadable())
            continue
        domain = tags.get(b"d", b"?").decode("ascii", "replace").lower()
        selector = tags.get(b"s", b"?").decode("ascii", "replace")
        signed = tuple(h.strip().lower() for h in tags.get(b"h", b"").decode("ascii", "replace").split(":"))
        why, fix, checked = _key_problem(lookups, selector, domain)
        verified = False
        if not why:
            verified, why, fix = _verify(checker, index, lookups, f"{selector}._domainkey.{domain}")
        found.append(Signature(domain, selector, signed, verified, why, fix, checked))
    return found


def _unreadable() -> Signature:
    return Signature(
        "?", "?", (), verified=False, why="the signature cannot be read", fix="the relay's DKIM signing"
    )


def _key_problem(lookups: Lookups, selector: str, domain: str) -> tuple[str, str, bool]:
    """Why a signature with this key cannot verify, the fix, and whether that was checked; ("", "",
    True) for a usable key."""
    try:
        key = published(lookups, selector, domain)
    except LookupFailed as e:
        failed = unchecked("", f"its key {selector}._domainkey.{domain}", e)
        return failed.what, str(failed.fix), False
    why, fix = key_trouble(key) or ("", "")
    return why, fix, True


def _verify(checker: dkim.DKIM, index: int, lookups: Lookups, name: str) -> tuple[bool, str, str]:
    def dnsfunc(asked: bytes, timeout: float = 5) -> bytes | None:  # noqa: ARG001 - the resolver has its own
        try:
            values = lookups.txt(asked.decode("ascii").rstrip(".")).values
        except LookupFailed as e:
            raise dkim.DnsTimeoutError(str(e)) from None
        keys = [value for value in values if "p=" in value.replace(" ", "")]
        return keys[0].encode() if keys else None

    try:
        if checker.verify(idx=index, dnsfunc=dnsfunc):
            return True, "", ""
    except (ValueError, TypeError) as e:
        # A key of another kind than the signature's (an Ed25519 key for an rsa-sha256 signature):
        # PyNaCl or the RSA code refuses the signature's bytes before any comparison.
        return (
            False,
            f"the key at {name} is not of the signature's kind ({e}): the relay signs with another key",
            f"publish the key the relay signs with at {name}, or have it sign with the published one",
        )
    except dkim.DKIMException as e:
        if "body hash mismatch" in str(e):
            return False, "the body changed after signing (its hash bh= differs)", _CHANGED.format(name=name)
        return False, str(e), f"the relay's DKIM signing, and the key at {name}"
    return (
        False,
        f"the key at {name} is published, but the signature does not match it: the message changed "
        "after signing (a signed header), or it was signed with another key",
        _CHANGED.format(name=name),
    )
