"""Shared fixtures and helpers: the project's real issues and layouts folders, a scratch project, the
sample issue rendered, a ledger, small test data and one headless Chromium for the browser tests.

Test modules import the constants and helpers from here (`from conftest import …`), never from each
other. The helper modules beside this file are registered below so that their asserts are rewritten.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.sync_api import Browser, sync_playwright

from newsletter.composing.message import Envelope
from newsletter.ledger import Ledger, Row
from newsletter.model import Recipient, Rendered
from newsletter.rendering.project import Project

# Helper modules with asserts of their own: rewritten like this file, so a failure shows the values.
pytest.register_assert_rewrite("issue_files", "preview_server", "endpoint_server", "dovecot", "accessible")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "issues" / "2026-01.yaml"
# The sample issue and audience as a scratch project (the working directory) sees them.
ISSUE = Path("issues/2026-01.yaml")
CSV = Path("issues/voorbeeld-leden.csv")
SUBJECT = "Limburg op de internationale kaart: San Francisco, het spoor en Brainport"
FIRST_TITLE = "Health Campus Limburg versterkt zijn plek in San Francisco"

T0 = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
ENVELOPE = Envelope(
    sender="POM Limburg <nieuwsbrief@example.org>",
    unsubscribe_url="https://example.org/uitschrijven?token={token}",
    secret="test-secret",
)


def people(n: int, prefix: str = "p", digits: int = 1) -> list[Recipient]:
    """n recipients: p1@example.org with first name P1 and so on (the number zero-padded to `digits`)."""
    return [Recipient(f"{prefix}{i:0{digits}d}@example.org", f"{prefix.upper()}{i}") for i in range(1, n + 1)]


def audience_csv(path: Path, emails: list[str]) -> Path:
    """An audience CSV of `emails` (semicolons, CRLF), each first name made of the address's local part."""
    lines = ["email;voornaam", *(f"{e};{e.split('@')[0].title()}" for e in emails)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def ledger_rows(folder: Path, slug: str = "2026-01") -> list[Row]:
    """The rows of `slug` in the ledger of the project in `folder` (newsletter.sqlite3)."""
    with Ledger(folder / "newsletter.sqlite3") as ledger:
        return ledger.rows(slug)


def png(width: int = 2, height: int = 2) -> bytes:
    """A small valid RGB PNG of red pixels, written by hand (no imaging library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in the file with `new`; `old` must be there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the file's first line that contains `needle`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in {path}")


def copy_project(folder: Path) -> Path:
    """The project's issues and layouts copied into `folder`."""
    shutil.copytree(ROOT / "layouts", folder / "layouts")
    shutil.copytree(ROOT / "issues", folder / "issues")
    return folder


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's issues and layouts in a scratch folder, which is the working directory."""
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    """The sample issue, rendered from the project's own issues and layouts."""
    _, rendered = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    return rendered


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger file in tmp_path, closed afterwards."""
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        yield ledger


# -- a real browser --------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# Browser tests are skipped only where Debian's chromium is missing on a developer's machine; with CI
# set, a missing browser fails them instead (in the `browser` fixture).
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not IN_CI, reason=f"needs Debian's chromium at {CHROMIUM}"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run; each test opens its own context."""
    if not CHROMIUM.exists():
        pytest.fail(f"CI is set but {CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[IO[str]]:
    """A file for the output of a command started in the background (`Cli.start(..., output=log)`)."""
    with (tmp_path / "run.log").open("w+", encoding="utf-8") as f:
        yield f
