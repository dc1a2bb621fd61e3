"""Sending over SMTP: STARTTLS by default, implicit TLS or plain when asked, AUTH, reused connections.

The DATA phase is driven by hand so that we know whether a lost connection happened before the
message was handed over (safe to retry) or after it, while waiting for the reply (ambiguous).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from enum import StrEnum

from newsletter.errors import SendError
from newsletter.send.base import Ambiguous, Permanent, Reply, SendFailure, Temporary


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
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None

    @property
    def description(self) -> str:
        return f"{self.host}:{self.port} ({self.security.value})"

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def connect(self) -> SMTPConnection:
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if self.security is Security.SSL:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security is Security.STARTTLS:
                if not smtp.has_extn("starttls"):
                    raise SendError(
                        f"{where} does not offer STARTTLS; set NEWSLETTER_SMTP_SECURITY=ssl for port 465, "
                        "or =none only for a relay on a trusted network"
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except ssl.SSLCertVerificationError as e:
            _close(smtp)
            raise SendError(
                f"{where}: the server's TLS certificate is not trusted ({e.verify_message}); check "
                "NEWSLETTER_SMTP_HOST is the name on the certificate, or install the CA that signed it"
            ) from None
        except smtplib.SMTPAuthenticationError as e:
            _close(smtp)
            raise SendError(
                f"{where}: login refused for {self.username!r} ({e.smtp_code} {_text(e.smtp_error)}); "
                "check NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPNotSupportedError:
            _close(smtp)
            raise SendError(
                f"{where} does not offer AUTH on this connection; check NEWSLETTER_SMTP_SECURITY "
                "(most servers allow login only after STARTTLS)"
            ) from None
        except socket.gaierror as e:
            _close(smtp)
            raise SendError(f"{where}: unknown host ({e.strerror}); check NEWSLETTER_SMTP_HOST") from None
        except smtplib.SMTPResponseException as e:
            _close(smtp)
            if 400 <= e.smtp_code < 500:
                raise Temporary(Reply(e.smtp_code, _text(e.smtp_error)), connection_lost=True) from None
            raise SendError(f"{where} refused us: {e.smtp_code} {_text(e.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as e:
            _close(smtp)
            raise Temporary(Reply(0, f"cannot connect to {where}: {e}"), connection_lost=True) from None
        except BaseException:
            _close(smtp)
            raise
        return SMTPConnection(smtp, where)


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


@dataclass
class SMTPConnection:
    smtp: smtplib.SMTP
    where: str

    def _reset(self) -> None:
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        smtp = self.smtp
        try:
            code, message = smtp.mail(sender)
            if code != 250:
                self._reset()
                if code >= 500:
                    raise SendError(
                        f"{self.where} refuses the sender {sender!r}: {code} {_text(message)}; "
                        "check NEWSLETTER_FROM is an address this account may send as"
                    )
                raise _failure(code, message)
            code, message = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
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

    def close(self) -> None:
        _close(self.smtp)
