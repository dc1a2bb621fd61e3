"""The commands for writing an issue: validate, render, new, schema and preview."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.arguments import File, Files
from newsletter.cli.context import load_settings, project_of
from newsletter.cli.output import (
    EXIT_BAD_INPUT,
    cannot_listen,
    error,
    print_errors,
    print_skipped,
    user_errors,
    warn_envelope,
    warning,
)
from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.composing.message import Envelope
    from newsletter.model import Recipient, Rendered
    from newsletter.reading.issues import LoadedIssue
    from newsletter.reading.recipients import Audience
    from newsletter.rendering.project import Project


def validate(
    files: Files,
    recipients: Annotated[
        Path | None,
        typer.Option(
            "--recipients", "-r", help="Also check the issues' merge fields against this audience CSV."
        ),
    ] = None,
) -> None:
    """Check issue files: every mistake with its file, line and field. Exit 2 if any."""
    settings = load_settings()
    project = project_of(settings)
    with user_errors():
        envelope = settings.envelope(for_real=False)
    failed = False
    layouts_seen: set[Path] = set()
    for path in files:
        try:
            loaded, rendered = project.render(path, audience=True)
            audience = _audience_of(loaded, rendered, recipients) if recipients else None
        except NewsletterError as e:
            failed = True
            print_errors(e.lines())
            continue
        if audience is not None:
            print_skipped(audience)
        _report_valid(path, loaded, rendered, envelope)
        if audience is not None:
            typer.echo(
                f"ok: {path} fits {audience.source}: {audience.count} recipients, "
                f"{len(audience.skipped)} rows skipped"
            )
        _warn_contrast(project, loaded, layouts_seen)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def _report_valid(path: Path, loaded: LoadedIssue, rendered: Rendered, envelope: Envelope) -> None:
    """The figures of a valid issue, and what to change about its size and images."""
    from newsletter.composing.files import message_size
    from newsletter.errors import MergeError
    from newsletter.rendering.size import GMAIL_CLIP_BYTES, html_size, image_warnings, kilobytes

    size = html_size(rendered)
    try:
        # The sample reader's whole message, as `render` writes it: the same figure.
        weight = message_size(rendered, envelope, date=dt.datetime.now(dt.UTC))
    except MergeError:
        weight = None  # a merge field without a default: `validate --recipients` checks those
    message = f"message {kilobytes(weight)} " if weight is not None else "message "
    typer.echo(
        f"ok: {path}: {len(loaded.issue.sections)} sections, HTML {kilobytes(size)}, "
        f"{message}with {_images(len(rendered.images))}, status {loaded.issue.status}"
    )
    if size > GMAIL_CLIP_BYTES:
        warning(
            f"{path}: the HTML is over Gmail's {GMAIL_CLIP_BYTES // 1024} KB; Gmail will "
            "hide its end behind 'View entire message'. Shorten it."
        )
    for line in image_warnings(rendered, weight or 0):
        warning(f"{path}: {line}")


def _images(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


def _warn_contrast(project: Project, loaded: LoadedIssue, seen: set[Path]) -> None:
    """A warning per colour pair of the issue's layout that is hard to read, once per layout."""
    from newsletter.reading.contrast import layout_problems

    layout = project.layout(loaded)
    if layout.path not in seen:
        seen.add(layout.path)
        for line in layout_problems(layout):
            warning(line)


def _audience_of(loaded: LoadedIssue, rendered: Rendered, recipients: Path) -> Audience:
    # The campaign module brings the sending code; only `validate --recipients` needs it.
    from newsletter.delivering.campaign import check_audience

    return check_audience(loaded, rendered, recipients)


