"""Real SMTP servers on 127.0.0.1 for the delivery tests: aiosmtpd in a thread, recording every message.

    pytest_plugins = ["smtp_server"]

    def test_something(smtp_server):            # plain SMTP (NEWSLETTER_SMTP_SECURITY=none)
        smtp_server.recorder.fail_rcpt("x@example.org", 451)       # once, then accepted
        ...
        assert smtp_server.recorder.copies() == {...}

    def test_tls(tls_server):                   # STARTTLS with a trustme CA, AUTH LOGIN/PLAIN required
        tls_server.ca_file, tls_server.username, tls_server.password

    def test_more(start_server):                # any number, of any kind: "plain", "starttls", "ssl",
                                                # "plain-auth"
        server = start_server("starttls", mechanisms=("LOGIN",))
        server = start_server("plain", smtputf8=True)   # offers SMTPUTF8 (international addresses)

Test modules name the plugin and import its names for type checking only (importing the module
itself would keep pytest from rewriting its asserts):

    if TYPE_CHECKING:
        from smtp_server import SMTPServer

The `Recorder` is the server's handler. It keeps one `Arrival` per message that reached the end of DATA
(recipients, Message-ID, Subject, arrival time, session number, how it was answered) and can be
scripted to misbehave:

    fail_mail(code)                          refuse MAIL FROM
    fail_rcpt(address, code, times=1)        451 / 421 (then the connection is closed) / 550 at RCPT TO
    fail_data(code, nth= | address=)         the same answer to the end of DATA, for the Nth message
                                             or for a recipient
    drop_after_data(nth= | address=, keep=)  close the connection after the message arrived, without a
                                             reply (the ambiguous case); `keep` says whether the server
                                             delivered the message anyway (the worst case, default)
    delay_data(seconds, nth= | address=)     answer the end of DATA only after a while
    hold() / release()                       answer no DATA until released
    on_arrival                               a callback for every message, before it is answered

`messages` are the messages the server delivered: answered 250, or dropped with `keep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.header
import email.parser
import email.policy
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
USERNAME = "mailer"
PASSWORD = "s3cret-Pa55"


@dataclass(frozen=True)
class Arrival:
    """One message that reached the end of DATA at the server."""

    number: int  # 1, 2, … in order of arrival over all sessions
    session: int  # which connection brought it (1, 2, …)
    mail_from: str
    rcpts: tuple[str, ...]
    message_id: str
    subject: str
    at: float  # time.monotonic() at arrival
    outcome: str  # what the server answered: "250 …", "451 …", or "dropped"
    delivered: bool  # whether the server keeps the message
    tls: bool  # whether it came over an encrypted connection
    data: bytes = field(repr=False)
    smtputf8: bool = False  # whether MAIL FROM asked for SMTPUTF8


@dataclass
class _Rule:
    """One scripted misbehaviour; `times` None means every time."""

    code: int | None  # None: drop the connection without a reply
    text: str = ""
    times: int | None = 1
    keep: bool = True  # for drops: the server delivered the message anyway
    delay: float = 0.0

    def use(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


def _reply(code: int, text: str) -> str:
    default = {
        421: "4.3.2 Service shutting down, closing transmission channel",
        450: "4.2.1 Mailbox busy, try again later",
        451: "4.7.1 Greylisted, please try again later",
        550: "5.1.1 Mailbox unavailable",
        552: "5.2.2 Mailbox full",
        553: "5.7.1 Sender address rejected",
        554: "5.7.1 Message rejected as spam",
    }
    return f"{code} {text or default.get(code, 'scripted reply')}"


class Recorder:
    """The aiosmtpd handler of the test servers: records what arrives and answers as scripted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.connections = 0
        self.logins: list[tuple[str, str, bool]] = []  # mechanism, user, accepted
        self.on_arrival: Callable[[Arrival], None] | None = None
        self._mail: _Rule | None = None
        self._rcpt: dict[str, list[_Rule]] = {}
        self._data_nth: dict[int, _Rule] = {}
        self._data_rcpt: dict[str, list[_Rule]] = {}
        self._released = threading.Event()
        self._released.set()

    # -- scripting -----------------------------------------------------------------------------

    def fail_mail(self, code: int, text: str = "", times: int | None = None) -> None:
        self._mail = _Rule(code, text, times)

    def fail_rcpt(self, address: str, code: int, text: str = "", times: int | None = 1) -> None:
        """Answer RCPT TO for `address` with `code` (`times` None: always); 421 also hangs up."""
        self._rcpt.setdefault(address.lower(), []).append(_Rule(code, text, times))

    def fail_data(
        self,
        code: int,
        text: str = "",
        *,
        nth: int | None = None,
        address: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the end of DATA with `code` for the `nth` message or for `address`; 421 also hangs up."""
        self._data_rule(_Rule(code, text, times), nth, address)

    def drop_after_data(
        self, *, nth: int | None = None, address: str | None = None, keep: bool = True, times: int | None = 1
    ) -> None:
        """Hang up after the message arrived, before answering; `keep`: the server delivers it anyway."""
        self._data_rule(_Rule(None, times=times, keep=keep), nth, address)

    def delay_data(
        self, seconds: float, *, nth: int | None = None, address: str | None = None, times: int | None = 1
    ) -> None:
        """Answer the end of DATA (with 250) only after `seconds`; the message is delivered."""
        self._data_rule(_Rule(250, "OK, after a while", times=times, delay=seconds), nth, address)

    def _data_rule(self, rule: _Rule, nth: int | None, address: str | None) -> None:
        if (nth is None) == (address is None):
            raise ValueError("give nth= or address=")
        if nth is not None:
            self._data_nth[nth] = rule
        else:
            assert address is not None
            self._data_rcpt.setdefault(address.lower(), []).append(rule)

    def hold(self) -> None:
        """Answer no message until `release()`: the clients wait for the reply to DATA."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    # -- what arrived --------------------------------------------------------------------------

    @property
    def messages(self) -> list[Arrival]:
        """The messages the server delivered, in order of arrival."""
        with self._lock:
            return [a for a in self.arrivals if a.delivered]

    def copies(self) -> Counter[str]:
        """How many delivered copies each recipient has."""
        return Counter(rcpt for a in self.messages for rcpt in a.rcpts)

    def message_ids(self, address: str) -> list[str]:
        return [a.message_id for a in self.messages if address.lower() in a.rcpts]

    def sessions(self) -> Counter[int]:
        """Delivered messages per connection."""
        return Counter(a.session for a in self.messages)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Block until `count` messages were delivered."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.messages)} of {count} messages arrived in {timeout}s")
            time.sleep(0.01)

    # -- aiosmtpd hooks ------------------------------------------------------------------------

    def _opened(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        accepted = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USERNAME.encode()
            and auth_data.password == PASSWORD.encode()
        )
        login = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else ""
        with self._lock:
            self.logins.append((mechanism, login, accepted))
        return AuthResult(success=accepted, handled=False)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self, server: SMTP, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        rule = self._mail
        if rule is not None and rule.code is not None and rule.use():
            return _reply(rule.code, rule.text)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        rule = next((r for r in self._rcpt.get(address.lower(), []) if r.use()), None)
        if rule is not None and rule.code is not None:
            if rule.code == 421:
                _hang_up_after_reply(server)
            return _reply(rule.code, rule.text)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:  # noqa: N802
        rcpts = tuple(r.lower() for r in envelope.rcpt_tos)
        with self._lock:
            number = len(self.arrivals) + 1
        rule = self._data_nth.pop(number, None)
        if rule is None:
            rule = next((r for rcpt in rcpts for r in self._data_rcpt.get(rcpt, []) if r.use()), None)
        if rule is None:
            outcome, delivered = "250 OK", True
        elif rule.code is None:
            outcome, delivered = "dropped", rule.keep
        else:
            outcome, delivered = _reply(rule.code, rule.text), rule.code == 250
        data = bytes(envelope.original_content or b"")
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
        arrival = Arrival(
            number=number,
            session=getattr(server, "session_number", 0),
            mail_from=str(envelope.mail_from),
            rcpts=rcpts,
            message_id=str(headers.get("Message-ID", "")).strip(),
            subject=_decoded(headers.get("Subject", "")),
            at=time.monotonic(),
            outcome=outcome,
            delivered=delivered,
            tls=server.transport is not None and server.transport.get_extra_info("sslcontext") is not None,
            data=data,
            smtputf8=bool(envelope.smtp_utf8),
        )
        with self._lock:
            self.arrivals.append(arrival)
        if self.on_arrival is not None:
            self.on_arrival(arrival)
        while not self._released.is_set():
            await asyncio.sleep(0.01)
        if rule is not None and rule.delay:
            await asyncio.sleep(rule.delay)
        if rule is not None and rule.code is None:
            assert server.transport is not None
            server.transport.close()
            # connection_lost cancels this coroutine: no reply goes out.
            await asyncio.sleep(60)
        if rule is not None and rule.code == 421:
            _hang_up_after_reply(server)
        return outcome


