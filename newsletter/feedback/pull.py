"""The pull: a sender on another machine than the unsubscribe endpoint fetches the suppressions the
endpoint recorded since its last pull and merges them into its own ledger (`newsletter suppress
pull`, and `send` and `dispatch` before their first message).

The protocol, shared with `newsletter serve`: `GET <NEWSLETTER_SUPPRESSIONS_URL>?since=<ISO or empty>`
with `Authorization: Bearer <tokens.pull_credential(secret, since, now)>`; the answer is JSON,
`{"suppressions": [{email, reason, source, issue, detail, added_at}, …], "old_links": [{token, source,
at}, …], "until": ISO}`; `old_links` are unsubscribes through links of messages sent before links
named their reader, which only the sender can match (it knows whom it sent to). `since` is
inclusive: a row added at the moment of `until` comes again next time and changes nothing, as
`merge_suppressions` keeps an address's first entry. `until` is kept in the ledger, per URL, and
sent as the next `since`.

Plain `urllib`: one GET with a header and a JSON answer needs no more, and it checks the endpoint's
certificate against the system's authorities as a browser does. Redirects are refused, not followed:
urllib would carry the credential along to wherever they point.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import (
    HTTPDefaultErrorHandler,
    HTTPErrorProcessor,
    HTTPHandler,
    HTTPSHandler,
    OpenerDirector,
    ProxyHandler,
    Request,
)

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from newsletter.composing import tokens
from newsletter.errors import PullError
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback, FeedbackKind
from newsletter.ledger.suppressions import Suppression
from newsletter.model import address_key

# Fixed rather than a setting: the endpoint answers from its own ledger in well under a second, and a
# person waiting at `send` should hear within seconds that it does not.
PULL_TIMEOUT = 15.0
# Far above any real list (10,000 suppressions are about 2 MB): only a wrong address sends more.
MAX_ANSWER = 64 * 1024 * 1024
EXAMPLE = "https://nieuws.example.org/uitschrijven/suppressions"


@dataclass(frozen=True)
class Endpoint:
    """Where the suppressions are fetched (NEWSLETTER_SUPPRESSIONS_URL, checked) and the secret that
    signs the credential (NEWSLETTER_SECRET)."""

    url: str
    secret: str
    timeout: float = PULL_TIMEOUT
    previous: tuple[str, ...] = ()  # NEWSLETTER_PREVIOUS_SECRETS: old links may be signed with one
    lists: frozenset[str] = frozenset()  # the layouts' List-Ids: old deliveries did not record theirs

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    @property
    def note(self) -> str:
        """The ledger's note that keeps the `until` of the last pull from this URL."""
        return f"suppressions pulled until, from {self.url}"


@dataclass(frozen=True)
class Pulled:
    """One pull: how many suppressions came, how many were new here, and where the next one starts."""

    host: str
    fetched: int
    new: int
    until: str | None

    def sentence(self) -> str:
        if not self.new:
            return f"nothing new for the suppression list from {self.host}"
        added = "1 address" if self.new == 1 else f"{self.new} addresses"
        return f"{added} added to the suppression list from {self.host}"


def pull(endpoint: Endpoint, ledger: Ledger, now: dt.datetime) -> Pulled:
    """Fetch what the endpoint recorded since the last pull and merge it into `ledger`; PullError
    when it cannot be fetched (then nothing changes).

    Their rows still due in a delivery become `skipped` at once (`merge_suppressions`), so the
    question before a send and the dry run count them where the send will.
    """
    since = ledger.note(endpoint.note) or ""
    pulled, old, until = fetch(endpoint, since)
    where = f"pulled from {endpoint.host}"
    # The endpoint on a machine of its own knows no issues: credit the one this sender last sent.
    pulled = [
        row if row.issue else dataclasses.replace(row, issue=ledger.latest_issue_to(row.email))
        for row in pulled
    ]
    new = ledger.merge_suppressions(pulled, now, source=where) if pulled else 0
    for row in pulled:
        _count(ledger, row, where)
    new += sum(_match_old_link(ledger, endpoint, link, where) for link in old)
    if until and until != since:
        ledger.set_note(endpoint.note, until)
    return Pulled(endpoint.host, len(pulled) + len(old), new, until or since or None)


