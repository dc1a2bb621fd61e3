"""Arguments that several commands take, with the same help text everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Files = Annotated[list[Path], typer.Argument(help="Issue files, e.g. issues/2026-01.yaml.")]
File = Annotated[Path, typer.Argument(help="An issue file, e.g. issues/2026-01.yaml.")]
