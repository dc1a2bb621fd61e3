"""The bounce mailbox on an IMAP server (stdlib imaplib): implicit TLS (993) or STARTTLS (143) with the
certificate checked, a login, the folder read by UID in batches without marking anything seen
(BODY.PEEK), and processed mail moved with MOVE (RFC 6851) where the server has it, else copied,
flagged \\Deleted and expunged by UID (RFC 4315) — those messages only; or deleted when asked.

Whatever keeps the folder from being used before its first message is read is a MailboxError that
names the setting to fix. A connection lost after that is `Lost`: what was recorded stays recorded,
and the messages not yet moved are read again next time.

Folder settings are written with "/" between levels (`Bounces/Processed`) and given to the server
with its own hierarchy delimiter and personal namespace (`INBOX.Bounces.Processed` on Courier),
non-ASCII names in modified UTF-7 (RFC 3501 5.1.3).
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from newsletter.errors import MailboxError
from newsletter.feedback.imap_words import (
    NAMESPACE,
    UID,
    from_utf7,
    listed,
    quoted,
    uid_set,
    unquote,
    utf7,
    words,
)
from newsletter.feedback.mailbox import BATCH, Fetched, Lost

TIMEOUT = 30.0  # seconds an IMAP server may stay silent before the pass gives up on it
# At most this long for the greeting (and a TLS handshake): a port that expects TLS first (993) says
# nothing to a client that waits for a greeting in plain text, and waiting the whole timeout tells no more.
GREETING_WAIT = 10.0


class Security(StrEnum):
    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"


DEFAULT_PORTS = {Security.SSL: 993, Security.STARTTLS: 143, Security.NONE: 143}


@dataclass
class IMAPSource:
    """The folder NEWSLETTER_IMAP_FOLDER on the server NEWSLETTER_IMAP_HOST."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    security: Security = Security.SSL
    folder: str = "INBOX"
    processed: str = "Processed"
    delete: bool = False
    ssl_context: ssl.SSLContext | None = None
    # Send the password without TLS: only for a server on a network that is trusted as a whole.
    allow_plaintext_auth: bool = False
    timeout: float = TIMEOUT

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def description(self) -> str:
        return f"{self.folder} on {self.where}"

    @contextlib.contextmanager
    def open(self, *, dry_run: bool = False) -> Iterator[IMAPFolder]:
        imap = self._connect()
        try:
            with _before_reading(self.where):
                self._login(imap)
                folder = IMAPFolder(imap, self.where, delete=self.delete)
                folder.prepare(self.folder, self.processed, dry_run=dry_run)
            yield folder
        finally:
            _hang_up(imap)

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> imaplib.IMAP4:
        where, security = self.where, self.security
        if security is Security.NONE and not self.allow_plaintext_auth:
            raise MailboxError(
                f"NEWSLETTER_IMAP_SECURITY=none would send the password for {self.username!r} to {where} "
                "unencrypted; use ssl or starttls, or set NEWSLETTER_IMAP_PLAINTEXT_AUTH=allow for a "
                "server on a trusted network"
            )
        imap: imaplib.IMAP4 | None = None
        try:
            wait = min(self.timeout, GREETING_WAIT)
            if security is Security.SSL:
                imap = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=self._context(), timeout=wait)
            else:
                imap = imaplib.IMAP4(self.host, self.port, timeout=wait)
            imap.sock.settimeout(self.timeout)
            if security is Security.STARTTLS:
                if "STARTTLS" not in imap.capabilities:
                    raise MailboxError(
                        f"{where} does not offer STARTTLS; set NEWSLETTER_IMAP_SECURITY=ssl for port 993, "
                        "or =none only for a server on a trusted network"
                    )
                imap.starttls(ssl_context=self._context())
            elif security is Security.NONE and "STARTTLS" in imap.capabilities:
                raise MailboxError(
                    f"{where} offers STARTTLS, and NEWSLETTER_IMAP_SECURITY=none would send the password "
                    "unencrypted all the same; set NEWSLETTER_IMAP_SECURITY=starttls"
                )
        except BaseException as e:
            if imap is not None:
                _hang_up(imap, say_goodbye=False)
            if isinstance(e, MailboxError):
                raise
            if isinstance(e, (OSError, imaplib.IMAP4.error)):
                raise MailboxError(_connect_failed(where, self.port, e)) from None
            raise
        return imap

    def _login(self, imap: imaplib.IMAP4) -> None:
        if "LOGINDISABLED" in imap.capabilities:
            raise MailboxError(
                f"{self.where} refuses a login without TLS; set NEWSLETTER_IMAP_SECURITY=starttls (or ssl)"
            )
        try:
            if (self.username + self.password).isascii():
                imap.login(self.username, self.password)
            else:
                # LOGIN is ASCII only; SASL PLAIN carries UTF-8 (RFC 4616).
                secret = f"\0{self.username}\0{self.password}".encode()
                imap.authenticate("PLAIN", lambda _: secret)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:
            words = (
                e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
            )
            raise MailboxError(
                f"{self.where}: login refused for {self.username!r} ({words}); check "
                "NEWSLETTER_IMAP_USERNAME and NEWSLETTER_IMAP_PASSWORD"
            ) from None