def render(
    file: File,
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FOLDER", help="Folder for the results.")
    ] = Path("build"),
) -> None:
    """Render an issue to OUT/<slug>.html, .txt and .eml (the whole message for a sample reader)."""
    from newsletter.composing.files import write_rendered_files
    from newsletter.rendering.size import GMAIL_CLIP_BYTES, kilobytes

    settings = load_settings()
    project = project_of(settings)
    with user_errors():
        _, rendered = project.render(file)
        envelope = settings.envelope(for_real=False)
        written = write_rendered_files(rendered, envelope, out, date=dt.datetime.now(dt.UTC))
    typer.echo(f"rendered {file} for {written.recipient.email}:")
    for kind, path in written.paths().items():
        typer.echo(f"  {kind:4} {path}")
    typer.echo(f"{written.eml.name}: {kilobytes(written.eml_bytes)} with {_images(written.embedded)}")
    if written.linked:
        folder = out / f"{rendered.slug}_files"
        typer.echo(
            f"{_images(written.linked)} linked: upload what is in {folder}/ to NEWSLETTER_ASSET_BASE_URL"
        )
    size = written.html_bytes
    typer.echo(f"HTML {size / 1024:.1f} KB of Gmail's {GMAIL_CLIP_BYTES // 1024} KB before it clips")
    if size > GMAIL_CLIP_BYTES:
        warning("Gmail will clip this email; shorten it")
    if not settings.from_:
        typer.echo("(sender and unsubscribe address are examples: set them in .env to send)")
    warn_envelope(settings.envelope_warnings())


def new(
    slug: Annotated[str, typer.Argument(help="The new issue's name, e.g. 2026-02.")],
    from_: Annotated[
        Path | None, typer.Option("--from", help="Start from this issue instead of the latest.")
    ] = None,
) -> None:
    """Start the next issue as a draft copy of the latest one (or --from FILE)."""
    project = project_of(load_settings())
    with user_errors():
        path = project.new_issue(slug, from_)
    typer.echo(f"created {path} (status: draft); preview it with: newsletter preview {path}")


def schema(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write it; '-' for standard output.")
    ] = Path("issue.schema.json"),
) -> None:
    """Write the JSON Schema of issue files, which editors use to check and complete them."""
    from newsletter.model.schema import issue_schema

    text = issue_schema()
    if str(out) == "-":
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    # Editors resolve the path from the issue file's folder, not from where this command ran.
    issues_dir = load_settings().issues_dir
    relative = Path(os.path.relpath(out.resolve(), issues_dir.resolve())).as_posix()
    typer.echo(f"wrote {out}; an issue file in {issues_dir}/ names it on its first line:")
    typer.echo(f"# yaml-language-server: $schema={relative}")


def preview(
    file: File,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the local preview server.")] = 8000,
    host: Annotated[
        str,
        typer.Option(metavar="ADDRESS", help="Address to listen on; the default keeps it on this computer."),
    ] = "127.0.0.1",
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the preview in the browser.")
    ] = True,
    recipients: Annotated[
        Path | None,
        typer.Option("--recipients", "-r", help="Audience CSV whose first rows you can preview as."),
    ] = None,
) -> None:
    """Show an issue in the browser at desktop and phone width, updated every time you save."""
    from newsletter.web.preview import Preview
    from newsletter.web.preview_check import Checks
    from newsletter.web.preview_http import serve

    settings = load_settings()
    project = project_of(settings)
    people = _preview_people(file, recipients or settings.recipients)
    with user_errors():
        envelope = settings.envelope(for_real=False, sign=False)
    viewer = Preview(project, file, sender=envelope.sender, recipients=people)
    try:
        server = serve(viewer, host, port, Checks(viewer, envelope, example=not settings.unsubscribe_url))
    except OSError as e:
        error(cannot_listen(host, port, e))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    url = f"http://{host}:{server.server_address[1]}/"
    typer.echo(f"previewing {file} at {url} (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(
            f"warning: listening on {host}: others on the network can see the preview, including "
            "the names and addresses of the first subscribers",
            fg=typer.colors.YELLOW,
        )
    for line in viewer.snapshot.errors:
        error(line)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        viewer.stop()
        server.server_close()


def _preview_people(file: Path, default: Path | None) -> list[Recipient]:
    """The first rows of the issue's audience to personalise the preview with; none if unknown."""
    from newsletter.delivering.campaign import audience_path
    from newsletter.reading.issues import load as load_issue
    from newsletter.reading.recipients import load as load_recipients

    try:
        loaded = load_issue(file)
        source = audience_path(loaded, None, default)
        return list(itertools.islice(load_recipients(source), 10))
    except NewsletterError:
        return []
