"""A local web page that shows an issue while it is written, updated on every save.

The page shows the email at desktop and phone width, each in its own frame so the email's own CSS and
media queries apply as in a mail client, its plain text, the headers a reader sees first, its size
against Gmail's clipping limit, and any mistake with its file, line and field. A watcher thread
re-renders when the issue, its images or the layout change and tells the page over server-sent
events. The server binds to 127.0.0.1 by default and serves nothing but the rendered email and image
files from the issue's and the layout's folders.

The page shows subscribers' names and addresses, so it answers only requests addressed to the host it
listens on: a web page elsewhere that points its own domain name at 127.0.0.1 (DNS rebinding) sends
its own name as Host and is refused. The email frames are sandboxed: nothing in them runs.
"""

from __future__ import annotations

import html
import ipaddress
import json
import mimetypes
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter.errors import NewsletterError
from newsletter.model import SAMPLE_RECIPIENT, Recipient, Rendered
from newsletter.model.merge import html_values
from newsletter.reading.issues import LoadedIssue
from newsletter.rendering.project import Project
from newsletter.rendering.size import GMAIL_CLIP_BYTES, html_size

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
ASSETS = "/assets"
PREVIEW_UNSUBSCRIBE = "#unsubscribe-preview"


@dataclass
class Snapshot:
    """The latest render of the issue, or the mistakes that stopped it."""

    version: int = 0
    loaded: LoadedIssue | None = None
    rendered: Rendered | None = None
    errors: list[str] = field(default_factory=list)
    rendered_at: float = 0.0


