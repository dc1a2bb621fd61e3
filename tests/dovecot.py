"""A real IMAP server on 127.0.0.1 for the mailbox tests: Debian's dovecot-imapd with a throwaway
configuration, run in the foreground as the user the tests run as.

    pytest_plugins = ["dovecot"]

    def test_something(dovecot):                  # STARTTLS on `imap_port`, implicit TLS on `imaps_port`
        dovecot.append([message_bytes, ...])      # into INBOX, over IMAP as a mail server would
        dovecot.settings()                        # NEWSLETTER_IMAP_* pointing at it (ssl)
        dovecot.messages("Processed")             # what a folder holds: (uid, flags, bytes)

    def test_other(start_dovecot):                # servers of other kinds within a test
        server = start_dovecot(capabilities=WITHOUT_MOVE)

Everything lives in a temporary folder of its own (base_dir, state, log, the passwd-file user, the
Maildir store), with a certificate for 127.0.0.1 and localhost signed by a test CA (trustme) and the
CA's certificate in `ca_file`. Run as root (CI), Dovecot's login processes run as `dovenull`, its
internal ones as `dovecot` and the mail as `nobody`, as Dovecot requires; run as anyone else,
everything runs as that user, without chroot ("rootless").

Without /usr/sbin/dovecot the tests that use it are skipped, unless CI is set: then they fail.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from conftest import IN_CI

DOVECOT = Path("/usr/sbin/dovecot")
HOST = "127.0.0.1"
USERNAME = "bounces"
PASSWORD = "Bounce-Pa55"

needs_dovecot = pytest.mark.skipif(
    not DOVECOT.exists() and not IN_CI, reason=f"needs Debian's dovecot-imapd at {DOVECOT}"
)

# What Dovecot 2.3 offers after login, less MOVE: a server on which processed mail must be copied.
WITHOUT_MOVE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+ UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED CONDSTORE ESEARCH"
)
# Nor UIDPLUS: only a plain EXPUNGE is left, which the pass does not use.
WITHOUT_MOVE_OR_UIDPLUS = WITHOUT_MOVE.replace(" UIDPLUS", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _users() -> dict[str, str | int]:
    """Who runs what: as root Dovecot's own users and nobody for the mail; otherwise this user."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return {
            "internal": "dovecot",
            "internal_group": "dovecot",
            "login": "dovenull",
            "uid": nobody.pw_uid,
            "gid": nobody.pw_gid,
        }
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(os.getegid()).gr_name
    return {
        "internal": me.pw_name,
        "internal_group": group,
        "login": me.pw_name,
        "uid": me.pw_uid,
        "gid": me.pw_gid,
    }


def _configuration(top: Path, imap_port: int, imaps_port: int, capabilities: str | None) -> str:
    users = _users()
    # Chroot needs root; without it, no service may ask for one.
    chroot = "" if os.geteuid() == 0 else "  chroot =\n"
    extra = f"imap_capability = {capabilities}\n" if capabilities else ""
    return f"""\
base_dir = {top}/run
state_dir = {top}/state
instance_name = newsletter-test-{top.name}
log_path = {top}/dovecot.log
listen = {HOST}
protocols = imap
ssl = yes
ssl_cert = <{top}/cert.pem
ssl_key = <{top}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {users["internal"]}
default_internal_group = {users["internal_group"]}
default_login_user = {users["login"]}
first_valid_uid = {users["uid"]}
first_valid_gid = {users["gid"]}
mail_location = maildir:{top}/mail/%u
{extra}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {top}/passwd
}}
userdb {{
  driver = static
  args = uid={users["uid"]} gid={users["gid"]} home={top}/home/%u
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
{chroot}}}
"""


