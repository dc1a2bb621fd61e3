"""`newsletter serve` with settings of its own: what it refuses to start with, tokens of messages sent
before (the old form, a previous secret), links with the address beside the token or the token in the
path, a ledger that fails while it serves, and the WSGI application under another server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from command import run
from endpoint_server import (
    HOST,
    LIST_ID,
    SECRET,
    Answer,
    fetch,
    free_port,
    serve_env,
    serving,
    wait_for_port,
)
from old_ledger import write_old_ledger

from newsletter.composing.tokens import legacy_token, unsubscribe_token
from newsletter.ledger import Ledger
from newsletter.web.unsubscribe_words import ONE_CLICK_ANSWER

NL = {"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"}


def heading(answer: Answer) -> str:
    assert answer.status == 200, answer.text
    h1 = BeautifulSoup(answer.text, "html.parser").h1
    assert h1 is not None
    return h1.get_text()


def suppressed(db: Path) -> dict[str, tuple[str, str, str | None]]:
    with Ledger(db) as ledger:
        return {s.email: (s.reason, s.source, s.issue) for s in ledger.suppressions()}


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("NEWSLETTER_SECRET", "NEWSLETTER_SECRET"),
        ("NEWSLETTER_UNSUBSCRIBE_URL", "NEWSLETTER_UNSUBSCRIBE_URL"),
    ],
)
def test_serve_refuses_to_start_without_a_setting_it_needs(project_dir: Path, unset: str, named: str) -> None:
    env = serve_env()
    del env[unset]
    done = run("serve", "--port", str(free_port()), cwd=project_dir, env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ")
    assert named in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_an_unsubscribe_url_without_a_place_for_the_token(project_dir: Path) -> None:
    env = serve_env(NEWSLETTER_UNSUBSCRIBE_URL="https://example.org/uitschrijven#{token}")
    done = run("serve", "--port", str(free_port()), cwd=project_dir, env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "NEWSLETTER_UNSUBSCRIBE_URL" in done.stderr


def test_serve_refuses_to_start_when_it_knows_no_list(project_dir: Path) -> None:
    env = serve_env()
    del env["NEWSLETTER_FROM"]
    done = run("serve", "--port", str(free_port()), cwd=project_dir, env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "NEWSLETTER_FROM" in done.stderr


def test_a_port_in_use_is_one_line_and_exit_2(project_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--port", str(port), cwd=project_dir, env=serve_env())
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: cannot listen on 127.0.0.1:{port} (Address already in use); pass another --port\n"
    )


def test_a_token_signed_with_a_previous_secret_still_unsubscribes(project_dir: Path) -> None:
    env = serve_env(NEWSLETTER_SECRET="the-new-secret", NEWSLETTER_PREVIOUS_SECRETS=f"older-one, {SECRET}")
    email = "an.peeters@example.org"
    with serving(project_dir, env) as endpoint:
        token = unsubscribe_token(SECRET, LIST_ID, email)
        assert heading(endpoint.get(token, headers=NL)) == "Uitschrijven"
        assert endpoint.one_click(token).text == ONE_CLICK_ANSWER
        assert heading(endpoint.get(unsubscribe_token("never-ours", LIST_ID, email), headers=NL)) == (
            "Deze link werkt niet"
        )
    assert suppressed(project_dir / "newsletter.sqlite3") == {email: ("unsubscribed", "one-click", None)}
    assert "stopped" in endpoint.output()
    assert endpoint.proc.returncode == 0


def test_an_old_form_token_is_matched_among_the_addresses_the_ledger_sent_to(project_dir: Path) -> None:
    db = project_dir / "newsletter.sqlite3"
    readers = [f"lid{i:03d}@example.org" for i in range(1, 301)]
    # A ledger of the first version: its deliveries recorded no List-Id; the layouts give it.
    write_old_ledger(db, "2025-12", "December", dict.fromkeys(readers, "sent"))
    with serving(project_dir, serve_env()) as endpoint:
        token = legacy_token(SECRET, LIST_ID, "lid123@example.org")
        answer = endpoint.get(token, headers=NL)
        assert heading(answer) == "Uitschrijven"
        assert "l•••@example.org" in answer.text
        assert endpoint.one_click(token).status == 200
        # Of an address never sent to, or of another list: nobody's.
        for other in (
            legacy_token(SECRET, LIST_ID, "stranger@example.org"),
            legacy_token(SECRET, "x.example.com", "lid124@example.org"),
        ):
            assert heading(endpoint.get(other, headers=NL)) == "Deze link werkt niet"
            assert endpoint.one_click(other).text == ONE_CLICK_ANSWER
        assert "lid123" not in endpoint.output()
    assert suppressed(db) == {"lid123@example.org": ("unsubscribed", "one-click", "2025-12")}


def test_links_with_the_address_beside_the_token(project_dir: Path) -> None:
    env = serve_env(
        NEWSLETTER_UNSUBSCRIBE_URL="https://nieuws.example.org/afmelden?token={token}&email={email}"
    )
    email = "zoe+nieuws@example.org"
    with serving(project_dir, env) as endpoint:
        endpoint.path = "/afmelden"
        new, old = unsubscribe_token(SECRET, LIST_ID, email), legacy_token(SECRET, LIST_ID, email)
        assert heading(endpoint.get(new, email=email, headers=NL)) == "Uitschrijven"
        assert heading(endpoint.get(old, email=email, headers=NL)) == "Uitschrijven"
        # The address changed beside a token that names another: nobody's.
        assert heading(endpoint.get(new, email="someone@example.org", headers=NL)) == "Deze link werkt niet"
        assert heading(endpoint.get(old, email="someone@example.org", headers=NL)) == "Deze link werkt niet"
        assert heading(endpoint.press(old, email=email, headers=NL)) == "Je bent uitgeschreven"
        assert fetch(f"{endpoint.base}/uitschrijven?token={new}").status == 404
    assert suppressed(project_dir / "newsletter.sqlite3") == {
        email: ("unsubscribed", "unsubscribe page", None)
    }


def test_a_token_in_the_path(project_dir: Path) -> None:
    env = serve_env(NEWSLETTER_UNSUBSCRIBE_URL="https://nieuws.example.org/u/{token}")
    email = "an@example.org"
    with serving(project_dir, env) as endpoint:
        token = unsubscribe_token(SECRET, LIST_ID, email)
        answer = fetch(f"{endpoint.base}/u/{token}", headers=NL)
        assert heading(answer) == "Uitschrijven"
        form = BeautifulSoup(answer.text, "html.parser").form
        assert form is not None
        assert form["action"] == "?"
        assert fetch(f"{endpoint.base}/u/{token}?", "POST", b"List-Unsubscribe=One-Click").status == 200
        assert fetch(f"{endpoint.base}/u/suppressions").status == 401
        assert fetch(f"{endpoint.base}/u/{token}/more").status == 404
    assert email in suppressed(project_dir / "newsletter.sqlite3")


def test_a_ledger_that_fails_is_answered_503_and_the_endpoint_goes_on(project_dir: Path) -> None:
    db = project_dir / "newsletter.sqlite3"
    aside = project_dir / "aside"
    aside.mkdir()
    token = unsubscribe_token(SECRET, LIST_ID, "an@example.org")
    with serving(project_dir, serve_env()) as endpoint:
        assert endpoint.get(token).status == 200
        # The ledger (with its -wal and -shm) is taken away under the running endpoint, and a file that
        # is no ledger put in its place.
        for file in project_dir.glob("newsletter.sqlite3*"):
            shutil.move(file, aside / file.name)
        db.write_bytes(b"this is not a database" * 100)
        for answer in (endpoint.one_click(token), endpoint.get(token)):
            assert answer.status == 503
            assert answer.header("Content-Type") == "text/plain; charset=utf-8"
            assert answer.header("Retry-After") == "120"
        # Put right, the same process answers again.
        db.unlink()
        shutil.move(aside / db.name, db)
        assert endpoint.one_click(token).status == 200
        assert endpoint.proc.poll() is None
    logged = [line for line in endpoint.output().splitlines() if "ledger cannot be used" in line]
    assert len(logged) == 2
    assert "an@example.org" not in endpoint.output()
    assert token not in endpoint.output()
    assert "an@example.org" in suppressed(db)


def test_the_wsgi_application_serves_under_another_wsgi_server(project_dir: Path) -> None:
    port = free_port()
    server = Path(sys.executable).parent / "waitress-serve"
    proc = subprocess.Popen(
        [str(server), f"--listen={HOST}:{port}", "newsletter.web.unsubscribe:application"],
        cwd=project_dir,
        env=serve_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port(proc, port)
        token = unsubscribe_token(SECRET, LIST_ID, "an@example.org")
        assert fetch(f"http://{HOST}:{port}/uitschrijven?token={token}").status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)