class Preview:
    """Renders one issue file again whenever a file it depends on changes."""

    def __init__(
        self,
        project: Project,
        path: Path,
        *,
        sender: str,
        recipients: list[Recipient] | None = None,
        interval: float = 0.25,
    ) -> None:
        # Images are linked from this server instead of embedded: a browser cannot show cid: parts.
        self.project = replace(project, asset_base_url=ASSETS, archive_url=None)
        self.path = path
        self.sender = sender
        self.recipients = recipients or [SAMPLE_RECIPIENT]
        self.interval = interval
        self.snapshot = Snapshot()
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._stamps: dict[Path, tuple[int, int]] = {}
        self.refresh()

    # -- what is watched ---------------------------------------------------------------------

    def layout_dir(self) -> Path | None:
        loaded = self.snapshot.loaded
        if loaded is None:
            return None
        return self.project.layouts_for(self.path) / loaded.issue.layout

    def watched(self) -> Iterator[Path]:
        yield self.path
        folder = self.path.parent
        for candidate in folder.rglob("*"):
            if candidate.suffix.lower() in IMAGE_TYPES:
                yield candidate
        layouts = self.project.layouts_for(self.path)
        if layouts.is_dir():
            for candidate in layouts.rglob("*"):
                if candidate.is_file():
                    yield candidate

    def _scan(self) -> dict[Path, tuple[int, int]]:
        # The size too: a save truncates, then writes, often within one tick of the file system's
        # clock; a scan between the two would otherwise leave the empty file as the last render.
        stamps: dict[Path, tuple[int, int]] = {}
        for path in self.watched():
            try:
                info = path.stat()
            except OSError:
                continue
            stamps[path] = (info.st_mtime_ns, info.st_size)
        return stamps

    # -- rendering ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Render now and publish the result as a new version."""
        self._stamps = self._scan()
        snapshot = Snapshot(version=self.snapshot.version + 1, rendered_at=time.time())
        try:
            snapshot.loaded, snapshot.rendered = self.project.render(self.path)
        except NewsletterError as e:
            snapshot.errors = e.lines()
        except Exception as e:  # noqa: BLE001 - a bug must not stop the preview: show it and go on
            snapshot.errors = [f"{self.path}: unexpected error while rendering: {type(e).__name__}: {e}"]
        if snapshot.errors:
            # Keep showing the last good email under the error, as an editor would.
            snapshot.loaded = self.snapshot.loaded
            snapshot.rendered = self.snapshot.rendered
        with self.changed:
            self.snapshot = snapshot
            self.changed.notify_all()

    def watch(self) -> None:
        """Poll the watched files until stopped; re-render on any change (a save, an added image)."""
        while not self._stop.wait(self.interval):
            if self._scan() != self._stamps:
                self.refresh()

    def stop(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait_for_change(self, version: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.snapshot.version != version or self.stopped, timeout)
            return self.snapshot.version

    # -- what the page shows -----------------------------------------------------------------

    def recipient(self, index: int) -> Recipient:
        return self.recipients[index] if 0 <= index < len(self.recipients) else self.recipients[0]

    def values(self, rendered: Rendered, recipient: Recipient) -> tuple[str, ...]:
        return rendered.values_for({**recipient.merge_data(), "unsubscribe_url": PREVIEW_UNSUBSCRIBE})

    def preheader(self, rendered: Rendered, recipient: Recipient) -> str:
        return rendered.preheader.fill(self.values(rendered, recipient))

    def email_html(self, index: int) -> str | None:
        rendered = self.snapshot.rendered
        if rendered is None:
            return None
        return rendered.html.fill(html_values(rendered.fields, self.values(rendered, self.recipient(index))))

    def email_text(self, index: int) -> str | None:
        rendered = self.snapshot.rendered
        if rendered is None:
            return None
        return rendered.text.fill(self.values(rendered, self.recipient(index)))

    def state(self, index: int) -> dict[str, object]:
        snap = self.snapshot
        rendered = snap.rendered
        body = self.email_html(index)
        size = html_size(body) if body is not None else 0
        subject = ""
        if rendered is not None:
            subject = rendered.subject.fill(self.values(rendered, self.recipient(index)))
        return {
            "version": snap.version,
            "ok": not snap.errors,
            "errors": snap.errors,
            "file": str(self.path),
            "from": self.sender,
            "subject": subject,
            "preheader": self.preheader(rendered, self.recipient(index)) if rendered else "",
            "size": size,
            "limit": GMAIL_CLIP_BYTES,
            "recipients": [f"{r.name or r.first_name or '(geen naam)'} <{r.email}>" for r in self.recipients],
            "recipient": index,
        }

    def asset(self, url_path: str) -> Path | None:
        """The image file behind /assets/…, only inside the issue's or the layout's folder."""
        relative = unquote(url_path.removeprefix(ASSETS + "/"))
        if "\\" in relative or "\0" in relative:
            return None
        layouts = self.project.layouts_for(self.path)
        parts = relative.split("/")
        if parts[0] == "layouts" and len(parts) > 2:
            base = self.layout_dir()
            if base is None or parts[1] != base.name:
                return None
            candidate, root = layouts / "/".join(parts[1:]), base
        else:
            candidate, root = self.path.parent / relative, self.path.parent
        try:
            resolved = candidate.resolve()
        except OSError:
            return None
        if not resolved.is_relative_to(root.resolve()) or resolved.suffix.lower() not in IMAGE_TYPES:
            return None
        return resolved if resolved.is_file() else None


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: __FILE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #e9ecef; color: #1d2b36; }
 header { background: #1d2b36; color: #fff; padding: 10px 16px; display: flex; gap: 24px; flex-wrap: wrap;
          align-items: baseline; }
 header b { color: #9fb3c8; font-weight: normal; margin-right: 4px; }
 #errors { display: none; background: #b00020; color: #fff; padding: 12px 16px; font: 14px/1.5 monospace;
           white-space: pre-wrap; }
 #errors.shown { display: block; }
 nav { padding: 8px 16px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
 nav button { border: 1px solid #8a99a8; background: #fff; padding: 4px 12px; border-radius: 4px;
              cursor: pointer; }
 nav button.on { background: #1d2b36; color: #fff; }
 .size.over { color: #b00020; font-weight: bold; }
 main { display: flex; gap: 24px; padding: 8px 16px 32px; align-items: flex-start; overflow-x: auto; }
 figure { margin: 0; }
 figcaption { font-size: 12px; color: #5b6770; margin-bottom: 4px; }
 iframe { border: 0; background: #fff; box-shadow: 0 1px 4px rgba(0,0,0,.2); display: block; }
 #desktop { width: 680px; } #phone { width: 375px; }
 #text { display: none; background: #fff; padding: 16px; white-space: pre-wrap; font: 13px/1.5 monospace;
         max-width: 80ch; box-shadow: 0 1px 4px rgba(0,0,0,.2); }
 body.text #text { display: block; } body.text figure { display: none; }
 .stale iframe { opacity: .45; }
</style></head>
<body>
<header><span><b>From</b><span id="from"></span></span><span><b>Subject</b><span id="subject"></span></span>
<span><b>Preheader</b><span id="preheader"></span></span></header>
<div id="errors" role="alert"></div>
<nav>
 <button id="tab-html" class="on" type="button">Email</button>
 <button id="tab-text" type="button">Plain text</button>
 <label>Personalised for <select id="recipient"></select></label>
 <span class="size" id="size"></span>
 <span id="status"></span>
</nav>
<main id="frames">
 <figure><figcaption>Desktop, 680 px</figcaption><iframe id="desktop" title="desktop" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe></figure>
 <figure><figcaption>Phone, 375 px</figcaption><iframe id="phone" title="phone" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe></figure>
 <pre id="text"></pre>
</main>
<script>
const $ = (id) => document.getElementById(id);
let recipient = 0, version = -1;
function fit(frame) {
  // A frame that loads while the text tab hides it measures 0: keep its size, fit it when shown.
  try {
    const height = frame.contentDocument.documentElement.scrollHeight;
    if (height > 0) { frame.style.height = height + "px"; }
  } catch (e) {}
}
for (const id of ["desktop", "phone"]) { $(id).addEventListener("load", () => fit($(id))); }
async function update() {
  const state = await (await fetch("/state.json?r=" + recipient)).json();
  $("from").textContent = state.from; $("subject").textContent = state.subject;
  $("preheader").textContent = state.preheader;
  const kb = (state.size / 1024).toFixed(1), limit = (state.limit / 1024).toFixed(0);
  $("size").textContent = `HTML ${kb} KB of ${limit} KB (Gmail clips above)`;
  $("size").classList.toggle("over", state.size > state.limit);
  $("errors").textContent = state.errors.join("\\n");
  $("errors").classList.toggle("shown", !state.ok);
  $("frames").classList.toggle("stale", !state.ok);
  const select = $("recipient");
  if (select.options.length !== state.recipients.length) {
    select.innerHTML = "";
    state.recipients.forEach((label, i) => select.add(new Option(label, i)));
    select.value = recipient;
  }
  if (state.version !== version) {
    version = state.version;
    const q = `?r=${recipient}&v=${version}`;
    $("desktop").src = "/email.html" + q; $("phone").src = "/email.html" + q;
    $("text").textContent = await (await fetch("/email.txt" + q)).text();
  }
  $("status").textContent = "version " + state.version;
  document.body.dataset.version = state.version;
}
$("recipient").addEventListener("change", (e) => { recipient = Number(e.target.value); version = -1; update(); });
$("tab-html").addEventListener("click", () => { document.body.classList.remove("text");
  $("tab-html").classList.add("on"); $("tab-text").classList.remove("on");
  fit($("desktop")); fit($("phone")); });
$("tab-text").addEventListener("click", () => { document.body.classList.add("text");
  $("tab-text").classList.add("on"); $("tab-html").classList.remove("on"); });
const events = new EventSource("/events");
events.onmessage = () => update();
update();
</script>
</body></html>
"""

NO_EMAIL = (
    "<!DOCTYPE html><html><body style='font:15px system-ui;padding:24px;color:#b00020'>"
    "The issue has a mistake; see the red panel above the frames.</body></html>"
)


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names of listening on every address, compared only


@dataclass(frozen=True)
class HostCheck:
    """Which Host headers the preview answers: the names of the address it listens on.

    Listening on every address (0.0.0.0), any IP address and this computer's own name are its names
    too; a domain name other than that is how a rebinding page gets in, an IP address never is.
    """

    names: frozenset[str]
    any_ip: bool = False

    @classmethod
    def listening_on(cls, host: str) -> HostCheck:
        host = host.strip("[]").lower()
        if host in WILDCARDS:
            own = {socket.gethostname().lower(), socket.getfqdn().lower()}
            return cls(LOOPBACK_NAMES | own, any_ip=True)
        return cls(LOOPBACK_NAMES | {host})

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        try:
            name = urlsplit(f"//{header}").hostname
        except ValueError:
            return False
        if name is None:
            return False
        if name in self.names:
            return True
        if not self.any_ip:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


def make_handler(preview: Preview, hosts: HostCheck | None = None) -> type[BaseHTTPRequestHandler]:
    check = hosts or HostCheck.listening_on("127.0.0.1")

    class Handler(BaseHTTPRequestHandler):
        server_version = "newsletter-preview"

        def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002 - stdlib hook
            return None  # quiet: the terminal is for the person writing

        def _send(
            self,
            body: bytes,
            content_type: str,
            status: HTTPStatus = HTTPStatus.OK,
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if not check.allows(self.headers.get("Host")):
                port = self.server.server_address[1]  # type: ignore[index]
                self._send(
                    f"This preview answers only at http://127.0.0.1:{port}/ (or the --host it was "
                    "started with).\n".encode(),
                    "text/plain; charset=utf-8",
                    HTTPStatus.FORBIDDEN,
                )
                return
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                index = int(query.get("r", ["0"])[0])
            except ValueError:
                index = 0
            if url.path == "/":
                page = PAGE.replace("__FILE__", html.escape(str(preview.path)))
                self._send(page.encode(), "text/html; charset=utf-8")
            elif url.path == "/email.html":
                body = preview.email_html(index)
                # Opened on its own, outside the sandboxed frame, the email still runs nothing.
                self._send(
                    (body or NO_EMAIL).encode(),
                    "text/html; charset=utf-8",
                    extra={"Content-Security-Policy": "script-src 'none'; object-src 'none'"},
                )
            elif url.path == "/email.txt":
                text = preview.email_text(index)
                self._send((text or "\n".join(preview.snapshot.errors)).encode(), "text/plain; charset=utf-8")
            elif url.path == "/state.json":
                self._send(json.dumps(preview.state(index)).encode(), "application/json")
            elif url.path == "/events":
                self._events()
            elif url.path.startswith(ASSETS + "/"):
                found = preview.asset(url.path)
                if found is None:
                    self._send(b"not found", "text/plain", HTTPStatus.NOT_FOUND)
                    return
                kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
                self._send(found.read_bytes(), kind)
            else:
                self._send(b"not found", "text/plain", HTTPStatus.NOT_FOUND)

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            # The current version first: a change between the page's first fetch and this connection
            # (or while EventSource reconnected) would otherwise go unseen until the next save.
            version = preview.snapshot.version
            try:
                self.wfile.write(f"data: {version}\n\n".encode())
                self.wfile.flush()
                while not preview.stopped:
                    now = preview.wait_for_change(version, timeout=10)
                    if now != version:
                        version = now
                        self.wfile.write(f"data: {version}\n\n".encode())
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True


def serve(preview: Preview, host: str = "127.0.0.1", port: int = 8000) -> PreviewServer:
    """Start the watcher and a server (not yet serving: call serve_forever, or run it in a thread)."""
    server = PreviewServer((host, port), make_handler(preview, HostCheck.listening_on(host)))
    threading.Thread(target=preview.watch, daemon=True, name="preview-watch").start()
    return server
