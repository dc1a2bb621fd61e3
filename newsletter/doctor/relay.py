"""The doctor's relay check: one SMTP session, step by step, that sends nothing.

Host, connection and greeting, EHLO, TLS and the certificate, the login, MAIL FROM and RCPT TO, the
SIZE limit, then RSET; when a bounce address is the envelope sender, MAIL FROM with the From address
too (the From header itself needs a real message: the round trip), RSET, and QUIT. Each step is a
finding; the first that fails is the last, with what to change. The session is opened with the
sending package's own pieces (`greeting`, `login`, `refusal_of_us`), so that the doctor and a real
send say the same about the same server.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from newsletter.doctor.findings import Finding
from newsletter.doctor.login_fixes import login_fix
from newsletter.doctor.tls import certificate_names, certificate_refused, tls_findings
from newsletter.errors import SendError
from newsletter.sending.base import SendFailure
from newsletter.sending.greeting import GREETING_WAIT, ImplicitTLS, PlainSMTP
from newsletter.sending.login import log_in
from newsletter.sending.smtp import Security, SMTPSender, refusal_of_us

AREA = "relay"
_SEND_AS = "Microsoft 365: the mailbox or one it has Send As for; Amazon SES: a verified identity"
_PLACE = "NEWSLETTER_SMTP_HOST and NEWSLETTER_SMTP_PORT"


@dataclass(frozen=True)
class RelayCheck:
    sender: SMTPSender
    envelope_from: str  # MAIL FROM: the round-trip message's envelope sender
    from_address: str  # NEWSLETTER_FROM's address: when it is the envelope sender, that is the setting
    recipient: str  # RCPT TO: the round-trip address
    # The size in bytes of the newest issue's message, weighed against the SIZE limit; None: no issue.
    issue_size: Callable[[], int | None] = lambda: None


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.what)
        self.finding = finding


def relay_findings(check: RelayCheck) -> list[Finding]:
    """Each step's finding, up to the first that fails."""
    session = _Session(check)
    try:
        session.run()
    except _Stop as stop:
        session.found.append(stop.finding)
    finally:
        session.close()
    return session.found


def _error(what: str, fix: str) -> _Stop:
    return _Stop(Finding.error(AREA, what, fix))


