"""The `newsletter` command: parses arguments, calls the library, prints. Nothing imports it."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from newsletter import message
from newsletter.config import Settings, load_settings
from newsletter.errors import NewsletterError
from newsletter.model import SAMPLE_RECIPIENT, Issue
from newsletter.project import Project
from newsletter.render import GMAIL_CLIP_BYTES

app = typer.Typer(
    name="newsletter",
    help=(
        "Write the monthly newsletter as a file, preview it, test it, and deliver it to every "
        "subscriber exactly once."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _err(line: str) -> None:
    typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """A NewsletterError becomes one red line per problem and exit code 2; no traceback."""
    try:
        yield
    except NewsletterError as e:
        for line in e.lines():
            _err(line)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _settings() -> Settings:
    with _user_errors():
        return load_settings()


def _project(settings: Settings) -> Project:
    return Project(
        issues_dir=settings.issues_dir,
        layouts_dir=settings.layouts_dir,
        asset_base_url=settings.asset_base_url,
        archive_url=settings.archive_url,
    )


Files = Annotated[list[Path], typer.Argument(help="Issue files, e.g. issues/2026-01.yaml.")]
File = Annotated[Path, typer.Argument(help="An issue file, e.g. issues/2026-01.yaml.")]


@app.command()
def validate(files: Files) -> None:
    """Check issue files: every mistake with its file, line and field. Exit 2 if any."""
    project = _project(_settings())
    failed = False
    for path in files:
        try:
            loaded, rendered = project.render(path)
        except NewsletterError as e:
            failed = True
            for line in e.lines():
                _err(line)
            continue
        size = len(rendered.html.fill(tuple("" for _ in rendered.fields)).encode())
        typer.echo(
            f"ok: {path}: {len(loaded.issue.sections)} sections, HTML {size / 1024:.0f} KB, "
            f"status {loaded.issue.status}"
        )
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def render(
    file: File,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")] = Path("build"),
) -> None:
    """Render an issue to OUT/<slug>.html, .txt and .eml (the whole message for a sample reader)."""
    settings = _settings()
    project = _project(settings)
    with _user_errors():
        loaded, rendered = project.render(file)
        envelope = settings.envelope(for_real=False)
        composer = message.Composer(rendered, envelope, date=dt.datetime.now(dt.UTC))
        outgoing = composer.compose(SAMPLE_RECIPIENT)
    email = message.parse(outgoing.data)
    html_part = email.get_body(("html",))
    text_part = email.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    html = html_part.get_content()
    out.mkdir(parents=True, exist_ok=True)
    targets = {
        "html": out / f"{loaded.slug}.html",
        "txt": out / f"{loaded.slug}.txt",
        "eml": out / f"{loaded.slug}.eml",
    }
    targets["html"].write_text(html, encoding="utf-8")
    targets["txt"].write_text(text_part.get_content().replace("\r\n", "\n"), encoding="utf-8")
    targets["eml"].write_bytes(outgoing.data)
    size = len(html.encode())
    typer.echo(f"rendered {file} for {SAMPLE_RECIPIENT.email}:")
    for kind, path in targets.items():
        typer.echo(f"  {kind:4} {path}")
    typer.echo(f"HTML {size / 1024:.1f} KB of Gmail's {GMAIL_CLIP_BYTES // 1024} KB before it clips")
    if size > GMAIL_CLIP_BYTES:
        typer.secho("warning: Gmail will clip this email; shorten it", fg=typer.colors.YELLOW)
    if not settings.from_:
        typer.echo("(sender and unsubscribe address are examples: set them in .env to send)")


@app.command()
def new(
    slug: Annotated[str, typer.Argument(help="The new issue's name, e.g. 2026-02.")],
    from_: Annotated[
        Path | None, typer.Option("--from", help="Start from this issue instead of the latest.")
    ] = None,
) -> None:
    """Start the next issue as a draft copy of the latest one (or --from FILE)."""
    project = _project(_settings())
    with _user_errors():
        path = project.new_issue(slug, from_)
    typer.echo(f"created {path} (status: draft); preview it with: newsletter preview {path}")


@app.command()
def schema(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write it; '-' for standard output.")
    ] = Path("issue.schema.json"),
) -> None:
    """Write the JSON Schema of issue files, which editors use to check and complete them."""
    text = issue_schema()
    if str(out) == "-":
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}; an issue file names it on its first line:")
    typer.echo(f"# yaml-language-server: $schema={out}")


def issue_schema() -> str:
    document = Issue.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "Newsletter issue"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    app()
