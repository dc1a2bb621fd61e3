"""The public API: `newsletter.__all__` is the library's face, and the README's example runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

from conftest import ROOT

import newsletter


def test_all_is_sorted_and_holds_every_public_name() -> None:
    assert newsletter.__all__ == sorted(newsletter.__all__)
    public = {
        name
        for name in dir(newsletter)
        if not name.startswith("_") and not isinstance(getattr(newsletter, name), types.ModuleType)
    }
    assert public | {"__version__"} == set(newsletter.__all__)


def test_every_exported_name_is_the_librarys_own_and_not_a_module() -> None:
    for name in newsletter.__all__:
        value = getattr(newsletter, name)
        assert not isinstance(value, types.ModuleType), name
        if name != "__version__":
            assert value.__module__.startswith("newsletter."), (name, value.__module__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(newsletter, "no_such_thing")


def test_every_error_and_send_failure_of_the_library_is_exported() -> None:
    """A caller can catch each error by the name the package gives it, and a sender of one's own can
    raise each failure the delivery loop knows."""
    from newsletter import errors
    from newsletter.sending import base

    def classes(module: types.ModuleType, root: type) -> set[str]:
        return {n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, root)}

    expected = classes(errors, errors.NewsletterError) | classes(base, base.SendFailure)
    assert len(expected) >= 15
    assert expected <= set(newsletter.__all__)
    exported_errors = [getattr(newsletter, n) for n in newsletter.__all__ if n.endswith("Error")]
    assert all(issubclass(e, newsletter.NewsletterError) for e in exported_errors)


IMPORTS = """
import sys
import newsletter
first = {m for m in sys.modules if m.startswith(("newsletter.", "premailer", "jinja2", "typer"))}
for name in newsletter.__all__:
    getattr(newsletter, name)
print(sorted(first), "newsletter.cli" in sys.modules)
"""


def test_import_newsletter_is_light_and_no_export_pulls_in_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[] False", done.stdout + done.stderr


def _readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_example_runs_and_prints_what_the_readme_says(tmp_path: Path) -> None:
    section = _readme_section("Use from Python")
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    printed = re.search(r"It prints[^\n]*\n\n```\n(.*?)```", section, re.DOTALL)
    assert code
    assert printed
    for part in ("issues", "layouts"):
        shutil.copytree(ROOT / part, tmp_path / part)
    (tmp_path / "example.py").write_text(code.group(1), encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == printed.group(1)
