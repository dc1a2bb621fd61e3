"""The files a layout folder may hold besides its templates, and the template saved under a name the
loader never looks up.

The loader finds a template only by its full name, `sections/callout.mjml.j2`; one saved as
`sections/callout.mjml`, `.html` or `.jinja2` would be passed over without a word, and the base
layout's template would be used in its place, so the writer's change would silently do nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from newsletter.errors import LayoutError

TEMPLATE_ENDING = ".mjml.j2"
# The endings a template is saved with by mistake: an editor's idea of a template, or the `.j2` left off.
MISTAKEN_ENDINGS = frozenset({".mjml", ".j2", ".jinja", ".jinja2", ".html", ".htm"})


def misnamed_template(name: str, base_templates: Iterable[str]) -> str | None:
    """The name a file of the layout folder (`name`, relative to it) should have to be used as a
    template, or None when it is no template saved under a wrong name."""
    if name.endswith(TEMPLATE_ENDING) or name == "layout.yaml":
        return None
    path = PurePosixPath(name)
    base = list(base_templates)
    stem = path.name
    while PurePosixPath(stem).suffix.lower() in MISTAKEN_ENDINGS:
        stem = PurePosixPath(stem).stem
    wanted = (path.parent / f"{stem}{TEMPLATE_ENDING}").as_posix()
    if stem == path.name and wanted not in base:
        # No template ending, and no base template of that name without its ending (`sections/callout`):
        # an image, a note or any other file the templates may refer to.
        return None
    if wanted not in base and not stem.startswith("_"):
        close = difflib.get_close_matches(wanted, base, n=1)
        wanted = close[0] if close else wanted
    return wanted


def check_names(folder: Path, base_templates: Iterable[str]) -> None:
    """Refuse a file of `folder` that looks like a template but is not named as one (LayoutError)."""
    base = tuple(base_templates)
    for file in sorted(folder.rglob("*")):
        name = file.relative_to(folder).as_posix()
        if not file.is_file() or any(part.startswith(".") for part in name.split("/")):
            continue  # an editor's lock or backup file
        wanted = misnamed_template(name, base)
        if wanted is not None:
            raise LayoutError(
                f"{file}: a template must end in {TEMPLATE_ENDING} to be used; rename it to {wanted}"
            )
