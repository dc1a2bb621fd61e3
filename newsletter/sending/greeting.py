"""Opening an SMTP connection that checks the other end is an SMTP server spoken to the way it
expects: a web server, or implicit TLS asked of a STARTTLS port (or the reverse), is a setting to fix,
reported at once and naming it, not a slow server to retry for minutes.
"""

from __future__ import annotations

import re
import select
import smtplib
import socket
import ssl

from newsletter.errors import SendError
from newsletter.sending.base import Reply, Temporary

# How long a server may stay silent before its greeting, at most: a port that expects TLS first (465)
# says nothing to a client that talks plain SMTP, and waiting the whole timeout, retried, would take
# minutes to say so.
GREETING_WAIT = 5.0
_SMTP_REPLY = re.compile(rb"[2-5][0-9][0-9][ \r\n-]")
_TLS_RECORD = re.compile(rb"[\x14-\x17]\x03")


def _shown(answer: bytes) -> str:
    """The start of what a server sent, printable, for a message."""
    line = answer.split(b"\n", 1)[0].strip().decode("latin-1")
    line = "".join(c if c.isprintable() else "?" for c in line)
    return repr(line[:60] + ("..." if len(line) > 60 else ""))


def not_smtp(where: str, answer: bytes) -> SendError:
    return SendError(
        f"{where} is not an SMTP server (it answered {_shown(answer)}); check NEWSLETTER_SMTP_HOST "
        "and NEWSLETTER_SMTP_PORT"
    )


def _expect_greeting(sock: socket.socket, where: str, port: int, wait: float) -> None:
    """Return once the server has begun an SMTP greeting; raise SendError when it is something else.

    Looks at the first bytes without taking them (smtplib reads the greeting itself). A server that
    stays silent is spoken to once: an implicit-TLS port hangs up or answers with a TLS alert, a web
    server with an HTTP error.
    """
    if select.select([sock], [], [], wait)[0]:
        first = sock.recv(512, socket.MSG_PEEK)
        if first and not _SMTP_REPLY.match(first):
            raise not_smtp(where, first)
        return  # a greeting, or a hang-up that smtplib reports as such
    try:
        sock.sendall(b"EHLO newsletter\r\n")
        answer = sock.recv(512) if select.select([sock], [], [], wait)[0] else None
    except OSError:
        answer = b""
    if answer is not None and (not answer or _TLS_RECORD.match(answer)):
        raise SendError(
            f"{where} sent no SMTP greeting within {wait:g} s and hung up when spoken to in plain text, "
            f"as a port with implicit TLS does: for port {port} set NEWSLETTER_SMTP_SECURITY=ssl "
            "(or check NEWSLETTER_SMTP_PORT: STARTTLS is usually 587)"
        )
    if answer and _SMTP_REPLY.match(answer):
        raise Temporary(Reply(0, f"{where} greeted only after more than {wait:g} s"), connection_lost=True)
    if answer:
        raise not_smtp(where, answer)
    raise SendError(
        f"{where} sent no SMTP greeting within {wait:g} s and no answer when spoken to: if port {port} "
        "expects implicit TLS (usually 465), set NEWSLETTER_SMTP_SECURITY=ssl; otherwise check "
        "NEWSLETTER_SMTP_HOST and NEWSLETTER_SMTP_PORT"
    )


class PlainSMTP(smtplib.SMTP):
    """smtplib.SMTP that checks the greeting before smtplib waits the whole timeout for it."""

    def __init__(self, host: str, port: int, timeout: float, wait: float) -> None:
        self._wait = wait
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # What smtplib does, plus the check.
        sock = socket.create_connection((host, port), timeout, self.source_address)
        try:
            _expect_greeting(sock, f"{host}:{port}", port, self._wait)
        except BaseException:
            sock.close()
            raise
        return sock


class ImplicitTLS(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL that tells a port answering in plain text from a failed TLS handshake."""

    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext, wait: float) -> None:
        self._wait = wait
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> ssl.SSLSocket:
        where = f"{host}:{port}"
        # What smtplib does (connect, then the handshake), telling why a handshake failed.
        plain = socket.create_connection((host, port), timeout, self.source_address)
        try:
            sock = self.context.wrap_socket(plain, server_hostname=host)
        except ssl.SSLCertVerificationError:
            plain.close()
            raise
        except ssl.SSLError as e:
            plain.close()
            raise SendError(_handshake_failed(where, port, e)) from None
        except BaseException:
            plain.close()
            raise
        if not sock.pending() and not select.select([sock], [], [], self._wait)[0]:
            sock.close()
            raise SendError(
                f"{where} completed a TLS handshake but sent no SMTP greeting within {self._wait:g} s; "
                "check NEWSLETTER_SMTP_HOST and NEWSLETTER_SMTP_PORT (is it a web server?)"
            )
        return sock


def _handshake_failed(where: str, port: int, error: ssl.SSLError) -> str:
    # What OpenSSL says when the first bytes back are no TLS record, e.g. an SMTP greeting "220 …".
    if error.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE"):
        return (
            f"{where} does not speak TLS from the first byte (it answered in plain text): if port {port} "
            "is the mail server's STARTTLS port (usually 587), set NEWSLETTER_SMTP_SECURITY=starttls; "
            "otherwise check NEWSLETTER_SMTP_HOST and NEWSLETTER_SMTP_PORT"
        )
    return (
        f"{where}: the TLS handshake failed ({error.reason or error}); check NEWSLETTER_SMTP_SECURITY "
        f"(ssl for implicit TLS, usually port 465; starttls for 587) and NEWSLETTER_SMTP_PORT"
    )
