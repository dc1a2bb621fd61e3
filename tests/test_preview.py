"""The preview server's routes, in-process: the page, the email, its text, its state, live updates,
and that nothing but the rendered email and image files inside the issue's folder is ever served."""

from __future__ import annotations

import http.client
import inspect
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from command import WIDE, environment, run
from conftest import CSV, FIRST_TITLE, ISSUE, SUBJECT, copy_project, edit, line_of, png
from preview_server import SENDER, WAIT, Running, serving

from newsletter.model import SAMPLE_RECIPIENT
from newsletter.reading.recipients import load as load_recipients
from newsletter.rendering.project import Project
from newsletter.rendering.size import GMAIL_CLIP_BYTES
from newsletter.web.preview import Preview
from newsletter.web.preview_http import HostCheck, serve

PREHEADER = "Health Campus Limburg in San Francisco, Spaas Kaarsen kiest voor de trein en een groeitip."


@pytest.fixture
def start(project_dir: Path) -> Iterator[Callable[..., Running]]:
    """Start a preview server on a free port; every one started is stopped and closed afterwards."""
    with ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(serving(project_dir, **kwargs))


@pytest.fixture
def running(start: Callable[..., Running]) -> Running:
    return start()


# -- what the routes serve -----------------------------------------------------------------------


def test_root_serves_the_page_with_desktop_and_phone_frames(running: Running) -> None:
    page = running.body("/", "text/html")
    assert '<iframe id="desktop"' in page
    assert '<iframe id="phone"' in page
    assert 'new EventSource("/events")' in page
    assert f"<title>Preview: {running.path}</title>" in page


def test_email_html_is_the_sample_issue_personalised_for_the_sample_reader(running: Running) -> None:
    email = running.body("/email.html", "text/html")
    assert email.lstrip().lower().startswith("<!doctype html>")
    assert "Beste Sam," in email
    assert FIRST_TITLE in email
    assert "Kempische Steenweg 303 / bus 101" in email
    # A preview has no real unsubscribe link, and no merge token is left unfilled.
    assert 'href="#unsubscribe-preview"' in email
    assert "NLMERGE" not in email


def test_email_html_is_personalised_for_the_chosen_audience_row(start: Callable[..., Running]) -> None:
    people = load_recipients(CSV).recipients
    running = start(recipients=people)
    assert "Beste An," in running.text("/email.html?r=0")
    assert "Beste Bert," in running.text("/email.html?r=1")
    assert "Beste Carla," in running.text("/email.html?r=2")
    # Dirk's row has no first name: the issue's default greets him.
    assert "Beste lezer," in running.text("/email.html?r=3")
    # A row that does not exist (or is no number) shows the first one instead of failing.
    assert "Beste An," in running.text("/email.html?r=99")
    assert "Beste An," in running.text("/email.html?r=abc")


def test_email_txt_is_the_plain_text(running: Running) -> None:
    text = running.body("/email.txt", "text/plain")
    assert "Beste Sam," in text
    assert FIRST_TITLE in text
    assert "https://example.org/nieuws/health-campus-limburg-san-francisco" in text
    assert "<p>" not in text
    assert "NLMERGE" not in text


def test_state_json_has_headers_size_limit_and_recipients(start: Callable[..., Running]) -> None:
    people = load_recipients(CSV).recipients
    running = start(recipients=people)
    status, kind, _ = running.get("/state.json")
    assert status == 200
    assert kind == "application/json"
    state = running.state(1)
    assert state["ok"] is True
    assert state["errors"] == []
    assert state["subject"] == SUBJECT
    assert state["preheader"] == PREHEADER
    assert state["from"] == SENDER
    assert state["limit"] == GMAIL_CLIP_BYTES == 102 * 1024
    assert state["size"] == len(running.text("/email.html?r=1").encode())
    assert 10_000 < int(str(state["size"])) < GMAIL_CLIP_BYTES
    assert state["recipients"] == [
        "An Peeters <an.peeters@example.org>",
        "Bert Janssens <bert.janssens@example.org>",
        "Carla Maes <carla.maes@example.com>",
        "(geen naam) <dirk@example.com>",
    ]
    assert state["recipient"] == 1
    assert state["file"] == str(running.path)


def test_without_an_audience_the_sample_reader_is_the_only_recipient(running: Running) -> None:
    assert running.state()["recipients"] == [f"{SAMPLE_RECIPIENT.name} <{SAMPLE_RECIPIENT.email}>"]


