"""Delivery over real SMTP: aiosmtpd on 127.0.0.1, plain, STARTTLS + AUTH, implicit TLS, and a server
that misbehaves (4xx, 421 and hanging up, lost connections, 5xx, slow replies)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ENVELOPE, SUBJECT, T0, people

from newsletter.composing.message import Composer
from newsletter.config import load_settings
from newsletter.delivering.loop import Options, RunReport, deliver
from newsletter.errors import SendError
from newsletter.ledger import Counts, Ledger
from newsletter.model import Recipient, Rendered
from newsletter.sending.base import Ambiguous, Permanent, Temporary
from newsletter.sending.smtp import Security, SMTPConnection, SMTPSender

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]
StartServer = Callable[..., "SMTPServer"]


def _people(n: int) -> list[Recipient]:
    return people(n, "r", digits=2)


def _plain(server: SMTPServer, **kwargs: object) -> SMTPSender:
    return SMTPSender("127.0.0.1", server.port, security=Security.NONE, **kwargs)  # type: ignore[arg-type]


def _trusting(server: SMTPServer) -> ssl.SSLContext:
    assert server.ca_file is not None
    return ssl.create_default_context(cafile=str(server.ca_file))


def _run(
    rendered: Rendered, ledger: Ledger, sender: SMTPSender, people: list[Recipient], **kwargs: object
) -> RunReport:
    ledger.start(
        rendered.slug, subject="s", content_hash="h", audience_source="test", recipients=people, now=T0
    )
    kwargs.setdefault("sleep", lambda _: None)
    return deliver(Composer(rendered, ENVELOPE, date=T0), sender, ledger, **kwargs)  # type: ignore[arg-type]


def _assert_ledger_matches_the_server(ledger: Ledger, slug: str, server: SMTPServer) -> None:
    """Every row `sent` is at the server with the ledger's Message-ID, and nothing else is."""
    sent = {r.recipient.email: r.message_id for r in ledger.rows(slug, "sent")}
    at_server = {a.rcpts[0]: a.message_id for a in server.recorder.messages}
    assert at_server == sent


