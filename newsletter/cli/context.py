"""What a command works on: the settings, the project folders they name, and the ledger.

Each is made here, once per command, from the environment and `.env`; a mistake in them is one line
and exit code 2. The ledger module is imported only by the commands that open it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from newsletter.cli.output import user_errors

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.ledger import Ledger
    from newsletter.rendering.project import Project


def load_settings() -> Settings:
    from newsletter.config import load_settings as load

    with user_errors():
        return load()


def project_of(settings: Settings) -> Project:
    from newsletter.rendering.project import Project

    return Project(
        issues_dir=settings.issues_dir,
        layouts_dir=settings.layouts_dir,
        asset_base_url=settings.asset_base_url,
        archive_url=settings.archive_url,
    )


@contextmanager
def open_ledger(settings: Settings, *, reading: bool = False) -> Iterator[Ledger]:
    """The ledger for a short command; its errors, also mid-way, are one line and exit 2."""
    from newsletter.ledger import Ledger

    with user_errors(), Ledger.for_reading(settings.db) if reading else Ledger(settings.db) as ledger:
        yield ledger


@contextmanager
def ledger_if_any(settings: Settings) -> Iterator[Ledger | None]:
    """The ledger opened for reading, or None before the first send: nothing is created."""
    if not settings.db.exists():
        yield None
        return
    with open_ledger(settings, reading=True) as ledger:
        yield ledger
