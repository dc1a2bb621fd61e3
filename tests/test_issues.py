"""Issue files: every mistake is reported with its file, line and field path, all at once.

Each test writes a real issue file into tmp_path and reads it the way the product does
(`Project.render`, which loads the file, checks its images and its layout, then renders).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE

from newsletter.errors import IssueError, Problem
from newsletter.model import SECTION_TYPES
from newsletter.reading import issues
from newsletter.rendering.project import Project

GOOD = """\
subject: Hallo
preheader: Een voorproefje
language: nl
layout: default
sections:
  - type: intro
    body: Hoi {{ first_name | default('lezer') }}
"""


def write(tmp_path: Path, text: str | bytes, name: str = "issue.yaml") -> Path:
    folder = tmp_path / "issues"
    folder.mkdir(exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, marker: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `marker`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(found) >= occurrence, f"{marker!r} is not in the issue text"
    return found[occurrence - 1]


def problems(tmp_path: Path, text: str | bytes) -> tuple[Path, list[Problem]]:
    """The problems the product reports for `text` as an issue file."""
    path = write(tmp_path, text)
    with pytest.raises(IssueError) as caught:
        Project(path.parent, ROOT / "layouts").render(path)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return path, caught.value.problems


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def one_problem(tmp_path: Path, text: str | bytes) -> tuple[Path, Problem]:
    """The one problem the product reports for `text` as an issue file."""
    path, found = problems(tmp_path, text)
    return path, only(found)


def test_a_good_issue_renders(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    loaded, rendered = Project(path.parent, ROOT / "layouts").render(path)
    assert loaded.slug == "issue"
    assert loaded.issue.status == "draft"
    assert rendered.list_name == "Newsletter"


def test_the_sample_issue_is_valid() -> None:
    loaded = issues.load(SAMPLE)
    assert [s.type for s in loaded.issue.sections] == ["intro", "article", "article", "article", "callout"]


def test_unknown_key_names_its_line_and_suggests_the_spelling(tmp_path: Path) -> None:
    text = GOOD + "    tilte: Welkom\n"
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (
        str(path),
        line_of(text, "tilte:"),
        "sections[0].tilte",
    )
    assert problem.message == "unknown key 'tilte'; did you mean 'title'?"
    assert str(problem).startswith(f"{path}:8: sections[0].tilte: unknown key")


def test_unknown_top_level_key_suggests_the_spelling(tmp_path: Path) -> None:
    text = GOOD + "langauge: en\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "langauge:"), "langauge")
    assert "did you mean 'language'?" in problem.message


def test_unknown_key_without_a_close_spelling_says_to_remove_it_and_lists_the_keys_there(
    tmp_path: Path,
) -> None:
    text = GOOD + "zzzqqq: 1\n"
    _, problem = one_problem(tmp_path, text)
    assert problem.message == (
        "unknown key 'zzzqqq'; remove it or check its spelling (an issue has subject, preheader, "
        "language, layout, audience, status, send_at, sections)"
    )


def test_missing_subject_is_reported_on_the_first_line(tmp_path: Path) -> None:
    text = GOOD.replace("subject: Hallo\n", "")
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "subject")
    assert problem.message == "`subject:` is missing; an issue needs one"


def test_unknown_section_type_lists_the_known_types(tmp_path: Path) -> None:
    text = GOOD + "  - type: artikel\n    title: X\n    body: Y\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "type: artikel"), "sections[1]")
    assert problem.message.startswith("unknown section type 'artikel'; use one of ")
    for kind in SECTION_TYPES:
        assert kind in problem.message


def test_section_without_type_asks_for_one(tmp_path: Path) -> None:
    text = GOOD + "  - title: X\n    body: Y\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "title: X"), "sections[1]")
    assert problem.message.startswith("a section needs a type")


def test_image_without_alt_names_the_image_field(tmp_path: Path) -> None:
    text = GOOD + "  - type: image\n    image:\n      src: https://example.org/a.png\n"
    path, problem = one_problem(tmp_path, text)
    # The image block's first line: where the missing alt belongs.
    assert (problem.file, problem.line, problem.field) == (
        str(path),
        line_of(text, "src: https://example.org/a.png"),
        "sections[1].image.alt",
    )
    assert problem.message.startswith("`alt:` is missing: describe what the image shows")


def test_image_with_empty_alt_is_refused(tmp_path: Path) -> None:
    text = GOOD + '  - type: image\n    image:\n      src: https://example.org/a.png\n      alt: " "\n'
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "alt:"), "sections[1].image.alt")
    assert problem.message.startswith("`alt:` is empty: describe what the image shows")


def test_article_image_without_alt_names_the_article_image(tmp_path: Path) -> None:
    text = GOOD + (
        "  - type: article\n    title: T\n    body: B\n    image:\n      src: https://example.org/a.png\n"
    )
    _, problem = one_problem(tmp_path, text)
    assert problem.field == "sections[1].image.alt"


def test_bad_link_url_is_refused_with_its_line(tmp_path: Path) -> None:
    text = GOOD + "  - type: button\n    label: Klik\n    url: example.org/inschrijven\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "url: example.org"), "sections[1].url")
    assert problem.message.startswith("'example.org/inschrijven' is not a link")


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "https://", "https://example.org/a b", "ftp://example.org/x", "www.example.org"],
)
def test_link_urls_other_than_web_mail_or_phone_are_refused(tmp_path: Path, url: str) -> None:
    text = GOOD + f"  - type: button\n    label: Klik\n    url: '{url}'\n"
    _, problem = one_problem(tmp_path, text)
    assert problem.field == "sections[1].url"


def test_plain_http_image_is_refused(tmp_path: Path) -> None:
    text = GOOD + "  - type: image\n    image:\n      src: http://example.org/a.png\n      alt: A\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "src: http:"), "sections[1].image.src")
    assert "https://" in problem.message


@pytest.mark.parametrize(
    "subject",
    ['"Hallo\\r\\nBcc: iedereen@example.org"', '"Hallo\\nwereld"', "|\n  Hallo\n  wereld"],
    ids=["CRLF", "LF", "block"],
)
def test_line_break_in_subject_is_refused(tmp_path: Path, subject: str) -> None:
    text = GOOD.replace("subject: Hallo", f"subject: {subject}")
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "subject")
    assert problem.message.startswith("must be one line: it becomes a mail header")


def test_line_break_in_a_button_label_is_refused(tmp_path: Path) -> None:
    text = GOOD + '  - type: button\n    label: "Klik\\nhier"\n    url: https://example.org/\n'
    _, problem = one_problem(tmp_path, text)
    assert problem.field == "sections[1].label"


def test_several_errors_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = """\
preheader: Een voorproefje
language: xx
layout: default
sections:
  - type: intro
    body: Hoi
    tilte: Welkom
  - type: artikel
  - type: button
    label: Klik
    url: example.org
