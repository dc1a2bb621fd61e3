"""The SpamAssassin score of one reader's real message, when `spamassassin` is installed.

It runs with local tests only (`-L`: no DNS blocklists, no network) and a throwaway home folder, so it
leaves no preferences or Bayes files behind. Without the program, one line says how to get it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

from newsletter.delivering.preflight.findings import Finding

AREA = "spam"
TIMEOUT = 120.0
_SCORE = re.compile(
    r"^Content analysis details:\s+\((-?\d+(?:\.\d+)?) points, (-?\d+(?:\.\d+)?) required\)", re.M
)
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9_]+)\s+(.*)$")


def program() -> str | None:
    """The spamassassin program on PATH, if any."""
    return shutil.which("spamassassin")


def findings(eml: bytes, binary: str | None) -> Iterator[Finding]:
    """The score of `eml` against the threshold, with the rules that scored; or that it was not run."""
    if binary is None:
        yield Finding.warning(
            AREA,
            "spamassassin is not installed: no spam score",
            fix="to have one, install it (Debian and Ubuntu: apt-get install spamassassin)",
        )
        return
    with tempfile.TemporaryDirectory(prefix="newsletter-sa-") as home:
        try:
            result = subprocess.run(
                [binary, "-L", "-t"],
                input=eml,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
                env={**os.environ, "HOME": home},
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            yield Finding.warning(
                AREA, f"spamassassin did not run: {e}", fix="run it by hand on build/<slug>.eml"
            )
            return
    report = result.stdout.decode("utf-8", "replace")
    scored = _SCORE.search(report)
    if scored is None:
        said = (result.stderr.decode("utf-8", "replace").strip().splitlines() or ["no report"])[-1]
        yield Finding.warning(
            AREA, f"spamassassin gave no score: {said}", fix="run it by hand on build/<slug>.eml"
        )
        return
    score, required = float(scored.group(1)), float(scored.group(2))
    rules = _rules(report[scored.end() :])
    said = f"SpamAssassin scores {score:.1f} of {required:.1f}" + (f": {', '.join(rules)}" if rules else "")
    if score >= required:
        yield Finding.error(AREA, said, fix="spam filters will file it as spam: change what the rules name")
    elif score >= required - 2:
        yield Finding.warning(AREA, said, fix="close to the threshold: look at the rules named")
    else:
        yield Finding.ok(AREA, said)


def _rules(table: str) -> list[str]:
    """The rules that added or took off points, with their points and description."""
    rules = []
    for line in table.splitlines():
        match = _RULE.match(line)
        if match and float(match.group(1)) != 0:
            rules.append(f"{match.group(2)} {float(match.group(1)):+.1f} ({match.group(3).strip()})")
        elif rules and not line.strip():
            break
    return rules
