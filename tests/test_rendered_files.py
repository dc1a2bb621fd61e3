"""What the writing commands get from the library: the rendered files of `render`, the HTML size that
`validate`, `render` and the preview report against Gmail's limit, and the issue files' JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ENVELOPE, ROOT, T0
from issue_files import render, write_issue

from newsletter.composing.files import write_rendered_files
from newsletter.composing.message import parse
from newsletter.errors import MergeError
from newsletter.model import SAMPLE_RECIPIENT, Recipient, Rendered
from newsletter.model.schema import issue_schema
from newsletter.rendering.size import html_size

COMPANY = (
    "subject: Hallo\npreheader: P\nlanguage: nl\nlayout: default\nsections:\n"
    "  - type: intro\n    body: Beste klant van {{ company }}\n"
)


def test_rendered_files_are_the_sample_reader_s_message_and_its_two_parts(
    rendered: Rendered, tmp_path: Path
) -> None:
    folder = tmp_path / "build" / "januari"
    files = write_rendered_files(rendered, ENVELOPE, folder, date=T0)
    assert files.recipient == SAMPLE_RECIPIENT
    assert list(files.paths().items()) == [
        ("html", folder / "2026-01.html"),
        ("txt", folder / "2026-01.txt"),
        ("eml", folder / "2026-01.eml"),
    ]
    message = parse(files.eml.read_bytes())
    assert message["To"] == "Sam <reader@example.org>"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    # The HTML keeps the line ends of the message part; only the text file gets the platform's own.
    # Its inline images are files beside it, which a browser shows (it cannot show a cid: part).
    on_disk = html_part.get_content()
    for image in rendered.images:
        file = folder / "2026-01_files" / image.path
        assert file.read_bytes() == image.data
        on_disk = on_disk.replace(f'"cid:{image.cid}"', f'"2026-01_files/{image.path}"')
    assert len(rendered.images) == 3  # the logo, its dark variant and the article's photo
    assert files.html.read_bytes().decode("utf-8") == on_disk
    assert "cid:" not in on_disk
    text = files.txt.read_bytes().decode("utf-8")
    assert "\r" not in text
    assert text == text_part.get_content().replace("\r\n", "\n")
    assert "Beste Sam," in text


def test_rendered_files_report_the_size_of_the_message_s_html(rendered: Rendered, tmp_path: Path) -> None:
    files = write_rendered_files(rendered, ENVELOPE, tmp_path, date=T0)
    html_part = parse(files.eml.read_bytes()).get_body(("html",))
    assert html_part is not None
    # As Gmail counts it: the message's HTML with its cid: addresses, not the file's image paths.
    assert files.html_bytes == len(html_part.get_content().encode("utf-8"))


def test_rendered_files_can_be_for_another_reader(rendered: Rendered, tmp_path: Path) -> None:
    an = Recipient(email="an@example.org", first_name="An", name="An Peeters")
    files = write_rendered_files(rendered, ENVELOPE, tmp_path, date=T0, recipient=an)
    assert "Beste An," in files.html.read_text(encoding="utf-8")
    assert parse(files.eml.read_bytes())["To"] == "An Peeters <an@example.org>"


def test_rendered_files_are_not_written_when_the_message_cannot_be_composed(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path, text=COMPANY))
    with pytest.raises(MergeError, match=r"\{\{ company \}\}"):
        write_rendered_files(rendered, ENVELOPE, tmp_path / "out", date=T0)
    assert not (tmp_path / "out").exists()


def test_html_size_counts_the_bytes_of_the_text_in_utf8() -> None:
    assert html_size("<p>CO₂</p>") == len("<p>CO</p>") + 3


def test_html_size_of_a_rendered_issue_leaves_every_merge_field_empty(tmp_path: Path) -> None:
    _, rendered = render(write_issue(tmp_path, text=COMPANY))
    empty = html_size(rendered.sample_html({"company": ""}))
    assert html_size(rendered) == empty
    assert html_size(rendered.sample_html({"company": "Acme"})) == empty + len("Acme")


def test_issue_schema_is_the_committed_schema_file() -> None:
    text = issue_schema()
    assert text == (ROOT / "issue.schema.json").read_text(encoding="utf-8")
    assert text.endswith("}\n")
    document = json.loads(text)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["title"] == "Newsletter issue"
    assert "sections" in document["required"]
