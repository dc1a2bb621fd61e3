"""`newsletter` with NEWSLETTER_DKIM_KEY_FILE, as a person runs it: every message that leaves is
signed (a live send of 300 to aiosmtpd on 127.0.0.1, a test send, dispatch and its report to the
staff, the dry run's .eml files) and verifies against the key published in a DNS server on
127.0.0.1; each mistake in the DKIM settings is one line naming the setting, exit 2, nothing sent,
the key never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import Cli, environment, output
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dkim_keys import ed25519_pem, pem_of, published, rsa_pem, signature_tags, verifies
from dns_server import dns_server
from issue_files import copy_sample

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "dkim-cli-secret"
SELECTOR = "nl2026"
DOMAIN = "example.org"  # NEWSLETTER_FROM's, in command.SENDING


def audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.{'org' if i % 2 else 'com'}" for i in range(1, n + 1)]


def signing(cli: Cli, pem: bytes) -> Cli:
    """`cli` with the key `pem` in a file and the DKIM settings pointing at it."""
    key_file = cli.folder / "dkim.pem"
    key_file.write_bytes(pem)
    cli.extra.update(NEWSLETTER_DKIM_KEY_FILE=str(key_file), NEWSLETTER_DKIM_SELECTOR=SELECTOR)
    return cli


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    cli = Cli(project_dir, smtp_server, SECRET)
    cli.recipients(audience(300))
    return cli


def test_a_live_send_of_300_signs_every_message_and_each_verifies(cli: Cli) -> None:
    pem = rsa_pem(2048)
    result = signing(cli, pem).run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert result.returncode == 0, output(result)
    assert "signed:     DKIM for example.org, key nl2026._domainkey.example.org (RSA, 2048 bits)" in (
        result.stdout
    )
    arrivals = cli.server.recorder.messages
    assert Counter(a.rcpts[0] for a in arrivals) == Counter(audience(300))
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        assert all(verifies(a.data, server.address) for a in arrivals)
    assert {signature_tags(a.data)["a"] for a in arrivals} == {"rsa-sha256"}


def test_a_test_send_is_signed_and_verifies(cli: Cli) -> None:
    pem = ed25519_pem()
    result = signing(cli, pem).run("send", ISSUE, "--recipients", "leden.csv", "--test", "me@example.org")
    assert result.returncode == 0, output(result)
    assert "signed with DKIM for example.org" in result.stdout
    (arrival,) = cli.server.recorder.messages
    assert b"Subject: [TEST] " in arrival.data
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        assert verifies(arrival.data, server.address)


def test_the_dry_runs_eml_files_are_signed_as_they_would_be_sent(cli: Cli) -> None:
    pem = ed25519_pem()
    result = signing(cli, pem).run("send", ISSUE, "--recipients", "leden.csv", "--dry-run")
    assert result.returncode == 0, output(result)
    assert "signed with DKIM for example.org" in result.stdout
    files = sorted((cli.folder / "outbox" / "2026-01").glob("*.eml"))
    assert len(files) == 300
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        assert all(verifies(f.read_bytes(), server.address) for f in files)
    assert cli.server.recorder.connections == 0


def test_dispatch_signs_the_issue_and_the_report_to_the_staff(cli: Cli) -> None:
    pem = pem_of("rsa")
    copy_sample(cli.folder, "2026-01", status="ready", send_at="2026-01-20T09:00", audience="leden.csv")
    cli.recipients(audience(120), name="issues/leden.csv")
    due = signing(cli, pem).dispatch("2026-01-20T09:05", NEWSLETTER_REPORT_TO="redactie@example.org")
    assert due.returncode == 0, output(due)
    arrivals = cli.server.recorder.messages
    report = [a for a in arrivals if a.rcpts == ("redactie@example.org",)]
    assert len(report) == 1
    assert len(arrivals) == 121
    with dns_server(published(SELECTOR, DOMAIN, pem)) as server:
        assert all(verifies(a.data, server.address) for a in arrivals)


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _encrypted_pem() -> bytes:
    key = serialization.load_pem_private_key(rsa_pem(2048), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


# (what the key file holds, or None for no file; extra settings; the one line's start)
MISTAKES = {
    "no-file": (None, {}, "error: NEWSLETTER_DKIM_KEY_FILE="),
    "not-a-key": (b"hello\n", {}, "error: NEWSLETTER_DKIM_KEY_FILE="),
    "encrypted": (_encrypted_pem(), {}, "error: NEWSLETTER_DKIM_KEY_FILE="),
    "ec-key": (_ec_pem(), {}, "error: NEWSLETTER_DKIM_KEY_FILE="),
    "no-selector": (
        ed25519_pem(),
        {"NEWSLETTER_DKIM_SELECTOR": ""},
        "error: NEWSLETTER_DKIM_KEY_FILE is set",
    ),
    "bad-selector": (
        ed25519_pem(),
        {"NEWSLETTER_DKIM_SELECTOR": "nl 2026"},
        "error: NEWSLETTER_DKIM_SELECTOR='nl 2026' cannot be a DNS name",
    ),
    "bad-domain": (
        ed25519_pem(),
        {"NEWSLETTER_DKIM_DOMAIN": "example_org"},
        "error: NEWSLETTER_DKIM_DOMAIN='example_org' cannot be a DNS name",
    ),
    "whole-name-as-selector": (
        ed25519_pem(),
        {"NEWSLETTER_DKIM_SELECTOR": "nl2026._domainkey.example.org"},
        "error: NEWSLETTER_DKIM_SELECTOR='nl2026._domainkey.example.org' is the whole DNS name: write "
        "only the part before ._domainkey, e.g. nl2026",
    ),
    "top-level-domain": (
        ed25519_pem(),
        {"NEWSLETTER_DKIM_DOMAIN": "org"},
        "error: NEWSLETTER_DKIM_DOMAIN='org' is a top-level domain",
    ),
    "unaligned": (
        ed25519_pem(),
        {"NEWSLETTER_DKIM_DOMAIN": "example.com"},
        "error: NEWSLETTER_DKIM_DOMAIN='example.com' does not align with NEWSLETTER_FROM's domain",
    ),
}


# Every mistake with a real send; some with a test send and a dry run, which read the same settings.
CASES = [
    *((mistake, "--yes") for mistake in MISTAKES),
    ("encrypted", "--test"),
    ("no-selector", "--test"),
    ("unaligned", "--dry-run"),
    ("not-a-key", "--dry-run"),
]


@pytest.mark.parametrize(("mistake", "how"), CASES)
def test_each_dkim_mistake_is_one_line_exit_2_and_nothing_is_sent(cli: Cli, mistake: str, how: str) -> None:
    content, settings, line = MISTAKES[mistake]
    signing(cli, content or b"")
    if content is None:
        (cli.folder / "dkim.pem").unlink()
    args = {"--yes": ("--yes",), "--test": ("--test", "me@example.org"), "--dry-run": ("--dry-run",)}[how]
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", *args, **settings)
    said = output(result)
    assert result.returncode == 2, said
    assert [x for x in said.splitlines() if x.strip()] == [said.strip()]
    assert said.startswith(line)
    assert "Traceback" not in said
    assert cli.server.recorder.connections == 0
    assert not (cli.folder / "outbox").exists()
    assert not cli.db.exists()
    if content and b"PRIVATE KEY-----\n" in content:
        body = content.split(b"\n")[1].decode()  # a line of the key itself
        assert body not in said


def test_a_key_file_that_cannot_be_read_is_one_line(cli: Cli) -> None:
    signing(cli, ed25519_pem())
    # A file without read permission is readable to root, who runs CI; the kernel's view of a
    # process's own memory is a file that fails every read from its start, for any user (EIO).
    if os.geteuid() == 0:
        unreadable = Path("/proc/self/mem")
    else:
        unreadable = cli.folder / "dkim.pem"
        unreadable.chmod(0)
    cli.extra["NEWSLETTER_DKIM_KEY_FILE"] = str(unreadable)
    result = cli.run("send", ISSUE, "--recipients", "leden.csv", "--yes")
    assert result.returncode == 2, output(result)
    assert "NEWSLETTER_DKIM_KEY_FILE=" in result.stderr
    assert "cannot read it" in result.stderr
    assert cli.server.recorder.connections == 0


def test_the_record_to_publish_is_printed_from_the_settings(cli: Cli) -> None:
    pem = ed25519_pem()
    signing(cli, pem)
    printed = subprocess.run(
        [sys.executable, "-m", "newsletter.config.dkim"],
        cwd=cli.folder,
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert lines[0] == "name:  nl2026._domainkey.example.org"
    assert lines[1] == "type:  TXT"
    record = lines[2].removeprefix("value: ")
    assert published(SELECTOR, DOMAIN, pem)["nl2026._domainkey.example.org"]["TXT"] == [record]
    assert "PRIVATE" not in printed.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "newsletter.config.dkim"],
        cwd=cli.folder,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: set NEWSLETTER_DKIM_KEY_FILE")