def test_merge_fields_in_subject_and_preheader_are_filled_for_the_reader(
    start: Callable[..., Running], project_dir: Path
) -> None:
    issue = project_dir / ISSUE
    edit(issue, 'subject: "Limburg', "subject: \"{{ first_name | default('Lezer') }}: Limburg")
    edit(issue, "preheader: Health", "preheader: \"{{ first_name | default('Lezer') }}, lees over Health")
    edit(issue, "een groeitip.", 'een groeitip."')
    running = start(recipients=load_recipients(CSV).recipients)
    assert running.state(0)["subject"] == f"An: {SUBJECT}"
    assert running.state(0)["preheader"] == f"An, lees over {PREHEADER}"
    assert running.state(3)["preheader"] == f"Lezer, lees over {PREHEADER}"


def test_unknown_paths_are_404(running: Running) -> None:
    for path in ("/nope", "/email", "/state", "/assets", "/assets/"):
        status, _, _ = running.get(path)
        assert status == 404, path


# -- live updates ---------------------------------------------------------------------------------


def test_editing_the_issue_file_bumps_the_version(running: Running) -> None:
    before = running.state()
    edit(running.path, f"title: {FIRST_TITLE}", "title: Een nieuwe titel voor San Francisco")
    after = running.wait_for(lambda s: s["version"] != before["version"])
    assert int(str(after["version"])) > int(str(before["version"]))
    assert after["ok"] is True
    email = running.text("/email.html")
    assert "Een nieuwe titel voor San Francisco" in email
    assert FIRST_TITLE not in email


def test_adding_an_image_beside_the_issue_bumps_the_version(running: Running) -> None:
    before = running.state()["version"]
    (running.path.parent / "nieuw.png").write_bytes(png())
    assert running.wait_for(lambda s: s["version"] != before)["version"] != before


@pytest.mark.parametrize(
    ("old", "new", "needle", "pattern"),
    [
        pytest.param(
            "    kicker: Waar onderzoek",
            "    kickr: Waar onderzoek",
            "kickr:",
            r"sections\[1\]\.kickr: unknown key 'kickr'; did you mean 'kicker'\?",
            id="unknown-key",
        ),
        pytest.param(
            "status: draft",
            "status: [draft",
            "status: [draft",
            r".*YAML",
            id="bad-yaml",
        ),
        pytest.param(
            "status: draft",
            "status: ready",
            "status: ready",
            r"status: status is ready but send_at is missing",
            id="ready-without-send-at",
        ),
    ],
)
def test_a_broken_issue_shows_file_line_field_and_message_until_fixed(
    running: Running, old: str, new: str, needle: str, pattern: str
) -> None:
    good = running.path.read_text(encoding="utf-8")
    edit(running.path, old, new)
    broken = running.wait_for(lambda s: s["ok"] is False)
    assert broken["ok"] is False
    errors = broken["errors"]
    assert isinstance(errors, list)
    assert errors
    # YAML names the line where it noticed the mistake, which may be a later one.
    line = line_of(running.path, needle)
    where = re.escape(str(running.path))
    assert any(re.fullmatch(rf"{where}:(\d+): {pattern}.*", e) for e in errors), errors
    if "YAML" not in pattern:
        assert f"{running.path}:{line}: " in errors[0]

    # The server keeps answering, and keeps showing the last good email under the mistake.
    assert running.get("/")[0] == 200
    assert "Beste Sam," in running.text("/email.html")
    assert running.state()["subject"] == SUBJECT
    text = running.text("/email.txt")
    assert "Beste Sam," in text

    running.path.write_text(good, encoding="utf-8")
    fixed = running.wait_for(lambda s: s["ok"] is True)
    assert fixed["ok"] is True
    assert fixed["errors"] == []


def test_an_issue_broken_from_the_start_serves_a_notice_then_the_email_once_fixed(
    start: Callable[..., Running], project_dir: Path
) -> None:
    issue = project_dir / ISSUE
    good = issue.read_text(encoding="utf-8")
    issue.write_text(good.replace("layout: pom-limburg", "layout: pom-limbrug"), encoding="utf-8")
    running = start()
    state = running.state()
    assert state["ok"] is False
    line = line_of(issue, "layout: pom-limbrug")
    errors = state["errors"]
    assert isinstance(errors, list)
    assert errors[0].startswith(f"{issue}:{line}: layout: unknown layout 'pom-limbrug'")
    assert "has a mistake" in running.text("/email.html")
    assert "unknown layout" in running.text("/email.txt")

    issue.write_text(good, encoding="utf-8")
    assert running.wait_for(lambda s: s["ok"] is True)["ok"] is True
    assert "Beste Sam," in running.text("/email.html")


