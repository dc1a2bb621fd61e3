"""How long the `newsletter` command takes to start, beside the same command importing everything up
front, a one-command Typer app and bare Python.

    python benchmarks/startup.py [--runs 15]

Each command runs as a person runs it, in a fresh process (`python -m newsletter ...`, in a copy of
the sample project), `--runs` times after two warm-up runs; the figure is the median wall time.

* ours: the command as shipped, which imports the rendering and sending code only in the commands
  that use it;
* eager: the same command after importing every module of the package first, which is how the CLI
  started before: the cost of not deferring;
* the floor: bare `python -c pass`, and a Typer app with one command and one option (`--help`), which
  any Typer CLI pays.

Goals: `newsletter --help` and `newsletter validate --help` (parsing and entering validate) under
250 ms. A full `validate` of the sample also renders it, to check the layout and Gmail's size, and so
imports the renderer (Jinja2, MJML, premailer); it is printed with that import's cost beside it.
Exits 1 when a goal fails. A script, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 250.0

TYPER_APP = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def hello(name: str = "reader") -> None:
    print(name)
app()
"""

# Every module of the package, imported before the command runs: the CLI as it was.
EAGER = """
import pkgutil, runpy, sys, importlib, newsletter
for module in pkgutil.walk_packages(newsletter.__path__, "newsletter."):
    if module.name != "newsletter.__main__":
        importlib.import_module(module.name)
sys.argv = ["newsletter", *sys.argv[1:]]
runpy.run_module("newsletter", run_name="__main__")
"""


def timed(command: Sequence[str], cwd: Path, runs: int) -> float:
    """Median wall time in ms of `command` to its end, after two warm-up runs; it must exit 0."""
    samples = []
    for n in range(runs + 2):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        elapsed = (time.perf_counter() - started) * 1000
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
        if n >= 2:
            samples.append(elapsed)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs

    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        for part in ("issues", "layouts"):
            shutil.copytree(ROOT / part, project / part)
        os.environ.pop("NEWSLETTER_ISSUES", None)
        py = sys.executable
        sample = "issues/2026-01.yaml"

        bare = timed([py, "-c", "pass"], project, runs)
        typer_app = timed([py, "-c", TYPER_APP, "--help"], project, runs)
        renderer = timed([py, "-c", "import newsletter.rendering.render"], project, runs) - bare
        rows = [
            ("newsletter --help", ["--help"], True),
            ("newsletter validate --help", ["validate", "--help"], True),
            ("newsletter validate (sample)", ["validate", sample], False),
        ]
        results = []
        for label, args, goal in rows:
            ours = timed([py, "-m", "newsletter", *args], project, runs)
            eager = timed([py, "-c", EAGER, *args], project, runs)
            results.append((label, ours, eager, goal))

    print(f"newsletter startup: Python {sys.version.split()[0]}, median of {runs} runs, wall time")
    print()
    print(f"{'command':32} {'ours':>9} {'eager':>9}   goal")
    print("-" * 64)
    failed = False
    for label, ours, eager, goal in results:
        verdict = ""
        if goal:
            ok = ours < GOAL_MS
            failed |= not ok
            verdict = f"< {GOAL_MS:.0f} ms {'ok' if ok else 'MISSED'}"
        print(f"{label:32} {ours:6.0f} ms {eager:6.0f} ms   {verdict}")
    print("-" * 64)
    print(f"{'python -c pass':32} {bare:6.0f} ms")
    print(f"{'a one-command Typer app --help':32} {typer_app:6.0f} ms")
    print(f"{'import newsletter.rendering.render':32} {renderer:6.0f} ms   (of the full validate, above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
