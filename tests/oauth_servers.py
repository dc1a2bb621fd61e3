"""Stand-ins for OAuth2 mail on 127.0.0.1, as a pytest plugin: an SMTP server that takes only XOAUTH2
(after STARTTLS), a token endpoint in the place of Microsoft Entra ID (HTTPS, with the test CA), and a
token command.

    pytest_plugins = ["smtp_server", "oauth_servers"]

    def test_it(start_xoauth2, start_endpoint, token_command):
        server = start_xoauth2(accept=lambda token: token.startswith("good-"))
        endpoint = start_endpoint(lifetime=3600)   # endpoint.settings(), .issued, .requests
        token_command.settings()                   # NEWSLETTER_SMTP_TOKEN_COMMAND; .calls()

Test modules import nothing from here (see smtp_server's docstring): what they need comes with the
fixtures' objects.

The server records every SASL string it was given (`recorder.sasl`) and can be told to let a token
carry only so many messages (`recorder.lifetime`): after that it answers MAIL FROM with 421 and hangs
up, as a server does whose session outlived its token.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import ssl
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult
from smtp_server import HOST, Recorder, SMTPServer, _hang_up_after_reply

MAILBOX = "nieuwsbrief@example.org"
TENANT = "4a1c2e6b-0d3f-4e8a-9b7c-2f5d6e8a9b0c"
CLIENT_ID = "0f9e8d7c-6b5a-4321-9876-fedcba987654"
CLIENT_SECRET = "Xq8~client-secret-value-not-the-id"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
_SASL = re.compile(rb"user=([^\x01]*)\x01auth=Bearer ([^\x01]*)\x01\x01")


class XOAuth2Recorder(Recorder):
    """A Recorder whose server offers AUTH XOAUTH2 and checks the token with `accept`."""

    def __init__(self, accept: Callable[[str], bool]) -> None:
        super().__init__()
        self.accept = accept
        self.sasl: list[bytes] = []  # every decoded initial response, in order
        self.lifetime: int | None = None  # messages one token may carry
        self.refusal = "535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.outlook.com]"
        self.error_challenge: dict[str, str] | None = None  # Google's JSON before its 535
        self.carried: Counter[str] = Counter()

    def tokens(self) -> list[str]:
        """The tokens of the logins, in order."""
        return [m.group(2).decode() for s in self.sasl if (m := _SASL.fullmatch(s))]

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's name
        if len(args) == 2:
            blob = base64.b64decode(args[1])
        else:
            answer = await server.challenge_auth("")
            blob = answer if isinstance(answer, bytes) else b""
        with self._lock:
            self.sasl.append(blob)
        found = _SASL.fullmatch(blob)
        if found and found.group(1).decode() == MAILBOX and self.accept(found.group(2).decode()):
            return AuthResult(success=True, auth_data=found.group(2).decode())
        if self.error_challenge is not None:
            await server.challenge_auth(json.dumps(self.error_challenge))
        return AuthResult(success=False, handled=False, message=self.refusal)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self, server: SMTP, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        token = str(session.auth_data)
        with self._lock:
            expired = self.lifetime is not None and self.carried[token] >= self.lifetime
            if not expired:
                self.carried[token] += 1
        if expired:
            _hang_up_after_reply(server)
            return "421 4.7.0 Token expired, closing connection"
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


def xoauth2_server(ca: trustme.CA, ca_file: Path, accept: Callable[[str], bool]) -> SMTPServer:
    """STARTTLS with a certificate from `ca`; AUTH XOAUTH2 only, required, after STARTTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    recorder = XOAuth2Recorder(accept)
    server = SMTPServer(
        recorder,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    server.ca_file = ca_file
    server.username = MAILBOX
    server.security = "starttls"
    return server


@dataclass
class TokenCommand:
    """A small program that prints `good-<n>-…` (n counts its runs), or what `prints` holds."""

    script: Path
    counter: Path

    @property
    def line(self) -> str:
        return shlex.join([sys.executable, str(self.script), str(self.counter)])

    def calls(self) -> int:
        return int(self.counter.read_text()) if self.counter.exists() else 0

    def mode(self, what: str) -> None:
        """ "fail": exit 1 with a complaint on stderr; another word: print tokens that start with it."""
        (self.counter.parent / "mode").write_text(what)

    def settings(self) -> dict[str, str]:
        return {"NEWSLETTER_SMTP_TOKEN_COMMAND": self.line}


COMMAND = """\
import sys
from pathlib import Path

counter = Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
mode = (counter.parent / "mode").read_text().strip() if (counter.parent / "mode").exists() else "good"
if mode == "fail":
    print("refreshing the token", file=sys.stderr)
    print("oama: no refresh token for nieuwsbrief@example.org; run oama authorize", file=sys.stderr)
    sys.exit(1)
print(f"{mode}-{n}-eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.c2VjcmV0.sig{n:04d}")
"""


def make_token_command(folder: Path) -> TokenCommand:
    """The command in `folder`; `mode("fail")` or another prefix changes what it does."""
    script = folder / "token.py"
    script.write_text(COMMAND)
    return TokenCommand(script, folder / "calls")


class TokenEndpoint:
    """Microsoft Entra ID as msal sees it, for one tenant and app: the OpenID configuration and the
    client-credentials token endpoint, over HTTPS on 127.0.0.1 with a certificate from `ca`. Tokens
    last `lifetime` seconds; `issued` are the tokens it gave, `requests` the token requests' forms."""

    def __init__(self, ca: trustme.CA, ca_file: Path, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.ca_file = ca_file
        self.client_secret = CLIENT_SECRET
        self.issued: list[str] = []
        self.requests: list[dict[str, list[str]]] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: http.server would log each request to the test's stderr."""

            def do_GET(self) -> None:
                if self.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                    self._json(200, endpoint.configuration())
                else:
                    self._json(400, _aad_error("invalid_tenant", "AADSTS90002: Tenant not found."))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                status, body = endpoint.token_answer(self.path, form)
                self._json(status, body)

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST, "localhost").configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def authority(self) -> str:
        return f"https://{HOST}:{self.port}"

    def settings(self, **changed: str) -> dict[str, str]:
        """The NEWSLETTER_OAUTH_* settings for this endpoint, and requests' CA bundle for its certificate."""
        return {
            "NEWSLETTER_OAUTH_TENANT": TENANT,
            "NEWSLETTER_OAUTH_CLIENT_ID": CLIENT_ID,
            "NEWSLETTER_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
            "NEWSLETTER_OAUTH_AUTHORITY": self.authority,
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
            "NO_PROXY": HOST,
            **changed,
        }

    def configuration(self) -> dict[str, Any]:
        base = f"{self.authority}/{TENANT}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        }

    def token_answer(self, path: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(form)
            if path != f"/{TENANT}/oauth2/v2.0/token" or form.get("grant_type") != ["client_credentials"]:
                return 400, _aad_error("invalid_request", "AADSTS900144: The request is not valid.")
            if form.get("client_id") != [CLIENT_ID]:
                return 400, _aad_error(
                    "unauthorized_client",
                    f"AADSTS700016: Application with identifier '{form.get('client_id')}' "
                    "was not found in the directory.",
                )
            if form.get("client_secret") != [CLIENT_SECRET]:
                return 401, _aad_error(
                    "invalid_client",
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value, not the client secret ID.",
                )
            if form.get("scope") != [EXCHANGE_SCOPE]:
                return 400, _aad_error(
                    "invalid_scope", "AADSTS70011: The provided value for scope is not valid."
                )
            token = (
                f"entra-{len(self.issued) + 1}-eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6WyJTTVRQLlNlbmRBc0FwcCJdfQ.sig"
            )
            self.issued.append(token)
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": token,
        }

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def _aad_error(error: str, description: str) -> dict[str, Any]:
    # Entra ID's descriptions end with ids a person cannot act on.
    ids = (
        " Trace ID: 0b5c3f1e-0000-4000-8000-000000000000 Correlation ID: 5d1f0000-0000-4000-8000-0000000000aa"
    )
    return {"error": error, "error_description": description + ids + " Timestamp: 2026-12-01 10:00:00Z"}


@pytest.fixture
def start_xoauth2(tls_ca: trustme.CA, ca_file: Path) -> Iterator[Callable[..., SMTPServer]]:
    """Start XOAUTH2-only servers within a test: start_xoauth2(accept=...); stopped at its end."""
    started: list[SMTPServer] = []

    def start(accept: Callable[[str], bool]) -> SMTPServer:
        server = xoauth2_server(tls_ca, ca_file, accept)
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def start_endpoint(tls_ca: trustme.CA, ca_file: Path) -> Iterator[Callable[..., TokenEndpoint]]:
    """Start token endpoints within a test: start_endpoint(lifetime=seconds); stopped at its end."""
    started: list[TokenEndpoint] = []

    def start(lifetime: int = 3600) -> TokenEndpoint:
        endpoint = TokenEndpoint(tls_ca, ca_file, lifetime)
        endpoint.__enter__()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in reversed(started):
        endpoint.__exit__()


@pytest.fixture
def token_command(tmp_path: Path) -> TokenCommand:
    folder = tmp_path / "token-command"
    folder.mkdir()
    return make_token_command(folder)
