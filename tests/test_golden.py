"""Golden files: the sample issue rendered for a fixed reader, compared byte for byte.

tests/golden/2026-01.html and tests/golden/2026-01.txt hold issues/2026-01.yaml (layout pom-limburg)
rendered for SAMPLE_RECIPIENT with a fixed unsubscribe address. Any change to a template, a layout, the
Markdown or the pipeline (MJML, premailer) shows up here as a diff to review.

After an intended change, regenerate them and review the diff before committing:

    UPDATE_GOLDEN=1 pytest tests/test_golden.py
    git diff tests/golden/
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE

from newsletter.model import SAMPLE_RECIPIENT
from newsletter.model.merge import escape_html, keep, resolve
from newsletter.rendering.project import Project

GOLDEN = Path(__file__).resolve().parent / "golden"
UNSUBSCRIBE_URL = "https://example.org/unsubscribe?token=golden"
REGENERATE = "UPDATE_GOLDEN=1 pytest tests/test_golden.py"


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """The sample issue's HTML and text for the sample reader."""
    _, issue = Project(ROOT / "issues", ROOT / "layouts").render(SAMPLE)
    data = SAMPLE_RECIPIENT.merge_data()
    data["unsubscribe_url"] = UNSUBSCRIBE_URL
    values = resolve(issue.fields, data)
    return {
        "html": issue.html.fill(values, escape_html),
        "txt": issue.text.fill(values, keep),
    }


def compare_with_golden(name: str, actual: str) -> None:
    golden = GOLDEN / name
    data = actual.encode("utf-8")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(data)
    if not golden.exists():
        pytest.fail(f"{golden} is missing; create it with: {REGENERATE}")
    expected = golden.read_bytes()
    if data == expected:
        return
    diff = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(),
        actual.splitlines(),
        f"tests/golden/{name} (expected)",
        f"{name} (rendered now)",
        lineterm="",
        n=1,
    )
    shown = "\n".join(line[:200] for line in list(diff)[:40])
    pytest.fail(
        f"the rendered sample issue differs from tests/golden/{name}.\n"
        f"If the change is intended, regenerate the golden files with: {REGENERATE}\n"
        f"and review `git diff tests/golden/` before committing.\n{shown}"
    )


def test_sample_html_matches_the_golden_file(rendered: dict[str, str]) -> None:
    compare_with_golden("2026-01.html", rendered["html"])


def test_sample_text_matches_the_golden_file(rendered: dict[str, str]) -> None:
    compare_with_golden("2026-01.txt", rendered["txt"])


def test_golden_files_are_for_the_sample_reader() -> None:
    html = (GOLDEN / "2026-01.html").read_text(encoding="utf-8")
    text = (GOLDEN / "2026-01.txt").read_text(encoding="utf-8")
    assert "Beste Sam," in html
    assert "Beste Sam," in text
    assert UNSUBSCRIBE_URL in text
    assert "NLMERGE" not in html + text