def _decoded(value: str) -> str:
    """A header's text as a reader shows it: unfolded (RFC 5322 2.2.3), encoded words decoded."""
    unfolded = value.replace("\r\n", "").replace("\n", "")
    return str(email.header.make_header(email.header.decode_header(unfolded)))


def _hang_up_after_reply(server: SMTP) -> None:
    transport = server.transport
    if transport is not None:
        # Runs after the reply was written (close() flushes what is buffered).
        asyncio.get_running_loop().call_soon(transport.close)


class SMTPServer(Controller):
    """An aiosmtpd server on 127.0.0.1 at a free port, in a thread; `recorder` is its handler."""

    def __init__(self, recorder: Recorder, **smtp_kwargs: Any) -> None:
        super().__init__(recorder, hostname=HOST, port=0, server_hostname="smtp.test", **smtp_kwargs)
        self.recorder = recorder
        self._protocols: list[SMTP] = []
        self.ca_file: Path | None = None
        self.username: str | None = None
        self.password: str | None = None
        self.security = "none"

    def factory(self) -> SMTP:
        protocol = SMTP(self.handler, **self.SMTP_kwargs)
        protocol.session_number = self.recorder._opened()  # type: ignore[attr-defined]
        self._protocols.append(protocol)
        return protocol

    def _trigger_server(self) -> None:
        # Bound to port 0: learn the port the kernel chose before aiosmtpd connects to check it works.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def start(self) -> None:
        super().start()
        # aiosmtpd's own check connection is not a client's session.
        with self.recorder._lock:
            self.recorder.connections = 0

    def stop(self, no_assert: bool = False) -> None:
        self.recorder.release()

        async def hang_up_on_everyone() -> None:
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()
            for _ in range(100):
                if all(p.transport is None for p in self._protocols):
                    return
                await asyncio.sleep(0.01)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(hang_up_on_everyone(), self.loop).result(timeout=5)
        super().stop(no_assert)

    def settings(self) -> dict[str, str]:
        """The NEWSLETTER_SMTP_* settings that point the CLI at this server."""
        env = {
            "NEWSLETTER_SMTP_HOST": HOST,
            "NEWSLETTER_SMTP_PORT": str(self.port),
            "NEWSLETTER_SMTP_SECURITY": self.security,
        }
        if self.ca_file is not None:
            env["NEWSLETTER_SMTP_CA_FILE"] = str(self.ca_file)
        if self.username is not None:
            env["NEWSLETTER_SMTP_USERNAME"] = self.username
            env["NEWSLETTER_SMTP_PASSWORD"] = self.password or ""
        return env


