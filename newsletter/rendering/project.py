"""A newsletter project on disk: its issues folder and layouts folder, and what to do with an issue
file there (load, check, render, start the next one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import IssueError, LayoutError, NewsletterError, Problem
from newsletter.model import Rendered
from newsletter.reading import issues, layouts
from newsletter.reading.issues import LoadedIssue
from newsletter.reading.layouts import Layout
from newsletter.rendering import imagecache
from newsletter.rendering.imagecache import ImageCache
from newsletter.rendering.images import ImageFileError
from newsletter.rendering.render import render

SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


_LAYOUTS: dict[tuple[Path, str], tuple[tuple[int, ...], Layout]] = {}


def _cached_layout(root: Path, name: str) -> Layout:
    """A layout loaded once and reused while its files are unchanged.

    Loading compiles the Jinja2 templates anew, most of a render's time; a preview or a dispatch
    renders the same layout over and over.
    """
    folder = (root / name).resolve()
    stamp = tuple(p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file())
    cached = _LAYOUTS.get((folder, name))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    layout = layouts.load(root, name)
    _LAYOUTS[(folder, name)] = (stamp, layout)
    return layout


@dataclass(frozen=True)
class Project:
    issues_dir: Path = Path("issues")
    layouts_dir: Path = Path("layouts")
    asset_base_url: str | None = None
    archive_url: str | None = None
    # The images made for email (imagecache), like the ledger in the folder commands run in.
    image_cache: Path = imagecache.FOLDER

    def layouts_for(self, issue_path: Path) -> Path:
        """The layouts folder: the configured one, else the one beside the issue's folder."""
        if self.layouts_dir.is_dir():
            return self.layouts_dir
        beside = issue_path.resolve().parent.parent / "layouts"
        return beside if beside.is_dir() else self.layouts_dir

    def view_url(self, slug: str) -> str | None:
        return f"{self.archive_url.rstrip('/')}/{slug}.html" if self.archive_url else None

    def layout(self, loaded: LoadedIssue) -> Layout:
        root = self.layouts_for(loaded.path)
        name = loaded.issue.layout
        if name not in layouts.folders(root):
            raise IssueError(
                [loaded.problem(("layout",), issues.unknown_layout(name, layouts.available(root), root))]
            )
        if name not in layouts.available(root):
            raise IssueError([loaded.problem(("layout",), layouts.missing_config(root / name))])
        return _cached_layout(root, name)

    def render(self, path: Path, *, audience: bool = False) -> tuple[LoadedIssue, Rendered]:
        """Load, validate and render an issue file; every kind of mistake raises a NewsletterError.

        With `audience`, the audience file the issue names must exist too (`validate` asks for it).
        """
        # The layout's name is checked with the issue's other mistakes; without any layout, the
        # message after loading says where none were found, and for a folder without its
        # layout.yaml, that it lacks one.
        known = layouts.folders(self.layouts_for(path)) or None
        loaded = issues.load(path, layouts=known, audience=audience)
        layout = self.layout(loaded)
        folder = loaded.path.parent
        try:
            rendered = render(
                loaded.issue,
                layout,
                slug=loaded.slug,
                assets=issues.read_assets(loaded),
                asset_base_url=self.asset_base_url,
                view_url=self.view_url(loaded.slug),
                process=ImageCache(self.image_cache).process,
                assets_folder="" if folder == Path() else folder.as_posix(),
            )
        except ImageFileError as e:
            raise _placed(e, loaded, layout) from None
        return loaded, rendered

    def issue_files(self) -> list[Path]:
        if not self.issues_dir.is_dir():
            return []
        return sorted(p for p in self.issues_dir.glob("*.yaml") if SLUG.fullmatch(p.stem))

    def latest_issue(self) -> Path | None:
        """The last issue file by name (2026-02 after 2026-01) that is a valid issue, else the last one."""
        files = self.issue_files()
        for path in reversed(files):
            try:
                issues.load(path)
            except NewsletterError:
                continue
            return path
        return files[-1] if files else None

    def new_issue(self, slug: str, template: Path | None = None) -> Path:
        """Start issue `slug` as a draft copy of `template` (default: the latest issue)."""
        if not SLUG.fullmatch(slug):
            raise IssueError(
                [Problem(slug, None, "", "a slug is letters, digits, '.', '-' or '_', e.g. 2026-02")]
            )
        target = self.issues_dir / f"{slug}.yaml"
        if target.exists():
            raise IssueError([Problem(str(target), None, "", "already exists; pick another slug")])
        source = template or self.latest_issue()
        if source is None:
            raise IssueError(
                [Problem(str(self.issues_dir), None, "", "no issue to start from; pass --from FILE")]
            )
        text = issues.read_text(source)
        # A copy starts as a draft with no send time: it must never go out by accident.
        text = re.sub(r"(?m)^status:.*$", "status: draft", text)
        text = re.sub(r"(?m)^send_at:.*\n", "", text)
        self.issues_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target


def _placed(error: ImageFileError, loaded: LoadedIssue, layout: Layout) -> NewsletterError:
    """A damaged image's error at the line and field that name it: the issue's, or layout.yaml's."""
    if not error.from_layout:
        return IssueError([loaded.image_problem(error.src, f"{error.src} {error.reason}")])
    config = layout.config
    key = ("logo", "src") if config.logo and config.logo.src == error.src else ("logo_dark",)
    line = layouts.config_line(layout, key)
    field = ".".join(map(str, key))
    return LayoutError(
        str(Problem(str(layout.path / "layout.yaml"), line, field, f"{error.src} {error.reason}"))
    )