_KINDS: dict[str, FeedbackKind] = {
    "unsubscribed": "unsubscribed",
    "complained": "complained",
    "bounced": "bounced_hard",
}


def _count(ledger: Ledger, row: Suppression, where: str) -> None:
    """Record a pulled unsubscribe (or complaint, bounce) as feedback too, credited to the issue this
    sender last sent the reader, so that `status` counts it under that issue."""
    kind = _KINDS.get(row.reason)
    if kind is None:
        return
    ledger.record(
        Feedback(
            kind=kind,
            email=row.email,
            source=f"{row.source} ({where})",
            at=dt.datetime.fromisoformat(row.added_at),
            issue=row.issue or ledger.latest_issue_to(row.email),
            detail=row.detail,
            evidence=f"pulled {address_key(row.email)} {row.added_at}",
        )
    )


def _match_old_link(ledger: Ledger, endpoint: Endpoint, link: _OldLink, where: str) -> bool:
    """Match an old-form link the endpoint could not (it sent to nobody) against the addresses this
    ledger sent to; True if that suppressed someone new."""
    secrets = (endpoint.secret, *endpoint.previous)
    reader = tokens.match_legacy(
        link.token, secrets, endpoint.lists | ledger.list_ids(), ledger.sent_addresses()
    )
    if reader is None:
        return False
    listed = ledger.is_suppressed(reader.email)
    ledger.record(
        Feedback(
            kind="unsubscribed",
            email=reader.email,
            source=f"{link.source} ({where})",
            at=dt.datetime.fromisoformat(link.at),
            issue=ledger.latest_issue_to(reader.email),
            evidence=f"unsubscribe {reader.list_id} {address_key(reader.email)}",
        )
    )
    if not ledger.is_suppressed(reader.email):  # let back in by staff since, and asking again
        ledger.suppress(
            [reader.email], "unsubscribed", dt.datetime.fromisoformat(link.at), source=link.source
        )
    return not listed


class _Row(BaseModel):
    """One suppression as the endpoint sends it; keys added by a later version are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    email: str
    reason: str = Field(min_length=1)
    source: str = "endpoint"
    issue: str | None = None
    detail: str = ""
    added_at: str

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        if not re.fullmatch(r"[^\s@]+@[^\s@]+", value) or len(value) > 320:
            raise PydanticCustomError("address", "{value} is not an address", {"value": repr(value)})
        return value

    @field_validator("added_at")
    @classmethod
    def _moment(cls, value: str) -> str:
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "moment", "{value} is not an ISO time", {"value": repr(value)}
            ) from None
        return value


class _OldLink(BaseModel):
    """An old-form link the endpoint could not match: it sent to nobody, this sender did."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    token: str = Field(max_length=64)
    source: str = "endpoint"
    at: str

    @field_validator("at")
    @classmethod
    def _moment(cls, value: str) -> str:
        return _Row._moment(value)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    suppressions: list[_Row]
    old_links: list[_OldLink] = []  # an endpoint of an older version sends none
    until: str | None = None