"""
    path, found = problems(tmp_path, text)
    assert [(p.line, p.field) for p in found] == [
        (1, "subject"),
        (line_of(text, "language: xx"), "language"),
        (line_of(text, "tilte:"), "sections[0].tilte"),
        (line_of(text, "type: artikel"), "sections[1]"),
        (line_of(text, "url: example.org"), "sections[2].url"),
    ]
    assert len(found) == 5
    assert all(p.file == str(path) for p in found)


def test_invalid_yaml_names_its_line_and_field_in_plain_words(tmp_path: Path) -> None:
    text = GOOD.replace("preheader: Een voorproefje", "preheader: Een: voorproefje")
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "preheader")
    assert problem.message.startswith("the text of `preheader:` has a colon followed by a space")
    assert "mapping values" not in problem.message


def test_unclosed_quote_names_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("subject: Hallo", 'subject: "Hallo')
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (1, "subject")
    assert problem.message.startswith('the quote (") that opens the text of `subject:` is not closed')


def test_tab_indentation_names_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("    body: Hoi", "\tbody: Hoi")
    _, problem = one_problem(tmp_path, text)
    assert problem.message.startswith("indented with a tab; YAML only accepts spaces for indenting")
    assert problem.line == line_of(text, "body: Hoi")


def test_yaml_that_no_rule_explains_still_names_its_line(tmp_path: Path) -> None:
    text = GOOD + "  ]\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "]"), "")
    assert problem.message.startswith(
        "YAML cannot read the file from here: check the indentation, colons and quotes of this line"
    )


def test_a_text_where_keys_belong_asks_for_keys(tmp_path: Path) -> None:
    text = GOOD + "  - type: image\n    image: foto.jpg\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "foto.jpg"), "sections[1].image")
    assert (
        problem.message == "must be a set of keys (`key: value` lines, indented under it), not a single text"
    )


def test_non_utf8_file_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    text = GOOD.replace("body: Hoi", "body: Caf\xe9")
    path, problem = one_problem(tmp_path, text.encode("latin-1"))
    assert (problem.file, problem.line, problem.field) == (str(path), line_of(text, "Caf"), "")
    assert problem.message == "is not UTF-8 text; save it as UTF-8 in your editor"


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())
    assert issues.load(path).issue.subject == "Hallo"


@pytest.mark.parametrize("text", ["", "\n\n  \n", "# only a comment\n", "---\n"])
def test_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (str(path), None, "")
    assert problem.message == "the file is empty; copy an earlier issue to start"
    assert str(problem) == f"{path}: the file is empty; copy an earlier issue to start"


def test_a_list_is_not_an_issue(tmp_path: Path) -> None:
    _, problem = one_problem(tmp_path, "- subject: Hallo\n")
    assert problem.line == 1
    assert "set of keys" in problem.message


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IssueError) as caught:
        issues.load(tmp_path / "nope.yaml")
    assert str(only(caught.value.problems)) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_unknown_layout_points_at_the_layout_line(tmp_path: Path) -> None:
    text = GOOD.replace("layout: default", "layout: pom")
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (str(path), line_of(text, "layout:"), "layout")
    assert problem.message == "unknown layout 'pom'; choose one of: default, pom-limburg"


def test_duplicate_key_is_reported_at_its_second_line(tmp_path: Path) -> None:
    text = GOOD + "subject: Nog eens\n"
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (
        str(path),
        line_of(text, "subject:", occurrence=2),
        "subject",
    )
    assert problem.message == "appears twice; keep one"


def test_duplicate_key_in_a_section_names_the_section(tmp_path: Path) -> None:
    text = GOOD + "    body: Nog eens\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "Nog eens"), "sections[0].body")


def test_missing_local_image_file_is_reported(tmp_path: Path) -> None:
    text = GOOD + "  - type: image\n    image:\n      src: images/foto.png\n      alt: Een foto\n"
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (
        str(path),
        line_of(text, "src: images/foto.png"),
        "sections[1].image.src",
    )
    assert problem.message == "no image file 'images/foto.png' next to the issue"


def test_missing_image_in_a_column_names_the_column(tmp_path: Path) -> None:
    text = GOOD + (
        "  - type: columns\n    columns:\n      - title: A\n        body: a\n"
        "      - title: B\n        body: b\n        image:\n          src: b.png\n          alt: B\n"
    )
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "src: b.png"), "sections[1].columns[1].image.src")


@pytest.mark.parametrize("src", ["../x.png", "images/../../x.png", "/etc/x.png", "images\\x.png"])
def test_image_path_that_climbs_out_is_refused(tmp_path: Path, src: str) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG")  # present, so only the path itself is wrong
    text = GOOD + f"  - type: image\n    image:\n      src: '{src}'\n      alt: X\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "src:"), "sections[1].image.src")
    assert "a local image is a path inside the issue's folder" in problem.message


def test_image_symlink_that_leaves_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(b"\x89PNG")
    (tmp_path / "issues" / "images").mkdir(parents=True)
    (tmp_path / "issues" / "images" / "x.png").symlink_to(tmp_path / "secret.png")
    text = GOOD + "  - type: image\n    image:\n      src: images/x.png\n      alt: X\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "src:"), "sections[1].image.src")
    assert problem.message == "must stay inside the issue's folder"


@pytest.mark.parametrize("field", ["{{ first name }}", "{{ first_name | upper }}", "{{ first_name", "}}"])
def test_malformed_merge_field_is_refused(tmp_path: Path, field: str) -> None:
    text = GOOD.replace("Hoi {{ first_name | default('lezer') }}", f"'Hoi {field}'")
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (
        str(path),
        line_of(text, "body:"),
        "sections[0].body",
    )
    assert problem.message.startswith("cannot understand merge field")
    assert "write {{ first_name }} or {{ first_name | default('reader') }}" in problem.message


def test_malformed_merge_field_in_the_subject_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("subject: Hallo", "subject: Hallo {{ first name }}")
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (1, "subject")
    assert "'{{ first name }}'" in problem.message


def test_ready_issue_without_send_at_is_refused_at_its_status_line(tmp_path: Path) -> None:
    text = GOOD.replace("layout: default\n", "layout: default\nstatus: ready\n")
    path, problem = one_problem(tmp_path, text)
    assert (problem.file, problem.line, problem.field) == (str(path), line_of(text, "status:"), "status")
    assert "send_at is missing" in problem.message


def test_ready_issue_with_send_at_is_accepted(tmp_path: Path) -> None:
    text = GOOD.replace("layout: default\n", "layout: default\nstatus: ready\nsend_at: 2026-01-20T09:00\n")
    loaded = issues.load(write(tmp_path, text))
    assert loaded.issue.status == "ready"
    assert loaded.issue.send_at is not None


def test_wrong_value_types_name_their_field(tmp_path: Path) -> None:
    text = GOOD + (
        "  - type: events\n    events:\n      - date: morgen\n        title: Feest\n"
        "  - type: image\n    image:\n      src: https://example.org/a.png\n      alt: A\n      width: 900\n"
    )
    _, found = problems(tmp_path, text)
    assert [(p.line, p.field) for p in found] == [
        (line_of(text, "date: morgen"), "sections[1].events[0].date"),
        (line_of(text, "width: 900"), "sections[2].image.width"),
    ]


def test_columns_need_exactly_two(tmp_path: Path) -> None:
    text = GOOD + "  - type: columns\n    columns:\n      - title: A\n        body: a\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "title: A"), "sections[1].columns")


def test_parse_reports_problems_for_a_named_file() -> None:
    with pytest.raises(IssueError) as caught:
        issues.parse(GOOD.replace("language: nl", "language: nederlands"), "brief.yaml")
    problem = only(caught.value.problems)
    assert str(problem).startswith("brief.yaml:3: language: Input should be 'nl', 'en', 'fr' or 'de'")
    assert caught.value.lines() == [str(problem)]


def test_an_impossible_date_is_an_error_on_its_line_not_a_crash(tmp_path: Path) -> None:
    text = GOOD + "  - type: events\n    events:\n      - date: 2026-02-30\n        title: Feest\n"
    _, problem = one_problem(tmp_path, text)
    assert (problem.line, problem.field) == (line_of(text, "2026-02-30"), "sections[1].events[0].date")
    assert "day value is outside expected range" in problem.message


def test_a_send_time_written_with_a_space_is_read_as_a_time(tmp_path: Path) -> None:
    text = GOOD.replace("layout: default\n", "layout: default\nstatus: ready\nsend_at: 2026-02-17 09:00\n")
    loaded = issues.load(write(tmp_path, text))
    assert loaded.issue.send_at is not None
    assert (loaded.issue.send_at.hour, loaded.issue.send_at.minute) == (9, 0)
