"""The import contracts in pyproject.toml hold for the package, and break when a module imports against
the flow: each probe adds one wrong import to a copy of the package and runs lint-imports on it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "The flow's layers, from the faces down to the model"
CORE = "The core does no I/O: no network, database, terminal or settings"
CLI = "Nothing imports the CLI but the entry point"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts, on the package under `root`."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def verdicts(report: str) -> list[str]:
    """The report's lines, each contract's verdict without the count of imports it ignores on purpose
    ("KEPT (2 ignored imports)")."""
    return [re.sub(r" \(\d+ ignored imports?\)$", "", line) for line in report.splitlines()]


@pytest.fixture(scope="module")
def kept() -> subprocess.CompletedProcess[str]:
    return _lint(ROOT)


def test_every_contract_is_kept_by_the_package(kept: subprocess.CompletedProcess[str]) -> None:
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "3 kept, 0 broken" in kept.stdout


PROBES = [
    # (module file, the wrong import, the contract it breaks, the import named in the report)
    (
        "rendering/render.py",
        "from newsletter import ledger",
        LAYERS,
        "newsletter.rendering.render -> newsletter.ledger",
    ),
    (
        "rendering/render.py",
        "from newsletter.delivering import loop",
        LAYERS,
        "newsletter.rendering.render -> newsletter.delivering.loop",
    ),
    (
        "reading/issues.py",
        "from newsletter.rendering import render",
        LAYERS,
        "newsletter.reading.issues -> newsletter.rendering.render",
    ),
    (
        "ledger/__init__.py",
        "from newsletter.sending import smtp",
        LAYERS,
        "newsletter.ledger -> newsletter.sending.smtp",
    ),
    ("model/__init__.py", "import sqlite3", CORE, "newsletter.model -> sqlite3"),
    ("delivering/schedule.py", "import socket", CORE, "newsletter.delivering.schedule -> socket"),
    ("web/archive.py", "from newsletter import cli", CLI, "newsletter.web.archive -> newsletter.cli"),
    # Only the endpoint's WSGI entry point (web/unsubscribe.py) may read the settings.
    (
        "web/endpoint.py",
        "from newsletter import config",
        LAYERS,
        "newsletter.web.endpoint -> newsletter.config",
    ),
    ("__init__.py", "from newsletter import cli as _cli", CLI, "newsletter -> newsletter.cli"),
    ("errors.py", "import sqlite3", CORE, "newsletter.errors -> sqlite3"),
    ("rendering/render.py", "import ssl", CORE, "newsletter.rendering.render -> ssl"),
    ("composing/message.py", "import smtplib", CORE, "newsletter.composing.message -> smtplib"),
    (
        "ledger/records.py",
        "from newsletter.delivering import loop",
        LAYERS,
        "newsletter.ledger.records -> newsletter.delivering.loop",
    ),
]


def test_a_new_subpackage_outside_the_layers_breaks_the_contract(tmp_path: Path) -> None:
    """The layers are exhaustive: a new part of the package must be given its place in the flow."""
    shutil.copytree(
        ROOT / "newsletter", tmp_path / "newsletter", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "newsletter" / "relays").mkdir()
    (tmp_path / "newsletter" / "relays" / "__init__.py").write_text('"""Relays."""\n', encoding="utf-8")

    broken = _lint(tmp_path)

    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"{LAYERS} BROKEN" in verdicts(broken.stdout), broken.stdout
    assert "- newsletter.relays" in broken.stdout.splitlines(), broken.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "named"), PROBES, ids=[f"{p[0]}: {p[1]}" for p in PROBES]
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str, named: str
) -> None:
    shutil.copytree(
        ROOT / "newsletter", tmp_path / "newsletter", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "newsletter" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")

    broken = _lint(tmp_path)

    assert broken.returncode == 1, broken.stdout + broken.stderr
    report = broken.stdout
    assert f"{contract} BROKEN" in verdicts(report), report
    assert re.search(rf"^-\s+{re.escape(named)} \(l\.\d+\)$", report, re.MULTILINE), report
