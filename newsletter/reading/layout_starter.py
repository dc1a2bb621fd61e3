"""A new layout folder: `layouts/<name>/layout.yaml`, commented for the person who fills it in.

The folder holds nothing else: until a template is put beside it, every one is the base layout's,
so the new layout renders an issue at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from newsletter.errors import LayoutError

STARTER = Path(__file__).resolve().parent / "layout_starter.yaml"
PLACEHOLDER = "__NAME__"
# A folder name that is also safe in an asset address (layouts/<name>/logo.png) and in the quoted
# YAML texts it is written into: letters (any script), digits, '-' and '_'.
NAME = re.compile(r"[^\W_][\w-]{0,63}")


def starter_text(name: str) -> str:
    """The commented layout.yaml of a new layout called `name`."""
    return STARTER.read_text(encoding="utf-8").replace(PLACEHOLDER, name)


def start(root: Path, name: str) -> Path:
    """Create the layout folder `root/name` with its layout.yaml; the path of that file.

    Refuses a name that is no plain folder name and a folder that exists already (nothing of it is
    ever overwritten)."""
    if not NAME.fullmatch(name):
        raise LayoutError(
            f"{name!r} cannot name a layout: use letters, digits, '-' and '_' (at most 64), starting "
            "with a letter or digit, e.g. my-organisation"
        )
    folder = root / name
    if folder.exists() or folder.is_symlink():
        raise LayoutError(f"{folder} already exists; choose another name, or edit {folder / 'layout.yaml'}")
    if root.exists() and not root.is_dir():
        raise LayoutError(f"{root}: is a file, not the layouts folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        folder.mkdir()
    except FileExistsError:  # made by someone else since the check
        raise LayoutError(f"{folder} already exists; choose another name") from None
    except OSError as e:
        raise LayoutError(f"{folder}: cannot create the folder: {e.strerror}") from None
    config = folder / "layout.yaml"
    config.write_text(starter_text(name), encoding="utf-8")
    return config
