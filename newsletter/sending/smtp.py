"""Sending over SMTP: STARTTLS by default, implicit TLS or plain when asked, AUTH (`login`: a password
or an OAuth2 token), reused connections.

The DATA phase is driven by hand so that we know whether a lost connection happened before the
message was handed over (safe to retry) or after it, while waiting for the reply (ambiguous).

Connecting checks that the other end is an SMTP server spoken to the way it expects (`greeting`).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from enum import StrEnum

from newsletter.errors import SendError
from newsletter.sending.base import Ambiguous, Connection, Permanent, Reply, SendFailure, Temporary
from newsletter.sending.greeting import GREETING_WAIT, ImplicitTLS, PlainSMTP, not_smtp
from newsletter.sending.login import TokenSource, log_in


def dot_stuff(data: bytes) -> bytes:
    """Double every dot that starts a line (RFC 5321 4.5.2); a third of the time of a regex."""
    stuffed = data.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class Security(StrEnum):
    STARTTLS = "starttls"
    SSL = "ssl"
    NONE = "none"


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message


NO_SMTPUTF8 = "the server does not accept international addresses (no SMTPUTF8)"


def _bytes(message: bytes | str) -> bytes:
    return message if isinstance(message, bytes) else message.encode("utf-8", "replace")


# A server that answers this to MAIL FROM or RCPT TO refuses us, not the reader: no recipient would be
# accepted until a setting is fixed, so the run stops with everyone still due.
_LOGIN_WANTED = re.compile(
    r"\b5\.7\.0\b|authentication required|must authenticate|auth(entication)? needed", re.I
)
_NO_RELAY = re.compile(r"relay|relaying", re.I)
_NOT_AS_SENDER = re.compile(
    r"permissions? to send as|not (allowed|authori[sz]ed) to send as|send as this sender", re.I
)


# The envelope sender is NEWSLETTER_FROM's address, or NEWSLETTER_BOUNCE_ADDRESS when that is set.
_SENDER_FIX = (
    "check that NEWSLETTER_FROM (and NEWSLETTER_BOUNCE_ADDRESS, the envelope sender, when set) is an "
    "address this account may send as"
)


def refusal_of_us(
    where: str, code: int, text: str, *, logged_in: bool, sender: str | None = None
) -> SendError | None:
    """The SendError for a 5xx reply to MAIL FROM or RCPT TO that is about our account or this host
    (a login wanted, relaying denied, a From this account may not use), or None for a reader's refusal.
    `sender` is the envelope sender MAIL FROM gave, when the reply is to that."""
    if code < 500:
        return None
    said = f"{code} {text}"
    if code == 530 or _LOGIN_WANTED.search(text):
        if logged_in:
            return SendError(
                f"the mail server {where} still requires a login after ours ({said}); check "
                "NEWSLETTER_SMTP_USERNAME, NEWSLETTER_SMTP_PASSWORD and NEWSLETTER_SMTP_SECURITY"
            )
        return SendError(
            f"the mail server requires a login ({where}: {said}): set NEWSLETTER_SMTP_USERNAME and "
            "NEWSLETTER_SMTP_PASSWORD"
        )
    if _NOT_AS_SENDER.search(text):
        return SendError(
            f"the mail server {where} does not let this account send as "
            f"{repr(sender) if sender else 'the sender'} ({said}): {_SENDER_FIX}, or ask the mail admin to "
            "allow it"
        )
    if _NO_RELAY.search(text):
        login = (
            "check NEWSLETTER_SMTP_USERNAME"
            if logged_in
            else "log in (set NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD)"
        )
        return SendError(
            f"the mail server {where} refuses to relay our mail ({said}): {login}, send through the "
            "organisation's relay (NEWSLETTER_SMTP_HOST), or ask the mail admin to allow this host"
        )
    return None


def _failure(code: int, message: bytes | str) -> SendFailure:
    reply = Reply(code, _text(message))
    if 400 <= code < 500:
        return Temporary(reply, connection_lost=code == 421)
    return Permanent(reply)


@dataclass
class SMTPSender:
    host: str
    port: int
    security: Security = Security.STARTTLS
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # With a token source the login is OAuth2 (XOAUTH2) as `username`, and the password is not used.
    tokens: TokenSource | None = None
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None
    # Send the password without TLS: only for a relay on a network that is trusted as a whole.
    allow_plaintext_auth: bool = False

    @property
    def description(self) -> str:
        return f"{self.host}:{self.port} ({self.security.value})"

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def connect(self) -> SMTPConnection:
        where = f"{self.host}:{self.port}"
        plaintext_login = self.security is Security.NONE and bool(self.username)
        if plaintext_login and not self.allow_plaintext_auth:
            raise SendError(
                f"NEWSLETTER_SMTP_SECURITY=none would send the password for {self.username!r} to {where} "
                "unencrypted; use starttls or ssl, or set NEWSLETTER_SMTP_PLAINTEXT_AUTH=allow for a relay "
                "on a trusted network"
            )
        wait = min(self.timeout, GREETING_WAIT)
        smtp: smtplib.SMTP | None = None
        try:
            if self.security is Security.SSL:
                smtp = ImplicitTLS(self.host, self.port, self.timeout, self._context(), wait)
            else:
                smtp = PlainSMTP(self.host, self.port, self.timeout, wait)
            smtp.ehlo()
            if self.security is Security.STARTTLS:
                if not smtp.has_extn("starttls"):
                    raise SendError(
                        f"{where} does not offer STARTTLS; set NEWSLETTER_SMTP_SECURITY=ssl for port 465, "
                        "or =none only for a relay on a trusted network"
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if plaintext_login and smtp.has_extn("starttls"):
                raise SendError(
                    f"{where} offers STARTTLS, and NEWSLETTER_SMTP_SECURITY=none would send the password "
                    "unencrypted all the same; set NEWSLETTER_SMTP_SECURITY=starttls"
                )
            if self.username:
                log_in(smtp, where, self.username, self.password, self.tokens)
        except ssl.SSLCertVerificationError as e:
            _close(smtp)
            raise SendError(
                f"{where}: the server's TLS certificate is not trusted ({e.verify_message}); check "
                "NEWSLETTER_SMTP_HOST is the name on the certificate, or install the CA that signed it"
            ) from None
        except socket.gaierror as e:
            _close(smtp)
            raise SendError(f"{where}: unknown host ({e.strerror}); check NEWSLETTER_SMTP_HOST") from None
        except smtplib.SMTPResponseException as e:
            _close(smtp)
            if e.smtp_code == -1:
                # smtplib's code for a reply that does not start with three digits.
                raise not_smtp(where, _bytes(e.smtp_error)) from None
            if 400 <= e.smtp_code < 500:
                raise Temporary(Reply(e.smtp_code, _text(e.smtp_error)), connection_lost=True) from None
            raise SendError(f"{where} refused us: {e.smtp_code} {_text(e.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as e:
            _close(smtp)
            # "Connection refused", as people know it, rather than "[Errno 111] Connection refused".
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise Temporary(Reply(0, f"cannot connect to {where}: {why}"), connection_lost=True) from None
        except BaseException:
            _close(smtp)
            raise
        return SMTPConnection(smtp, where, logged_in=bool(self.username))


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


@dataclass
class SMTPConnection(Connection):
    smtp: smtplib.SMTP
    where: str
    logged_in: bool = False

    def _reset(self) -> None:
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        smtp = self.smtp
        options = self._options(sender, recipient)
        try:
            code, message = smtp.mail(sender, options)
            if code != 250:
                self._reset()
                if refused := refusal_of_us(
                    self.where, code, _text(message), logged_in=self.logged_in, sender=sender
                ):
                    raise refused
                if code >= 500:
                    raise SendError(
                        f"{self.where} refuses the sender {sender!r}: {code} {_text(message)}; {_SENDER_FIX}"
                    )
                raise _failure(code, message)
            code, message = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                if refused := refusal_of_us(self.where, code, _text(message), logged_in=self.logged_in):
                    raise refused
                raise _failure(code, message)
            smtp.putcmd("data")
            code, message = smtp.getreply()
            if code != 354:
                self._reset()
                raise _failure(code, message)
            body = dot_stuff(data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            # Until the final dot has gone out the server cannot have accepted the message.
            smtp.send(body + b".\r\n")
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.close()
            raise Temporary(Reply(0, f"connection lost: {e}"), connection_lost=True) from None
        try:
            code, message = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            self.close()
            raise Ambiguous(
                Reply(0, f"connection lost after the message was handed over: {e}"), connection_lost=True
            ) from None
        if code == 250:
            return Reply(code, _text(message))
        raise _failure(code, message)

    def _options(self, sender: str, recipient: str) -> list[str]:
        """MAIL FROM's parameters: SMTPUTF8 for an international address (RFC 6531), which then
        also stands in the message's To in UTF-8; a server without it cannot take that one message."""
        if sender.isascii() and recipient.isascii():
            return []
        if not self.smtp.has_extn("smtputf8"):
            raise Permanent(Reply(0, NO_SMTPUTF8))
        # smtplib then writes this connection's commands in UTF-8 (ASCII ones are unchanged).
        return ["SMTPUTF8"]

    def close(self) -> None:
        _close(self.smtp)
