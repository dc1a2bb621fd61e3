"""The words of the ledger and the send loop are Literals that mypy checks: a recipient's status, an
attempt's outcome, what the next run does with a row, an event's kind, a dispatch log line's kind and
an issue's state. A probe that misspells each one is refused by `mypy --strict` on exactly those
lines, while the same calls spelled right pass."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

MYPY = Path(sys.executable).parent / "mypy"

PROBE = """\
import datetime as dt

from newsletter.delivering.loop import Event
from newsletter.delivering.overview import IssueState
from newsletter.delivering.report import Log
from newsletter.ledger import Ledger, Row

NOW = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)


def probe(ledger: Ledger, row: Row, log: Log) -> None:
    ledger.mark("2026-01", "an@example.org", "sent", "250 OK", NOW)
    ledger.mark("2026-01", "an@example.org", "sen", "250 OK", NOW)  # typo
    ledger.mark("2026-01", "an@example.org", "skipped", "250 OK", NOW)  # typo: not an outcome
    ledger.rows("2026-01", "failed")
    ledger.rows("2026-01", "faild")  # typo
    assert row.status != "unknown"
    assert row.status != "unknwn"  # typo
    assert ledger.outlook("2026-01").get("doubt") == 0
    assert ledger.outlook("2026-01").get("dout") == 0  # typo
    Event("retry", "an@example.org", "451 busy", 1, 2)
    Event("retried", "an@example.org", "451 busy", 1, 2)  # typo
    log("skipped-old", {"issue": "2026-01"})
    log("skiped-old", {"issue": "2026-01"})  # typo
    IssueState("2026-01", "scheduled", "Januari", None, None, None)
    IssueState("2026-01", "sheduled", "Januari", None, None, None)  # typo
"""


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.py").write_text(PROBE, encoding="utf-8")
    result = subprocess.run(
        [
            str(MYPY),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(folder / "cache"),
            "--strict",
            "probe.py",
        ],
        cwd=folder,
        env={"MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return PROBE, result


def test_every_misspelt_word_is_a_type_error_on_its_line_and_nothing_else_is(
    checked: tuple[str, subprocess.CompletedProcess[str]],
) -> None:
    probe, result = checked
    assert result.returncode == 1, result.stdout + result.stderr
    misspelt = {
        n
        for n, line in enumerate(probe.splitlines(), start=1)
        if line.endswith("# typo") or "# typo:" in line
    }
    refused = {int(n) for n in re.findall(r"^probe\.py:(\d+): error:", result.stdout, re.MULTILINE)}
    assert len(misspelt) == 8
    assert refused == misspelt, result.stdout
    # Only the probe is refused: the package itself type-checks.
    assert not re.search(r"^newsletter/", result.stdout, re.MULTILINE), result.stdout