def test_events_sends_the_version_after_a_change(running: Running) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=WAIT)
    try:
        conn.request("GET", "/events")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        # On connecting, the current version: a page that missed a change catches up at once.
        first = running.state()["version"]
        assert response.readline() == f"data: {first}\n".encode()
        assert response.readline() == b"\n"

        edit(running.path, f"title: {FIRST_TITLE}", "title: Nieuw")
        line = response.readline()
        while line.startswith(b":") or line == b"\n":  # keep-alive comments
            line = response.readline()
        match = re.fullmatch(rb"data: (\d+)\n", line)
        assert match, line
        assert int(match[1]) > int(str(first))
        assert int(match[1]) <= int(str(running.state()["version"]))
        response.close()
    finally:
        conn.close()


# -- nothing but images from the issue's folder --------------------------------------------------


def add_files(root: Path) -> None:
    """Secrets and images outside the issue's folder, a CSV inside it, and symlinks out of it."""
    (root / ".env").write_text("NEWSLETTER_SMTP_PASSWORD=geheim\n", encoding="utf-8")
    (root / "secret.png").write_bytes(png())
    issues = root / ISSUE.parent
    (issues / "images").mkdir(exist_ok=True)
    (issues / "images" / "foto.png").write_bytes(png(3, 3))
    (issues / "images" / "foto.JPG").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (issues / "link.png").symlink_to(root / "secret.png")
    (issues / "env.png").symlink_to(root / ".env")


@pytest.fixture
def with_files(running: Running, project_dir: Path) -> Running:
    add_files(project_dir)
    return running