def _text(message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(text.split())


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Session:
    def __init__(self, check: RelayCheck) -> None:
        self.check = check
        self.sender = check.sender
        self.where = f"{self.sender.host}:{self.sender.port}"
        self.context = self.sender.ssl_context or ssl.create_default_context()
        self.smtp: smtplib.SMTP | None = None
        self.found: list[Finding] = []

    def ok(self, what: str) -> None:
        self.found.append(Finding.ok(AREA, what))

    def run(self) -> None:
        self._resolve()
        smtp = self._connect()
        with self._step("EHLO"):
            self._ehlo(smtp, "EHLO")
            self._tls(smtp)
            self._log_in(smtp)
            self._mail_from(smtp)
            self._rcpt_to(smtp)
            self._size(smtp)
            smtp.rset()
            self._from_address(smtp)
        self.ok("RSET and QUIT: the session ends here, nothing was sent")

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        try:
            yield
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise _error(
                f"{self.where} closed the connection during the session ({e or 'no reason given'})",
                f"run doctor again; if it stays so, raise NEWSLETTER_SMTP_TIMEOUT or ask the relay's admin "
                f"(after {name})",
            ) from None

    def _resolve(self) -> None:
        host, port = self.sender.host, self.sender.port
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise _error(
                f"{host}: unknown host ({e.strerror})",
                "NEWSLETTER_SMTP_HOST: the relay's name as its provider gives it, e.g. smtp.office365.com",
            ) from None
        addresses = sorted({str(info[4][0]) for info in found})
        shown = ", ".join(addresses[:3]) + (" …" if len(addresses) > 3 else "")
        self.ok(f"{host} is {shown}" if addresses != [host] else f"{host}: an address, nothing to look up")

    def _connect(self) -> smtplib.SMTP:
        s = self.sender
        wait = min(s.timeout, GREETING_WAIT)
        # Made without a host, then connected: smtplib's constructor would drop the greeting's words.
        smtp: smtplib.SMTP = (
            ImplicitTLS("", 0, s.timeout, self.context, wait)
            if s.security is Security.SSL
            else PlainSMTP("", 0, s.timeout, wait)
        )
        smtp._host = s.host  # type: ignore[attr-defined]  # STARTTLS checks the certificate against it
        self.smtp = smtp
        try:
            code, greeting = smtp.connect(s.host, s.port)
        except ssl.SSLCertVerificationError as e:
            raise _Stop(
                certificate_refused(AREA, self.where, s.host, e, lambda: certificate_names(s))
            ) from None
        except ConnectionRefusedError:
            raise _error(
                f"{self.where}: connection refused (nothing listens on port {s.port})",
                f"{_PLACE}: the relay's submission port, usually 587 (starttls) or 465 (ssl)",
            ) from None
        except TimeoutError:
            raise _error(
                f"{self.where}: no answer within {s.timeout:g} s",
                f"{_PLACE}; many networks block outgoing port 25: use 587, or ask whoever runs this "
                "network to allow the relay's port",
            ) from None
        except SendError as e:
            raise _error(
                str(e), "NEWSLETTER_SMTP_PORT and NEWSLETTER_SMTP_SECURITY, which go together"
            ) from None
        except (SendFailure, smtplib.SMTPException, OSError) as e:
            raise _error(f"{self.where}: cannot connect ({e})", _PLACE) from None
        self.ok(f"{self.where} answers")
        said = f"{code} {_text(greeting)}"
        if code != 220:
            raise _error(
                f"{self.where} greets with a refusal: {said}",
                "the relay does not take mail from this machine's address: ask its admin, or check "
                "NEWSLETTER_SMTP_HOST",
            )
        self.ok(f"greeting: {said}")
        return smtp

    def _ehlo(self, smtp: smtplib.SMTP, when: str) -> None:
        code, message = smtp.ehlo()
        if code != 250:
            raise _error(f"{self.where} refuses {when}: {code} {_text(message)}", _PLACE)
        offered = ", ".join(" ".join([k.upper(), *v.split()]) for k, v in smtp.esmtp_features.items())
        self.ok(f"{when}: offers {offered or 'no extensions'}")

    def _tls(self, smtp: smtplib.SMTP) -> None:
        s = self.sender
        if s.security is Security.NONE:
            if smtp.has_extn("starttls"):
                self.found.append(
                    Finding.warning(
                        AREA,
                        f"{self.where} offers STARTTLS, but NEWSLETTER_SMTP_SECURITY=none sends unencrypted",
                        "NEWSLETTER_SMTP_SECURITY=starttls",
                    )
                )
            elif not _loopback(s.host):
                self.found.append(
                    Finding.warning(
                        AREA,
                        f"{self.where} offers no TLS: the mail crosses the network unencrypted",
                        "a relay with TLS (NEWSLETTER_SMTP_HOST), unless this network is trusted as a whole",
                    )
                )
            return
        if s.security is Security.STARTTLS:
            if not smtp.has_extn("starttls"):
                raise _error(
                    f"{self.where} does not offer STARTTLS",
                    "NEWSLETTER_SMTP_SECURITY=ssl with NEWSLETTER_SMTP_PORT=465 if the relay has implicit "
                    "TLS there, or =none only for a relay on a trusted network",
                )
            try:
                smtp.starttls(context=self.context)
            except ssl.SSLCertVerificationError as e:
                raise _Stop(
                    certificate_refused(AREA, self.where, s.host, e, lambda: certificate_names(s))
                ) from None
            except ssl.SSLError as e:
                raise _error(
                    f"{self.where}: the TLS handshake after STARTTLS failed ({e.reason or e})",
                    "the relay's TLS settings (its admin); this machine's OpenSSL needs TLS 1.2 or later",
                ) from None
            except smtplib.SMTPResponseException as e:
                raise _error(
                    f"{self.where} refuses STARTTLS: {e.smtp_code} {_text(e.smtp_error)}", _PLACE
                ) from None
        sock = smtp.sock
        if isinstance(sock, ssl.SSLSocket):
            self.found += tls_findings(AREA, self.where, sock)
        if s.security is Security.STARTTLS:
            self._ehlo(smtp, "EHLO after STARTTLS")

    def _log_in(self, smtp: smtplib.SMTP) -> None:
        s = self.sender
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if not s.username:
            self.ok(
                "no login (NEWSLETTER_SMTP_USERNAME is empty): the relay must know this machine by its "
                f"address; it offers AUTH {' '.join(offered) or 'not at all'}"
            )
            return
        kind = "OAuth2 (XOAUTH2)" if s.tokens else "a password"
        try:
            log_in(smtp, self.where, s.username, s.password, s.tokens)
        except SendError as e:
            raise _error(str(e), login_fix(str(e), s.tokens)) from None
        except SendFailure as e:
            raise _error(
                f"{self.where}: no token to log in with ({e})",
                "run doctor again in a minute; if it stays so, this machine does not reach Microsoft Entra "
                "ID (login.microsoftonline.com, or NEWSLETTER_OAUTH_AUTHORITY): a proxy or firewall",
            ) from None
        self.ok(f"logged in as {s.username!r} with {kind} (offered: {' '.join(offered)})")

    def _envelope_setting(self) -> str:
        same = self.check.envelope_from.lower() == self.check.from_address.lower()
        return "NEWSLETTER_FROM" if same else "NEWSLETTER_BOUNCE_ADDRESS (the envelope sender)"

    def _mail_from(self, smtp: smtplib.SMTP) -> None:
        sender = self.check.envelope_from
        options = []
        if not (sender + self.check.recipient).isascii():
            if not smtp.has_extn("smtputf8"):
                raise _error(
                    f"{self.where} does not take international addresses (no SMTPUTF8): {sender} or "
                    f"{self.check.recipient} cannot go through it",
                    f"{self._envelope_setting()} (and doctor --to) in ASCII, or a relay that offers SMTPUTF8",
                )
            options = ["SMTPUTF8"]  # smtplib then writes this session's commands in UTF-8
        code, message = smtp.mail(sender, options)
        if code == 250:
            later = (
                ""
                if self._bounce_is_from()
                else "; the From address is tried next, the From header itself only by the round trip"
            )
            self.ok(f"MAIL FROM:<{sender}> accepted ({self._envelope_setting()}){later}")
            return
        text = _text(message)
        refused = refusal_of_us(self.where, code, text, logged_in=bool(self.sender.username), sender=sender)
        raise _error(
            str(refused) if refused else f"{self.where} refuses MAIL FROM:<{sender}>: {code} {text}",
            self._login_settings(refused)
            or f"{self._envelope_setting()} must be an address that "
            f"NEWSLETTER_SMTP_USERNAME may send as ({_SEND_AS})",
        )

    def _bounce_is_from(self) -> bool:
        return self.check.envelope_from.lower() == self.check.from_address.lower()

    def _login_settings(self, refused: SendError | None) -> str | None:
        """The login settings, of the kind in use, when the relay wants a login rather than another sender."""
        if refused is None or "requires a login" not in str(refused):
            return None
        if self.sender.tokens is not None:
            return (
                f"{self.sender.tokens.settings}, and NEWSLETTER_SMTP_USERNAME: the mailbox the token is for"
            )
        return "NEWSLETTER_SMTP_USERNAME and NEWSLETTER_SMTP_PASSWORD (or NEWSLETTER_SMTP_AUTH=xoauth2)"

    def _from_address(self, smtp: smtplib.SMTP) -> None:
        """With a bounce address as envelope sender, MAIL FROM with the From address too (after RSET): a
        relay that checks Send As on MAIL FROM refuses it here, as Microsoft 365 would refuse the From
        header at the end of DATA (554 5.2.252 SendAsDenied). The header itself needs a real message."""
        address = self.check.from_address
        if self._bounce_is_from() or not address.isascii():
            return
        code, message = smtp.mail(address)
        smtp.rset()
        if code == 250:
            self.ok(
                f"MAIL FROM:<{address}> accepted too (NEWSLETTER_FROM, tried for the From header, which only "
                "the round trip sends)"
            )
            return
        text = _text(message)
        said = (
            f"{self.where} refuses MAIL FROM:<{address}>, the From address (NEWSLETTER_FROM): {code} {text}"
        )
        if code >= 500 and refusal_of_us(self.where, code, text, logged_in=bool(self.sender.username)):
            raise _error(
                f"{said}; the relay will refuse the From header too",
                f"NEWSLETTER_FROM must be an address that NEWSLETTER_SMTP_USERNAME may send as ({_SEND_AS})",
            )
        self.found.append(
            Finding.warning(
                AREA,
                f"{said}; it may take it in the From header, or refuse the message at DATA (Microsoft 365: "
                "554 5.2.252 SendAsDenied)",
                "run doctor without --no-send: the round trip sends the From header",
            )
        )

    def _rcpt_to(self, smtp: smtplib.SMTP) -> None:
        recipient = self.check.recipient
        code, message = smtp.rcpt(recipient)
        if code in (250, 251):
            self.ok(f"RCPT TO:<{recipient}> accepted")
            return
        text = _text(message)
        refused = refusal_of_us(self.where, code, text, logged_in=bool(self.sender.username))
        if refused:
            raise _error(
                str(refused),
                f"{self._envelope_setting()} and NEWSLETTER_SMTP_USERNAME: an account and sender this relay "
                "lets send to other domains",
            )
        raise _error(
            f"{self.where} refuses RCPT TO:<{recipient}>: {code} {text}",
            "if that address exists, the relay does not let this sender send to it; otherwise give "
            "doctor --to an address that exists (or fix NEWSLETTER_BOUNCE_ADDRESS)",
        )

    def _size(self, smtp: smtplib.SMTP) -> None:
        limit = smtp.esmtp_features.get("size", "").strip()
        if not limit.isdigit() or int(limit) == 0:
            return
        most = int(limit)
        size = self.check.issue_size()
        if size is None:
            self.ok(f"takes messages up to {_mb(most)} (no issue to weigh against it)")
            return
        weighed = f"the newest issue's message is {_mb(size)}, the relay takes at most {_mb(most)}"
        fix = "smaller images in the issue (they travel inside the message), or a higher limit from the relay"
        if size > most:
            raise _error(weighed, fix)
        if size > most * 0.8:
            self.found.append(Finding.warning(AREA, weighed, fix))
        else:
            self.ok(weighed)

    def close(self) -> None:
        if self.smtp is None or self.smtp.sock is None:
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            with suppress(OSError):
                self.smtp.close()


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"
