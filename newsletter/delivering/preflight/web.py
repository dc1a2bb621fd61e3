"""Asking a web server about one address, as a reader's browser would reach it: HEAD, then GET when
HEAD is refused or fails, redirects followed by hand so that loops and the final address are seen.

The standard library's urllib is enough for this and keeps the preflight free of another dependency;
certificates are checked against the system's store, as a browser would. Nothing is downloaded but
the headers of a page; an image's bytes are read when its size is asked for (`body`).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import IO
from urllib.parse import urljoin

from newsletter import __version__

USER_AGENT = f"newsletter/{__version__} (checks the links of an email newsletter before it is sent)"
TIMEOUT = 8.0
MAX_REDIRECTS = 10


class Outcome(StrEnum):
    ANSWERED = "answered"  # a final HTTP status, `status`
    TIMEOUT = "timeout"
    TLS = "tls"  # a certificate or TLS problem
    UNREACHABLE = "unreachable"  # no such host, refused, reset
    LOOP = "loop"
    TOO_MANY = "too many redirects"


@dataclass(frozen=True)
class Answer:
    """What asking for `url` came to: the last status and address, and the trouble, if any."""

    url: str
    outcome: Outcome
    status: int | None = None
    final: str = ""
    reason: str = ""
    redirects: int = 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands every redirect back as an HTTPError, so that each hop is seen."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:  # noqa: ARG002 - urllib's hook
        return None


class _Trouble(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class Web:
    """A polite client: one User-Agent naming the product, short timeouts, every certificate checked."""

    def __init__(self, *, timeout: float = TIMEOUT, max_redirects: int = MAX_REDIRECTS) -> None:
        self.timeout = timeout
        self.max_redirects = max_redirects
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
        )

    def _open(self, url: str, method: str) -> tuple[int, str | None, IO[bytes]]:
        # Only http(s) addresses reach here (links.collect and images pick them), never file: or ftp:.
        request = urllib.request.Request(  # noqa: S310
            url, method=method, headers={"User-Agent": USER_AGENT, "Accept": "*/*"}
        )
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location"), e
        except urllib.error.URLError as e:
            raise _trouble(e.reason) from None
        except (TimeoutError, OSError, http.client.HTTPException) as e:
            raise _trouble(e) from None
        return response.status, None, response

    def _hop(self, url: str) -> tuple[int, str | None]:
        """One address's status and Location: HEAD, or GET where HEAD is refused, fails or errs."""
        try:
            status, location, body = self._open(url, "HEAD")
            body.close()
            if status < 400:
                return status, location
        except _Trouble as e:
            if e.outcome in (Outcome.TIMEOUT, Outcome.TLS):
                raise  # GET would wait as long, or meet the same certificate
        # HEAD refused (405, 403, 501) or failing: the server may not know HEAD. Any other 4xx or 5xx
        # is asked again with GET too before it is reported, as some servers answer HEAD wrongly.
        status, location, body = self._open(url, "GET")
        body.close()
        return status, location

    def answer(self, url: str) -> Answer:
        """Where `url` leads: the final status after the redirects, or what went wrong on the way."""
        seen = [url]
        here = url
        try:
            while True:
                status, location = self._hop(here)
                if not (300 <= status < 400 and location):
                    return Answer(url, Outcome.ANSWERED, status, here, redirects=len(seen) - 1)
                nxt = urljoin(here, location)
                if nxt in seen:
                    return Answer(url, Outcome.LOOP, status, nxt, "redirects back to " + nxt, len(seen))
                if len(seen) > self.max_redirects:
                    return Answer(url, Outcome.TOO_MANY, status, nxt, f"over {self.max_redirects}", len(seen))
                seen.append(nxt)
                if not nxt.lower().startswith(("http://", "https://")):
                    return Answer(url, Outcome.ANSWERED, status, nxt, redirects=len(seen) - 1)
                here = nxt
        except _Trouble as e:
            return Answer(url, e.outcome, None, here, e.reason, len(seen) - 1)

    def body(self, url: str, limit: int) -> bytes | None:
        """The first `limit` bytes behind `url` (redirects followed by urllib), or None if it fails."""
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310 - https only
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ssl.create_default_context())
        )
        try:
            with opener.open(request, timeout=self.timeout) as response:
                data: bytes = response.read(limit)
                return data
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
            return None


def _trouble(reason: object) -> _Trouble:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return _Trouble(Outcome.TLS, f"certificate: {reason.verify_message or reason}")
    if isinstance(reason, ssl.SSLError):
        return _Trouble(Outcome.TLS, f"TLS: {reason.reason or reason}")
    if isinstance(reason, TimeoutError | socket.timeout):
        return _Trouble(Outcome.TIMEOUT, "no answer in time")
    if isinstance(reason, socket.gaierror):
        return _Trouble(Outcome.UNREACHABLE, "no such host")
    if isinstance(reason, OSError):
        return _Trouble(Outcome.UNREACHABLE, reason.strerror or str(reason))
    return _Trouble(Outcome.UNREACHABLE, str(reason))