def test_plain_smtp_delivers_each_recipient_once(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    people = _people(5)
    report = _run(rendered, ledger, _plain(smtp_server), people)
    assert report.counts == Counts(audience=5, sent=5)
    assert smtp_server.recorder.copies() == Counter(p.email for p in people)
    _assert_ledger_matches_the_server(ledger, rendered.slug, smtp_server)
    first = smtp_server.recorder.messages[0]
    assert first.mail_from == "nieuwsbrief@example.org"
    assert first.subject == SUBJECT
    assert not first.tls
    assert smtp_server.recorder.connections == 1
    assert all(r.last_reply == "250 OK" for r in ledger.rows(rendered.slug))


def test_message_bytes_arrive_unchanged_including_lines_that_start_with_a_dot(
    smtp_server: SMTPServer,
) -> None:
    data = b"Message-ID: <dots@example.org>\r\nSubject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend"
    connection = _plain(smtp_server).connect()
    try:
        reply = connection.send("from@example.org", "to@example.org", data)
    finally:
        connection.close()
    assert reply.code == 250
    (arrival,) = smtp_server.recorder.messages
    assert arrival.data == data + b"\r\n"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_starttls_and_auth_with_the_ca_file_setting_delivers(
    rendered: Rendered,
    ledger: Ledger,
    start_server: StartServer,
    project_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    server = start_server("starttls", mechanisms=(mechanism,))
    for name, value in server.settings().items():
        monkeypatch.setenv(name, value)
    sender = load_settings().smtp_sender()
    assert (sender.security, sender.username) == (Security.STARTTLS, server.username)
    people = _people(3)
    report = _run(rendered, ledger, sender, people)
    assert report.exit_code == 0
    assert server.recorder.copies() == Counter(p.email for p in people)
    assert all(a.tls for a in server.recorder.messages)
    assert server.recorder.logins == [(mechanism, server.username, True)]


def test_implicit_tls_delivers(rendered: Rendered, ledger: Ledger, start_server: StartServer) -> None:
    server = start_server("ssl")
    sender = SMTPSender("127.0.0.1", server.port, security=Security.SSL, ssl_context=_trusting(server))
    report = _run(rendered, ledger, sender, _people(2))
    assert report.exit_code == 0
    assert [a.tls for a in server.recorder.messages] == [True, True]


def test_wrong_password_is_a_send_error_naming_the_setting_and_nothing_is_sent(
    rendered: Rendered, ledger: Ledger, tls_server: SMTPServer
) -> None:
    sender = SMTPSender(
        "127.0.0.1",
        tls_server.port,
        username=tls_server.username,
        password="not-the-password",
        ssl_context=_trusting(tls_server),
    )
    with pytest.raises(SendError) as caught:
        _run(rendered, ledger, sender, _people(3))
    message = str(caught.value)
    assert "NEWSLETTER_SMTP_PASSWORD" in message
    assert "535" in message
    assert "not-the-password" not in message
    assert tls_server.recorder.arrivals == []
    assert {r.status for r in ledger.rows(rendered.slug)} == {"pending"}
    assert [accepted for _, _, accepted in tls_server.recorder.logins] == [False, False]


def test_untrusted_certificate_is_a_send_error_and_the_password_is_never_sent(
    rendered: Rendered, ledger: Ledger, tls_server: SMTPServer
) -> None:
    # No CA file: the system's CAs do not know the test CA.
    sender = SMTPSender(
        "127.0.0.1", tls_server.port, username=tls_server.username, password=tls_server.password
    )
    with pytest.raises(SendError, match="certificate is not trusted"):
        _run(rendered, ledger, sender, _people(2))
    assert tls_server.recorder.arrivals == []
    assert tls_server.recorder.logins == []
    assert {r.status for r in ledger.rows(rendered.slug)} == {"pending"}


def test_starttls_asked_of_a_server_without_it_is_a_send_error(smtp_server: SMTPServer) -> None:
    sender = SMTPSender("127.0.0.1", smtp_server.port, security=Security.STARTTLS)
    with pytest.raises(SendError, match="does not offer STARTTLS"):
        sender.connect()
    assert smtp_server.recorder.connections == 1


def test_login_without_tls_is_refused_before_a_connection_unless_allowed(tls_server: SMTPServer) -> None:
    sender = SMTPSender(
        "127.0.0.1",
        tls_server.port,
        security=Security.NONE,
        username=tls_server.username,
        password=tls_server.password,
    )
    with pytest.raises(SendError, match="NEWSLETTER_SMTP_PLAINTEXT_AUTH=allow"):
        sender.connect()
    assert tls_server.recorder.connections == 0


def test_login_without_tls_to_a_server_offering_starttls_is_refused_before_the_password_goes_out(
    tls_server: SMTPServer,
) -> None:
    sender = SMTPSender(
        "127.0.0.1",
        tls_server.port,
        security=Security.NONE,
        username=tls_server.username,
        password=tls_server.password,
        allow_plaintext_auth=True,
    )
    with pytest.raises(SendError, match="set NEWSLETTER_SMTP_SECURITY=starttls"):
        sender.connect()
    assert tls_server.recorder.logins == []


@pytest.fixture
def banner_server() -> Iterator[Callable[[bytes], int]]:
    """A TCP server on 127.0.0.1 that greets each client with the given bytes (an SSH or POP3 server);
    returns its port."""
    listeners: list[socket.socket] = []

    def start(banner: bytes) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    client, _ = listener.accept()
                    with client:
                        client.sendall(banner)
                        client.recv(512)

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize(
    "banner", [b"SSH-2.0-OpenSSH_9.2\r\n", b"+OK POP3 ready\r\n", b"HTTP/1.1 400 Bad Request\r\n"]
)
def test_a_server_that_greets_with_something_else_is_not_an_smtp_server(
    banner_server: Callable[[bytes], int], banner: bytes
) -> None:
    port = banner_server(banner)
    with pytest.raises(SendError) as caught:
        SMTPSender("127.0.0.1", port, security=Security.NONE).connect()
    assert f"127.0.0.1:{port} is not an SMTP server (it answered {banner.strip().decode()!r})" in str(
        caught.value
    )
    assert "NEWSLETTER_SMTP_PORT" in str(caught.value)


def test_implicit_tls_against_a_plain_port_is_a_send_error_naming_the_setting(
    smtp_server: SMTPServer,
) -> None:
    sender = SMTPSender("127.0.0.1", smtp_server.port, security=Security.SSL)
    with pytest.raises(SendError, match="NEWSLETTER_SMTP_SECURITY=starttls"):
        sender.connect()
    assert smtp_server.recorder.connections == 1


def test_plain_smtp_against_an_implicit_tls_port_is_a_send_error_naming_the_setting(
    start_server: StartServer,
) -> None:
    server = start_server("ssl")
    sender = SMTPSender("127.0.0.1", server.port, security=Security.NONE, timeout=0.5)
    with pytest.raises(SendError, match=f"for port {server.port} set NEWSLETTER_SMTP_SECURITY=ssl"):
        sender.connect()
    assert server.recorder.connections == 1


def test_server_that_is_down_stops_the_run_and_leaves_everyone_pending(
    rendered: Rendered, ledger: Ledger
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    report = _run(
        rendered,
        ledger,
        SMTPSender("127.0.0.1", port, security=Security.NONE),
        _people(2),
        sleep=sleeps.append,
    )
    assert report.counts == Counts(audience=2, pending=2)
    assert report.exit_code == 1
    # 4 tries for the first recipient, 3 waits; then the run stops instead of trying everyone.
    assert len(sleeps) == 3
    assert "cannot be reached" in (report.stopped or "")
    first, second = ledger.rows(rendered.slug)
    assert "cannot connect" in (first.last_reply or "")
    assert second.attempts == 0


def test_flaky_server_everyone_accepted_once_refused_ones_failed_with_the_servers_words(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    recorder = smtp_server.recorder
    people = _people(20)
    recorder.fail_rcpt("r01@example.org", 451, times=2)
    recorder.fail_rcpt("r03@example.org", 421)  # and hangs up
    recorder.fail_rcpt("r05@example.org", 550, "5.1.1 <r05@example.org>: no such user here", times=None)
    recorder.fail_rcpt("r07@example.org", 550, "5.2.1 mailbox disabled", times=None)
    recorder.fail_data(451, "4.3.0 queue full", address="r09@example.org")
    recorder.fail_data(421, nth=8)  # and hangs up
    recorder.drop_after_data(nth=12, keep=False)  # lost before the server took it
    recorder.fail_data(554, "5.7.1 looks like spam", address="r15@example.org", times=None)

    first = _run(rendered, ledger, _plain(smtp_server), people)
    assert first.unknown == 1
    second = _run(rendered, ledger, _plain(smtp_server), people)
    assert (second.attempted, second.sent) == (1, 1)

    refused = {"r05@example.org", "r07@example.org", "r15@example.org"}
    assert recorder.copies() == Counter(p.email for p in people if p.email not in refused)
    failed = {r.recipient.email: r.last_reply for r in ledger.rows(rendered.slug, "failed")}
    assert failed == {
        "r05@example.org": "550 5.1.1 <r05@example.org>: no such user here",
        "r07@example.org": "550 5.2.1 mailbox disabled",
        "r15@example.org": "554 5.7.1 looks like spam",
    }
    counts = ledger.counts(rendered.slug)
    assert counts == Counts(audience=20, sent=17, failed=3)
    assert counts.sent == len(recorder.messages)
    _assert_ledger_matches_the_server(ledger, rendered.slug, smtp_server)
    # Hung up on three times (421 at RCPT, 421 after DATA, the drop): new connections each time.
    assert recorder.connections >= 4


def test_reply_lost_after_the_server_took_the_message_is_resent_once_with_the_same_message_id(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    recorder = smtp_server.recorder
    people = _people(6)
    recorder.drop_after_data(address="r02@example.org", keep=True)

    first = _run(rendered, ledger, _plain(smtp_server), people)
    (row,) = ledger.rows(rendered.slug, "unknown")
    assert (row.recipient.email, row.ambiguous, first.exit_code) == ("r02@example.org", 1, 1)
    assert row.last_reply is not None
    assert "after the message was handed over" in row.last_reply

    second = _run(rendered, ledger, _plain(smtp_server), people)
    assert (second.sent, second.exit_code) == (1, 0)
    copies = recorder.copies()
    assert copies == Counter({p.email: 2 if p.email == "r02@example.org" else 1 for p in people})
    assert recorder.message_ids("r02@example.org") == [row.message_id, row.message_id]


def test_reply_slower_than_the_timeout_is_in_doubt_and_resent_with_the_same_message_id(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    recorder = smtp_server.recorder
    people = _people(4)
    recorder.delay_data(5.0, address="r03@example.org")
    first = _run(rendered, ledger, _plain(smtp_server, timeout=1.0), people)
    assert [r.recipient.email for r in ledger.rows(rendered.slug, "unknown")] == ["r03@example.org"]
    assert first.sent == 3

    _run(rendered, ledger, _plain(smtp_server), people)
    copies = recorder.copies()
    assert copies["r03@example.org"] == 2
    assert len(set(recorder.message_ids("r03@example.org"))) == 1
    assert all(copies[p.email] == 1 for p in people if p.email != "r03@example.org")
    assert ledger.counts(rendered.slug) == Counts(audience=4, sent=4)


def test_slow_replies_within_the_timeout_are_waited_for(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    people = _people(3)
    for person in people:
        smtp_server.recorder.delay_data(0.2, address=person.email)
    report = _run(rendered, ledger, _plain(smtp_server, timeout=5.0), people)
    assert (report.sent, report.unknown) == (3, 0)
    assert smtp_server.recorder.copies() == Counter(p.email for p in people)


def test_sender_address_refused_stops_the_run_and_leaves_nobody_in_doubt(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    smtp_server.recorder.fail_mail(553, "5.7.1 Sender address rejected: not owned by user")
    people = _people(3)
    with pytest.raises(SendError, match="NEWSLETTER_FROM"):
        _run(rendered, ledger, _plain(smtp_server), people)
    assert smtp_server.recorder.arrivals == []
    assert {r.status for r in ledger.rows(rendered.slug)} == {"pending"}

    smtp_server.recorder.fail_mail(553, times=0)
    report = _run(rendered, ledger, _plain(smtp_server), people)
    assert (report.recovered, report.sent, report.exit_code) == (0, 3, 0)
    assert smtp_server.recorder.copies() == Counter(p.email for p in people)


def test_one_connection_carries_many_messages_up_to_the_limit_per_connection(
    rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer
) -> None:
    people = _people(30)
    _run(rendered, ledger, _plain(smtp_server), people, options=Options(messages_per_connection=10))
    assert smtp_server.recorder.connections == 3
    assert sorted(smtp_server.recorder.sessions().values()) == [10, 10, 10]
    assert smtp_server.recorder.copies() == Counter(p.email for p in people)


def test_parallel_connections_are_reused(rendered: Rendered, ledger: Ledger, smtp_server: SMTPServer) -> None:
    people = _people(40)
    report = _run(
        rendered,
        ledger,
        _plain(smtp_server),
        people,
        options=Options(connections=3, messages_per_connection=100),
    )
    assert report.counts == Counts(audience=40, sent=40)
    assert 1 <= smtp_server.recorder.connections <= 3
    assert sum(smtp_server.recorder.sessions().values()) == 40
    assert smtp_server.recorder.copies() == Counter(p.email for p in people)


def test_connection_level_failures_are_classified(smtp_server: SMTPServer) -> None:
    recorder = smtp_server.recorder
    recorder.fail_rcpt("grey@example.org", 451)
    recorder.fail_rcpt("gone@example.org", 550, times=None)
    recorder.drop_after_data(address="lost@example.org")
    data = b"Subject: x\r\n\r\nbody\r\n"
    with _plain(smtp_server).connect() as connection:
        with pytest.raises(Temporary) as temporary:
            connection.send("from@example.org", "grey@example.org", data)
        assert (temporary.value.reply.code, temporary.value.connection_lost) == (451, False)
        # After a refused recipient the same connection still works.
        assert connection.send("from@example.org", "grey@example.org", data).code == 250
        with pytest.raises(Permanent) as permanent:
            connection.send("from@example.org", "gone@example.org", data)
        assert str(permanent.value.reply) == "550 5.1.1 Mailbox unavailable"
        with pytest.raises(Ambiguous) as ambiguous:
            connection.send("from@example.org", "lost@example.org", data)
        assert ambiguous.value.connection_lost
    assert recorder.connections == 1


def _send_then_fail(sender: SMTPSender, opened: list[SMTPConnection]) -> None:
    with sender.connect() as connection:
        opened.append(connection)
        connection.send("from@example.org", "first@example.org", b"Subject: x\r\n\r\nbody\r\n")
        raise LookupError("a mistake in the block")


def test_a_connection_opened_with_with_is_closed_however_the_block_ends(smtp_server: SMTPServer) -> None:
    data = b"Subject: x\r\n\r\nbody\r\n"
    with _plain(smtp_server).connect() as connection:
        assert connection.send("from@example.org", "kept@example.org", data).code == 250
    assert connection.smtp.sock is None
    opened: list[SMTPConnection] = []
    with pytest.raises(LookupError):
        _send_then_fail(_plain(smtp_server), opened)
    assert opened[0].smtp.sock is None
    # Closed means closed: nothing more goes over it.
    with pytest.raises(Temporary, match="connection lost"):
        opened[0].send("from@example.org", "late@example.org", data)
    assert smtp_server.recorder.copies() == Counter(["kept@example.org", "first@example.org"])
    assert smtp_server.recorder.connections == 2