def _hang_up(imap: imaplib.IMAP4, *, say_goodbye: bool = True) -> None:
    """Log out, or close the socket when the server cannot be told (a lost connection)."""
    if say_goodbye:
        try:
            imap.logout()
            return
        except (imaplib.IMAP4.error, OSError):
            pass
    with contextlib.suppress(OSError):
        imap.shutdown()


def _connect_failed(where: str, port: int, error: BaseException) -> str:
    """The line for a server that could not be reached or spoken to, naming the setting to check."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"{where}: the server's TLS certificate is not trusted ({error.verify_message}); check "
            "NEWSLETTER_IMAP_HOST is the name on the certificate, or set NEWSLETTER_IMAP_CA_FILE to the "
            "CA that signed it"
        )
    if isinstance(error, ssl.SSLError):
        if error.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE"):
            return (
                f"{where} does not speak TLS from the first byte: if port {port} is the STARTTLS port "
                "(usually 143), set NEWSLETTER_IMAP_SECURITY=starttls; otherwise check "
                "NEWSLETTER_IMAP_HOST and NEWSLETTER_IMAP_PORT"
            )
        return (
            f"{where}: the TLS handshake failed ({error.reason or error}); check NEWSLETTER_IMAP_SECURITY "
            "(ssl for port 993, starttls for 143) and NEWSLETTER_IMAP_PORT"
        )
    if isinstance(error, socket.gaierror):
        return f"{where}: unknown host ({error.strerror}); check NEWSLETTER_IMAP_HOST"
    if isinstance(error, TimeoutError):
        return (
            f"{where} sent no IMAP greeting within {GREETING_WAIT:g} s: if port {port} expects implicit TLS "
            "(usually 993), set NEWSLETTER_IMAP_SECURITY=ssl; otherwise check NEWSLETTER_IMAP_HOST and "
            "NEWSLETTER_IMAP_PORT"
        )
    if isinstance(error, OSError):
        why = error.strerror or str(error) or type(error).__name__
        return f"cannot connect to {where}: {why}; check NEWSLETTER_IMAP_HOST and NEWSLETTER_IMAP_PORT"
    return f"{where} does not answer as an IMAP server ({error}); check NEWSLETTER_IMAP_HOST and _PORT"


@contextlib.contextmanager
def _before_reading(where: str) -> Iterator[None]:
    """Until the first message is read, a lost connection is a mailbox that cannot be used (exit 2)."""
    try:
        yield
    except (Lost, imaplib.IMAP4.abort, OSError) as e:
        raise MailboxError(f"{where} closed the connection before the folder was opened ({e})") from None


class IMAPFolder:
    """The selected folder of a logged-in connection."""

    def __init__(self, imap: imaplib.IMAP4, where: str, *, delete: bool) -> None:
        self.imap = imap
        self.where = where
        self.delete = delete
        self.target = ""  # the processed folder's name on the server
        self.delimiter: str | None = "/"
        self.prefix = ""
        self.capabilities: set[str] = set()

    @property
    def can_move(self) -> bool:
        return "MOVE" in self.capabilities

    def _call(self, command: str, *args: str, **options: bool) -> tuple[str, list[object]]:
        try:
            typ, data = getattr(self.imap, command)(*args, **options)
        except imaplib.IMAP4.abort as e:
            raise Lost(f"the connection to {self.where} was lost ({e})") from None
        except imaplib.IMAP4.error as e:
            raise MailboxError(f"{self.where} refused {command.upper()} ({e})") from None
        except OSError as e:
            raise Lost(f"the connection to {self.where} was lost ({e.strerror or e})") from None
        return str(typ), list(data)

    def _uid(self, command: str, *args: str) -> list[object]:
        typ, data = self._call("uid", command, *args)
        if typ != "OK":
            raise MailboxError(f"{self.where} refused UID {command}: {words(data)}")
        return data

    # -- opening ---------------------------------------------------------------------------------

    def prepare(self, folder: str, processed: str, *, dry_run: bool) -> None:
        """Learn the server's ways, select `folder` (read-only for a dry run), find or create the
        processed folder."""
        typ, data = self._call("capability")
        if typ == "OK" and data and isinstance(data[0], bytes):
            self.capabilities = {c.upper() for c in data[0].decode("ascii", "replace").split()}
        typ, data = self._call("list", '""', '""')
        root = listed(data) if typ == "OK" else []
        if root:
            self.delimiter = root[0][1]
        if "NAMESPACE" in self.capabilities:
            typ, data = self._call("namespace")
            if typ == "OK" and data and isinstance(data[0], bytes) and (found := NAMESPACE.match(data[0])):
                self.prefix = unquote(b'"' + found["prefix"] + b'"')
        source = self.server_name(folder)
        typ, data = self._call("select", quoted(utf7(source)), readonly=dry_run)
        if typ != "OK":
            raise MailboxError(
                f"{self.where} has no folder {source!r} ({words(data)}); check NEWSLETTER_IMAP_FOLDER; "
                f"the folders there: {', '.join(self.folders()) or 'none'}"
            )
        if self.delete:
            return
        self.target = self.server_name(processed)
        if self.target == source:
            raise MailboxError(
                f"NEWSLETTER_IMAP_PROCESSED_FOLDER is the folder that is read ({source}); name another, "
                "e.g. Processed"
            )
        if not dry_run and self.target not in self.folders():
            self._create(self.target)

    def server_name(self, name: str) -> str:
        """A folder setting ("/" between levels) as this server names the folder."""
        parts = [p for p in name.split("/") if p]
        if not parts or (len(parts) == 1 and parts[0].upper() == "INBOX"):
            return "INBOX"
        joined = self.delimiter.join(parts) if self.delimiter else name
        if self.prefix and not joined.upper().startswith(self.prefix.upper()):
            joined = self.prefix + joined
        return joined

    def folders(self) -> list[str]:
        typ, data = self._call("list", '""', "*")
        return [from_utf7(name) for name, _ in listed(data)] if typ == "OK" else []

    def _create(self, name: str) -> None:
        typ, data = self._call("create", quoted(utf7(name)))
        if typ != "OK" and name not in self.folders():
            raise MailboxError(
                f"{self.where} did not create the folder {name!r} ({words(data)}); create it yourself or "
                "set NEWSLETTER_IMAP_PROCESSED_FOLDER to a folder that exists"
            )
        # Subscribed, so that mail programs show it; a server without subscriptions is no matter.
        self._call("subscribe", quoted(utf7(name)))

    # -- reading and taking ----------------------------------------------------------------------

    def batches(self, size: int = BATCH) -> Iterator[list[Fetched]]:
        # UNDELETED: a message flagged \Deleted was copied by an earlier pass (or deleted by a person).
        data = self._uid("SEARCH", "UNDELETED")
        uids = [u.decode() for u in (data[0] or b"").split()] if data and isinstance(data[0], bytes) else []
        for start in range(0, len(uids), size):
            chunk = uids[start : start + size]
            yield self._fetch(chunk)

    def _fetch(self, uids: list[str]) -> list[Fetched]:
        data = self._uid("FETCH", uid_set(uids), "(UID BODY.PEEK[])")
        fetched: dict[str, bytes] = {}
        for i, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            head, body = item[0], item[1]
            after = data[i + 1] if i + 1 < len(data) else b""
            # The UID may come before the message or after it, in the line that follows the literal.
            found = UID.search(head) or (UID.search(after) if isinstance(after, bytes) else None)
            if found and isinstance(body, bytes):
                fetched[found.group(1).decode()] = body
        # In the order asked; one that another client took away meanwhile is simply not there.
        return [Fetched(uid, fetched[uid]) for uid in uids if uid in fetched]

    def take(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        uids = uid_set(keys)
        if self.delete:
            self._discard(uids)
        elif self.can_move:
            self._uid("MOVE", uids, quoted(utf7(self.target)))
        else:
            self._uid("COPY", uids, quoted(utf7(self.target)))
            self._discard(uids)

    def _discard(self, uids: str) -> None:
        self._uid("STORE", uids, "+FLAGS.SILENT", r"(\Deleted)")
        # Without UIDPLUS only a plain EXPUNGE is left, which would also remove what a person marked
        # deleted: the messages stay flagged instead, and the next pass skips them (UNDELETED).
        if "UIDPLUS" in self.capabilities:
            self._uid("EXPUNGE", uids)