@pytest.fixture(scope="module")
def fortress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server for the many refused paths: they change nothing, so they can share it."""
    root = tmp_path_factory.mktemp("fortress") / "project"
    root.mkdir()
    copy_project(root)
    add_files(root)
    with serving(root) as running:
        yield running


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../../.env",
        "/assets/../.env",
        "/assets/%2e%2e/%2e%2e/.env",
        "/assets/%2e%2e/.env",
        "/assets/%2E%2E%2F.env",
        "/assets/..%2f..%2f.env",
        "/assets/../2026-01.yaml",
        "/assets/2026-01.yaml",
        "/assets/voorbeeld-leden.csv",
        "/assets/../secret.png",
        "/assets/%2e%2e/secret.png",
        "/assets/images/../../secret.png",
        "/assets//etc/passwd",
        "/assets/..\\secret.png",
        "/assets/link.png",
        "/assets/env.png",
        "/assets/layouts/pom-limburg/layout.yaml",
        "/assets/layouts/pom-limburg/email.mjml.j2",
        "/assets/layouts/pom-limburg/../../secret.png",
        "/assets/layouts/pom-limburg/../../issues/images/foto.png",
        "/assets/layouts/default/layout.yaml",
        "/assets/images/missing.png",
        "/assets/images",
    ],
)
def test_nothing_outside_the_issue_images_is_served(fortress: Running, path: str) -> None:
    assert fortress.get("/assets/images/foto.png")[0] == 200  # the server does serve images
    status, _, body = fortress.get(path)
    assert status == 404, f"{path} was served"
    assert b"geheim" not in body
    assert b"PNG" not in body


def test_a_local_image_in_the_issue_folder_is_served_with_its_type(with_files: Running) -> None:
    status, kind, body = with_files.get("/assets/images/foto.png")
    assert status == 200
    assert kind == "image/png"
    assert body == png(3, 3)
    status, kind, _ = with_files.get("/assets/images/foto.JPG")
    assert status == 200
    assert kind == "image/jpeg"
    status, kind, _ = with_files.get("/assets/images/%66oto.png")  # percent-encoded 'f'
    assert (status, kind) == (200, "image/png")


def test_the_email_links_its_local_images_to_the_preview_server(with_files: Running) -> None:
    edit(
        with_files.path,
        "    link:\n      url: https://example.org/nieuws/health-campus-limburg-san-francisco",
        "    image:\n      src: images/foto.png\n      alt: Het panel in San Francisco",
    )
    deadline = time.monotonic() + WAIT
    email = with_files.text("/email.html")
    while "Het panel in San Francisco" not in email and time.monotonic() < deadline:
        time.sleep(0.05)
        email = with_files.text("/email.html")
    assert with_files.state()["ok"] is True
    sources = re.findall(r'<img[^>]*src="(/assets/[^"]+)"', email)
    # The layout's logo and dark logo, then the issue's images in order.
    # Each named by its content (8 hex digits of its SHA-256), as on the asset host.
    assert [re.sub(r"-[0-9a-f]{8}(?=\.png$)", "", source) for source in sources[:3]] == [
        "/assets/layouts/pom-limburg/logo.png",
        "/assets/layouts/pom-limburg/logo-dark.png",
        "/assets/images/foto.png",
    ]
    for source in sources[:3]:
        status, kind, _ = with_files.get(source)
        assert (status, kind) == (200, "image/png")


def test_the_layout_images_are_served_only_from_the_issue_layout(
    start: Callable[..., Running], project_dir: Path
) -> None:
    for name in ("pom-limburg", "default"):
        layout = project_dir / "layouts" / name
        (layout / "logo.png").write_bytes(png(8, 2))
        with (layout / "layout.yaml").open("a", encoding="utf-8") as f:
            f.write('logo: {src: logo.png, alt: "Logo", width: 160}\n')
    running = start()
    assert re.search(
        r'<img [^>]*src="/assets/layouts/pom-limburg/logo-[0-9a-f]{8}\.png"', running.text("/email.html")
    )
    assert running.get("/assets/layouts/pom-limburg/logo.png") == (200, "image/png", png(8, 2))
    # Another layout's folder is not the issue's: nothing from it is served.
    assert running.get("/assets/layouts/default/logo.png")[0] == 404
    assert running.get("/assets/layouts/pom-limburg/../default/logo.png")[0] == 404


# -- the address it listens on -------------------------------------------------------------------


def test_serve_binds_to_localhost_by_default(project_dir: Path) -> None:
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    preview = Preview(Project(), project_dir / ISSUE, sender=SENDER, interval=0.1)
    server = serve(preview, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        preview.stop()
        server.server_close()


def test_the_preview_command_says_it_listens_on_localhost(project_dir: Path) -> None:
    result = run("preview", "--help", cwd=project_dir, env=environment(WIDE))
    assert result.returncode == 0, result.stderr
    assert "--host" in result.stdout
    assert "127.0.0.1" in result.stdout


# -- only the person writing ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/state.json", "/email.html", "/email.txt", "/events"])
@pytest.mark.parametrize(
    "host", ["rebind.example.com:{port}", "rebind.example.com", "127.0.0.1.rebind.example.com", ""]
)
def test_a_request_for_another_host_name_is_refused(running: Running, path: str, host: str) -> None:
    # A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) sends that name as Host.
    status, _, body = running.get(path, host=host.format(port=running.port))
    assert status == 403
    assert b"@example.org" not in body
    assert f"http://127.0.0.1:{running.port}/".encode() in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_the_loopback_names_are_answered(running: Running, host: str) -> None:
    status, content_type, _ = running.get("/state.json", host=host.format(port=running.port))
    assert (status, content_type) == (200, "application/json")


def test_listening_on_every_address_answers_ip_addresses_and_its_own_name_only() -> None:
    check = HostCheck.listening_on("0.0.0.0")
    assert check.allows("192.0.2.10:8000")
    assert check.allows("[2001:db8::5]:8000")
    assert check.allows(f"{socket.gethostname()}:8000")
    assert not check.allows("rebind.example.com:8000")
    named = HostCheck.listening_on("nieuws.example.org")
    assert named.allows("nieuws.example.org:8000")
    assert not named.allows("192.0.2.10:8000")


def test_the_email_frames_are_sandboxed_and_the_email_runs_no_script(running: Running) -> None:
    page = BeautifulSoup(running.text("/"), "html.parser")
    frames = page.find_all("iframe")
    assert len(frames) == 2
    for frame in frames:
        sandbox = " ".join(frame.get_attribute_list("sandbox")).split()
        assert "allow-scripts" not in sandbox
        assert "allow-same-origin" in sandbox  # the page measures the email's height to fit the frame
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    try:
        conn.request("GET", "/email.html")
        response = conn.getresponse()
        response.read()
        assert "script-src 'none'" in (response.getheader("Content-Security-Policy") or "")
    finally:
        conn.close()


# -- what the person writes is shown as text, never run ------------------------------------------


def test_a_file_name_with_markup_quotes_and_braces_is_escaped_in_the_page(
    start: Callable[..., Running], project_dir: Path
) -> None:
    hostile = ISSUE.with_name("\"><script>alert('x')<!-- {{ 7*7 }}.yaml")
    shutil.copyfile(project_dir / ISSUE, project_dir / hostile)
    running = start(issue=hostile)
    page = running.body("/", "text/html")
    parsed = BeautifulSoup(page, "html.parser")
    assert parsed.title is not None
    # The whole name, as written: no element ended by its quote, no braces read as a template.
    assert parsed.title.get_text() == f"Preview: {project_dir / hostile}"
    assert len(parsed.find_all("script")) == 1, "only the page's own script"
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;!-- {{ 7*7 }}" in page
    assert running.state()["file"] == str(project_dir / hostile)