def _opener() -> OpenerDirector:
    """urllib's usual handlers but the one that follows redirects: a 3xx comes back as an HTTPError."""
    opener = OpenerDirector()
    for handler in (
        ProxyHandler(),
        HTTPHandler(),
        HTTPSHandler(),
        HTTPDefaultErrorHandler(),
        HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def fetch(endpoint: Endpoint, since: str) -> tuple[list[Suppression], list[_OldLink], str]:
    """The suppressions and unmatched old links the endpoint recorded at or after `since` ("" for
    all), and the `until` to send next time; PullError naming NEWSLETTER_SUPPRESSIONS_URL when they
    cannot be had."""
    # The endpoint checks the credential against its own clock: the real time, never dispatch's --now.
    credential = tokens.pull_credential(endpoint.secret, since, int(time.time()))
    joiner = "&" if "?" in endpoint.url else "?"
    request = Request(  # noqa: S310 - config.pull allows https only, http only to this machine
        endpoint.url + joiner + urlencode({"since": since}),
        headers={
            "Authorization": f"Bearer {credential}",
            "Accept": "application/json",
            "User-Agent": "newsletter suppress pull",
        },
    )
    try:
        with _opener().open(request, timeout=endpoint.timeout) as response:
            body = response.read(MAX_ANSWER + 1)
            kind = response.headers.get_content_type()
    except HTTPError as e:
        e.close()  # it holds the connection of the answer
        raise PullError(endpoint.url, _refusal(e)) from None
    except URLError as e:
        raise PullError(endpoint.url, _unreachable(e.reason, endpoint)) from None
    except (OSError, http.client.HTTPException) as e:
        raise PullError(endpoint.url, _unreachable(e, endpoint)) from None
    answer = _answer(endpoint.url, body, kind)
    rows = [
        Suppression(
            email=row.email,
            reason=row.reason,
            source=row.source,
            added_at=row.added_at,
            issue=row.issue,
            detail=row.detail,
        )
        for row in answer.suppressions
    ]
    latest = max([row.added_at for row in rows] + [link.at for link in answer.old_links], default=since)
    return rows, list(answer.old_links), answer.until or latest


def _refusal(e: HTTPError) -> str:
    """What an answer other than 200 means, and what to do about it."""
    code = e.code
    if code in (401, 403):
        minutes = tokens.PULL_LEEWAY // 60
        return (
            f"the endpoint refused the credential ({code}): NEWSLETTER_SECRET differs from the endpoint's "
            f"(or the clock of one of the two machines is more than {minutes} minutes off)"
        )
    if 300 <= code < 400:
        where = e.headers.get("Location") if e.headers else None
        return f"the endpoint redirects ({code}) to {where or 'another address'}: set it to that address"
    if code == 404:
        return (
            "the endpoint answered 404 Not Found: the address is the path of NEWSLETTER_UNSUBSCRIBE_URL "
            f"followed by /suppressions, e.g. {EXAMPLE}"
        )
    return f"the endpoint answered {code} {e.reason}: try again later, or look at the endpoint's log"


def _unreachable(reason: object, endpoint: Endpoint) -> str:
    """Why no answer came: the connection, TLS, or the time it took."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            f"the endpoint's certificate is not trusted ({reason.verify_message}): it needs one for "
            f"{endpoint.host} from an authority such as Let's Encrypt (Caddy gets one by itself)"
        )
    if isinstance(reason, ssl.SSLError):
        return f"no TLS connection with the endpoint ({reason.reason or reason}): does it answer https there?"
    if isinstance(reason, TimeoutError) or str(reason) == "timed out":
        return f"the endpoint did not answer within {endpoint.timeout:g} seconds; try again later"
    if isinstance(reason, ConnectionRefusedError):
        netloc = urlsplit(endpoint.url).netloc
        return f"nothing answers at {netloc} (connection refused): is the endpoint running?"
    if isinstance(reason, socket.gaierror):
        return f"the host {endpoint.host} is not found ({reason.strerror}): check the address"
    words = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    return f"cannot reach the endpoint ({words or type(reason).__name__}); try again later"


def _answer(url: str, body: bytes, kind: str) -> _Answer:
    """The answer read as the protocol's JSON; PullError saying what else it is."""
    if len(body) > MAX_ANSWER:
        raise PullError(url, f"the answer is over {MAX_ANSWER // 2**20} MB: is this the endpoint's address?")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PullError(
            url, f"the answer is not JSON but {kind}: is this the endpoint's address, e.g. {EXAMPLE}?"
        ) from None
    try:
        return _Answer.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise PullError(
            url, f"the answer is JSON but not the endpoint's list of suppressions ({where}: {first['msg']})"
        ) from None