@dataclass
class Dovecot:
    """One Dovecot, its folder and its ports; `start()` and `stop()` it as often as needed."""

    top: Path
    ca: trustme.CA
    capabilities: str | None = None
    imap_port: int = 0
    imaps_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    username: str = USERNAME
    password: str = PASSWORD
    _clients: list[imaplib.IMAP4] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        return self.top / "ca.pem"

    def prepare(self) -> None:
        top = self.top
        for sub in ("run", "state", "mail", "home"):
            (top / sub).mkdir()
        top.chmod(0o755)  # the mail user (nobody, under root) must reach its mail
        if os.geteuid() == 0:
            users = _users()
            for sub in ("mail", "home"):
                os.chown(top / sub, int(users["uid"]), int(users["gid"]))
        cert = self.ca.issue_cert(HOST, "localhost")
        cert.private_key_pem.write_to_path(str(top / "key.pem"))
        (top / "cert.pem").write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        (top / "passwd").write_text(f"{USERNAME}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
        self.imap_port, self.imaps_port = _free_port(), _free_port()

    def start(self) -> None:
        """Run Dovecot in the foreground until its implicit-TLS port accepts connections."""
        conf = self.top / "dovecot.conf"
        conf.write_text(
            _configuration(self.top, self.imap_port, self.imaps_port, self.capabilities), encoding="utf-8"
        )
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.imaps_port), timeout=1):
                return
            time.sleep(0.05)
        self.stop()
        log = (
            (self.top / "dovecot.log").read_text(errors="replace")
            if (self.top / "dovecot.log").exists()
            else ""
        )
        raise AssertionError(f"dovecot did not start:\n{log}")

    def stop(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.shutdown()
        self._clients.clear()
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def drop_connections(self) -> None:
        """Kill the processes that serve the open IMAP sessions, as a crash or a cut network would:
        their clients lose the connection; the server takes new ones."""
        assert self.process is not None
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                name = (stat.parent / "comm").read_text().strip()
                if int(fields[1]) == self.process.pid and name == "imap":
                    os.kill(int(stat.parent.name), signal.SIGKILL)

    # -- a client, as a mail server delivering or a person looking ------------------------------

    def client(self) -> imaplib.IMAP4_SSL:
        """A logged-in connection over implicit TLS, closed when the server stops."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        imap = imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=context, timeout=30)
        imap.login(self.username, self.password)
        self._clients.append(imap)
        return imap

    def append(self, messages: Iterable[bytes], folder: str = "INBOX") -> None:
        """Put the messages into `folder` by IMAP APPEND, unseen, as a delivery would."""
        imap = self.client()
        for data in messages:
            typ, answer = imap.append(folder, None, None, data)
            assert typ == "OK", answer
        imap.logout()
        self._clients.remove(imap)

    def messages(self, folder: str = "INBOX") -> list[tuple[int, set[str], bytes]]:
        """(uid, flags, bytes) of each message in `folder`, read without changing a flag (\\Recent left
        out); [] if the folder does not exist."""
        imap = self.client()
        try:
            typ, _ = imap.select(folder, readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
            found = []
            for item in data:
                if isinstance(item, tuple):
                    head = item[0].decode()
                    uid = int(head.split("UID ", 1)[1].split()[0])
                    # \Recent only says which session saw it first: not a flag of the message.
                    flags = set(head.split("FLAGS (", 1)[1].split(")", 1)[0].split()) - {"\\Recent"}
                    found.append((uid, flags, item[1]))
            return found
        finally:
            imap.logout()
            self._clients.remove(imap)

    def folders(self) -> list[str]:
        imap = self.client()
        try:
            _, data = imap.list()
            return sorted(
                line.decode().rsplit(" ", 1)[1].strip('"') for line in data if isinstance(line, bytes)
            )
        finally:
            imap.logout()
            self._clients.remove(imap)

    def settings(self, security: str = "ssl", **more: str) -> dict[str, str]:
        """The NEWSLETTER_IMAP_* settings that point `newsletter mailbox` at this server."""
        return {
            "NEWSLETTER_IMAP_HOST": HOST,
            "NEWSLETTER_IMAP_PORT": str(self.imaps_port if security == "ssl" else self.imap_port),
            "NEWSLETTER_IMAP_SECURITY": security,
            "NEWSLETTER_IMAP_USERNAME": self.username,
            "NEWSLETTER_IMAP_PASSWORD": self.password,
            "NEWSLETTER_IMAP_CA_FILE": str(self.ca_file),
            **more,
        }


@pytest.fixture(scope="session")
def imap_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def start_dovecot(imap_ca: trustme.CA) -> Iterator[Callable[..., Dovecot]]:
    """Start Dovecots within a test (`capabilities=` overrides what it offers); all stopped at its end."""
    if not DOVECOT.exists():
        pytest.fail(f"CI is set but {DOVECOT} is missing: install Debian's dovecot-imapd package")
    started: list[Dovecot] = []

    def start(capabilities: str | None = None) -> Dovecot:
        # Short: Dovecot's sockets live under it, and a socket's path has at most 107 characters.
        top = Path(tempfile.mkdtemp(prefix="dovecot-"))
        server = Dovecot(top, imap_ca, capabilities=capabilities)
        started.append(server)
        server.prepare()
        server.start()
        return server

    yield start
    for server in reversed(started):
        server.stop()
        shutil.rmtree(server.top, ignore_errors=True)


@pytest.fixture
def dovecot(start_dovecot: Callable[..., Dovecot]) -> Dovecot:
    """A Dovecot with everything: STARTTLS and implicit TLS, MOVE and UIDPLUS."""
    return start_dovecot()