@contextlib.contextmanager
def running(server: SMTPServer) -> Iterator[SMTPServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A plain SMTP server (no TLS, no AUTH) that records every message."""
    with running(SMTPServer(Recorder())) as server:
        yield server


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(tls_ca: trustme.CA, tmp_path: Path) -> Path:
    """The test CA's certificate, for NEWSLETTER_SMTP_CA_FILE."""
    path = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return path


def tls_server_for(
    ca: trustme.CA, ca_file: Path, *, mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN")
) -> SMTPServer:
    """A server that offers STARTTLS with a certificate for 127.0.0.1 and localhost signed by `ca`,
    and requires AUTH (only after STARTTLS) as USERNAME / PASSWORD with the given mechanisms."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    recorder = Recorder()
    server = SMTPServer(
        recorder,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=recorder.authenticate,
        auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN") if m not in mechanisms],
    )
    server.ca_file = ca_file
    server.username = USERNAME
    server.password = PASSWORD
    server.security = "starttls"
    return server


def plain_auth_server() -> SMTPServer:
    """A server without TLS that offers AUTH (LOGIN, PLAIN) in the clear, as a relay on a trusted
    network may (NEWSLETTER_SMTP_SECURITY=none with a username). AUTH is offered, not required:
    aiosmtpd warns about requiring it without TLS."""
    recorder = Recorder()
    server = SMTPServer(
        recorder, auth_required=False, auth_require_tls=False, authenticator=recorder.authenticate
    )
    server.username = USERNAME
    server.password = PASSWORD
    return server


def ssl_server_for(ca: trustme.CA, ca_file: Path) -> SMTPServer:
    """A server speaking TLS from the first byte (NEWSLETTER_SMTP_SECURITY=ssl, port 465 style)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    server = SMTPServer(Recorder(), ssl_context=context)
    server.ca_file = ca_file
    server.security = "ssl"
    return server


@pytest.fixture
def tls_server(tls_ca: trustme.CA, ca_file: Path) -> Iterator[SMTPServer]:
    """STARTTLS with the test CA, AUTH LOGIN and PLAIN required; `ca_file`, `username`, `password`."""
    with running(tls_server_for(tls_ca, ca_file)) as server:
        yield server


@pytest.fixture
def start_server(tls_ca: trustme.CA, ca_file: Path) -> Iterator[Callable[..., SMTPServer]]:
    """Start servers of any kind within a test; all are stopped at its end.

    start_server()                                   plain
    start_server("starttls", mechanisms=("LOGIN",))  STARTTLS + AUTH with the given mechanisms
    start_server("ssl")                              implicit TLS
    start_server("plain-auth")                       no TLS, AUTH offered in the clear
    start_server("plain", smtputf8=True)             plain, offering SMTPUTF8 (aiosmtpd does not
                                                     by default)
    """
    started: list[SMTPServer] = []

    def start(kind: str = "plain", **options: Any) -> SMTPServer:
        if kind == "plain":
            server = SMTPServer(Recorder(), enable_SMTPUTF8=options.get("smtputf8", False))
        elif kind == "starttls":
            server = tls_server_for(tls_ca, ca_file, **options)
        elif kind == "ssl":
            server = ssl_server_for(tls_ca, ca_file)
        elif kind == "plain-auth":
            server = plain_auth_server()
        else:
            raise ValueError(f"unknown kind of server {kind!r}")
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
