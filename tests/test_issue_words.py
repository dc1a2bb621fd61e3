"""`validate` in the words of the person who writes the issue: each mistake once, with its line, the
place it is at and what to write instead.

Every test makes a mistake a writer makes in a copy of the sample issue (or writes a short file as
one would) and checks the exact line and the exact words reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from command import WIDE, environment, run
from conftest import SAMPLE, audience_csv, copy_project
from issue_files import problems_of, sample_text

from newsletter.errors import Problem
from newsletter.reading import issues

IMAGE = (
    "    link:\n      url: https://example.org/nieuws/health-campus-limburg-san-francisco\n",
    "    image:\n      src: https://example.org/beelden/panel.jpg\n"
    "      alt: Het panel op het podium\n"
    "    link:\n      url: https://example.org/nieuws/health-campus-limburg-san-francisco\n",
)
ALT_TEXT = (
    "describe what the image shows, in a few words: screen readers read it out, and mail programs that "
    'block images show it in its place, e.g. alt: "Het panel op het podium in San Francisco"'
)


def line_of(text: str, marker: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `marker`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(found) >= occurrence, f"{marker!r} is not in the issue text"
    return found[occurrence - 1]


def said(found: list[Problem]) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.field, p.message) for p in found]


# -- YAML's own mistakes, in plain words --------------------------------------------------------


def test_a_colon_in_a_title_asks_for_quotes_and_shows_the_quoted_line(tmp_path: Path) -> None:
    text = sample_text(("title: Groeitip voor jouw bedrijf", "title: Groeitip: zo groeit jouw bedrijf"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "Groeitip:"),
            "sections[4].title",
            'the text of `title:` has a colon followed by a space (": "), which YAML takes for the start '
            'of another key; put the whole text in quotes: title: "Groeitip: zo groeit jouw bedrijf"',
        )
    ]


def test_a_title_that_ends_with_a_colon_asks_for_quotes(tmp_path: Path) -> None:
    text = sample_text(("title: Groeitip voor jouw bedrijf", "title: Groeitip:"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "Groeitip:"),
            "sections[4].title",
            "the text of `title:` ends with a colon, which YAML takes for the start of another key; put "
            'the whole text in quotes: title: "Groeitip:"',
        )
    ]


def test_a_tab_in_the_indentation_is_named_on_every_line_that_has_one(tmp_path: Path) -> None:
    text = sample_text(
        ("    kicker: Per rit", "\tkicker: Per rit"),
        ("    kicker: Welke", "  \tkicker: Welke"),
    )
    _, found = problems_of(tmp_path, text)
    tab = (
        "indented with a tab; YAML only accepts spaces for indenting: replace the tab with spaces "
        '(most editors: "Convert indentation to spaces")'
    )
    assert said(found) == [
        (line_of(text, "kicker: Per rit"), "", tab),
        (line_of(text, "kicker: Welke"), "", tab),
    ]


def test_a_missing_closing_quote_names_the_line_it_opens_on(tmp_path: Path) -> None:
    text = sample_text(('en Brainport"\n', "en Brainport\n"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "subject:"),
            "subject",
            'the quote (") that opens the text of `subject:` is not closed; end the text with ": '
            'subject: "Limburg op de internationale kaart: San Francisco, het spoor en Brainport"',
        )
    ]


def test_a_missing_closing_quote_is_found_even_when_a_later_quote_closes_it(tmp_path: Path) -> None:
    # YAML reads on to the next quote, three lines further, and takes all of it as the subject.
    text = sample_text(
        ('en Brainport"\n', "en Brainport\n"),
        ("layout: pom-limburg", 'layout: "pom-limburg"'),
    )
    _, found = problems_of(tmp_path, text)
    assert [(p.line, p.field) for p in found] == [(line_of(text, "subject:"), "subject")]
    assert found[0].message.startswith('the quote (") that opens the text of `subject:` is not closed')


def test_quotes_inside_a_quoted_title_suggest_single_quotes(tmp_path: Path) -> None:
    text = sample_text(("title: Groeitip voor jouw bedrijf", 'title: "De "groeihefbomen" van POM"'))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, 'groeihefbomen" van'),
            "sections[4].title",
            "the text of `title:` starts with a quote, so YAML ends it at the next quote; to use quotes "
            "inside a text, put the whole text in single quotes: title: 'De \"groeihefbomen\" van POM'",
        )
    ]


@pytest.mark.parametrize(
    ("written", "why", "quoted"),
    [
        (
            "*Let op:* de inschrijvingen sluiten vrijdag.",
            "a text that starts with * must be in quotes (YAML reads *word as a reference to another "
            "part of the file)",
            '"*Let op:* de inschrijvingen sluiten vrijdag."',
        ),
        (
            "{{ first_name }}, dit is je nieuwsbrief.",
            "a text that starts with a merge field ({{ … }}) must be in quotes",
            '"{{ first_name }}, dit is je nieuwsbrief."',
        ),
        (
            "[Update] De inschrijvingen zijn open.",
            "a text that starts with [ must be in quotes (YAML reads [ … ] as a list)",
            '"[Update] De inschrijvingen zijn open."',
        ),
        (
            "@POMLimburg op LinkedIn",
            "a text that starts with @ must be in quotes",
            '"@POMLimburg op LinkedIn"',
        ),
        (
            "&Co, de bedrijven van hier",
            "a text that starts with & must be in quotes (YAML reads &word as a name for this part of "
            "the file)",
            '"&Co, de bedrijven van hier"',
        ),
    ],
    ids=["star", "merge-field", "bracket", "at", "ampersand"],
)
def test_a_kicker_that_starts_with_a_character_yaml_reserves_asks_for_quotes(
    tmp_path: Path, written: str, why: str, quoted: str
) -> None:
    text = sample_text(("kicker: Per rit ruim 700 kilometer minder over de weg", f"kicker: {written}"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, f"kicker: {written}"),
            "sections[2].kicker",
            f"{why}; put the whole text in quotes: kicker: {quoted}",
        )
    ]


def test_a_key_without_its_colon_is_named(tmp_path: Path) -> None:
    text = sample_text(("    kicker: Per rit", "    kicker Per rit"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "kicker Per rit"),
            "sections[2].kicker",
            "`kicker` needs a colon after it: kicker: Per rit ruim 700 kilometer minder over de weg",
        )
    ]


def test_a_colon_without_its_space_is_named(tmp_path: Path) -> None:
    text = sample_text(("    kicker: Per rit", "    kicker:Per rit"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "kicker:Per rit"),
            "sections[2].kicker",
            "`kicker:` needs a space after its colon: kicker: Per rit ruim 700 kilometer minder over de weg",
        )
    ]


def test_a_hashtag_in_a_title_is_not_cut_off_as_a_comment(tmp_path: Path) -> None:
    text = sample_text(("title: Groeitip voor jouw bedrijf", "title: Groeitip #3 voor jouw bedrijf"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "Groeitip #3"),
            "sections[4].title",
            'YAML reads " #" as the start of a comment and leaves out the rest of the text of `title:`; put '
            'the whole text in quotes: title: "Groeitip #3 voor jouw bedrijf"',
        )
    ]


def test_a_comment_after_a_value_is_still_a_comment() -> None:
    text = sample_text(("language: nl\n", "language: nl   # de vaste teksten in het Nederlands\n"))
    assert issues.parse(text).language == "nl"


def test_a_section_without_its_dash_is_named(tmp_path: Path) -> None:
    text = sample_text(("  - type: callout", "  type: callout"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "type: callout"),
            "sections[4].type",
            "a new section starts here and needs a `-` in front: - type: callout",
        )
    ]


def test_the_text_of_a_body_written_at_the_indentation_of_its_key_is_named(tmp_path: Path) -> None:
    text = sample_text(
        (
            "      Geef de strategie en de groei van je onderneming een duw met de **28 groeihefbomen** van\n"
            "      POM Limburg.\n",
            "    Geef de strategie en de groei van je onderneming een duw met de **28 groeihefbomen** van\n"
            "    POM Limburg.\n",
        )
    )
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "Geef de strategie"),
            "sections[4].body",
            f"the text of `body: |` on line {line_of(text, 'body: |', occurrence=5)} must be indented "
            "further than `body:`; indent it two more spaces here and on the rest of the text's lines",
        )
    ]


def test_an_empty_title_asks_for_its_text(tmp_path: Path) -> None:
    text = sample_text(("title: Groeitip voor jouw bedrijf", "title:"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "title:", occurrence=4),
            "sections[4].title",
            "`title:` is empty; write its text after the colon, or remove the line",
        )
    ]


def test_after_a_yaml_mistake_the_rest_of_the_file_is_still_checked(tmp_path: Path) -> None:
    text = sample_text(
        ("title: Groeitip voor jouw bedrijf", "title: Groeitip: zo groeit jouw bedrijf"),
        ("kicker: Per rit", "kikcer: Per rit"),
        ("url: https://example.org/groeihefbomen", "url: http://example.org/groeihefbomen"),
    )
    _, found = problems_of(tmp_path, text)
    assert [(p.line, p.field) for p in found] == [
        (line_of(text, "kikcer:"), "sections[2].kikcer"),
        (line_of(text, "Groeitip:"), "sections[4].title"),
        (line_of(text, "http://"), "sections[4].button.url"),
    ]
    assert found[0].message == "unknown key 'kikcer'; did you mean 'kicker'?"
    assert found[1].message.startswith("the text of `title:` has a colon followed by a space")


# -- keys at the wrong place -------------------------------------------------------------------


def test_alt_under_the_article_instead_of_under_image_says_where_it_belongs(tmp_path: Path) -> None:
    text = sample_text(IMAGE).replace("      alt: Het panel", "    alt: Het panel")
    _, found = problems_of(tmp_path, text)
    # One mistake, one message: not also "alt is missing" for the image.
    assert said(found) == [
        (
            line_of(text, "alt: Het panel"),
            "sections[1].alt",
            f"`alt` belongs under `image:` (line {line_of(text, 'image:')}): indent it two more spaces, "
            "to line up with `src:`",
        )
    ]


def test_alt_one_space_short_of_the_image_keys_says_so(tmp_path: Path) -> None:
    text = sample_text(IMAGE).replace("      alt: Het panel", "     alt: Het panel")
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "alt: Het panel"),
            "sections[1].image.alt",
            f"`alt` belongs under `image:` (line {line_of(text, 'image:')}): indent it one more space, "
            "to line up with `src:`",
        )
    ]


def test_a_title_at_the_indentation_of_the_section_list_belongs_to_its_article(tmp_path: Path) -> None:
    text = sample_text(("    title: Spaas Kaarsen", "  title: Spaas Kaarsen"))
    _, found = problems_of(tmp_path, text)
    article = line_of(text, "type: article", occurrence=2)
    assert said(found) == [
        (
            line_of(text, "title: Spaas"),
            "sections[2].title",
            f"`title` belongs to the article that starts on line {article}: indent it two more spaces, "
            "to line up with `type:`",
        )
    ]


def test_a_link_indented_into_the_image_belongs_to_the_article(tmp_path: Path) -> None:
    text = sample_text(
        (
            "    link:\n      url: https://example.org/nieuws/health-campus-limburg-san-francisco\n",
            "    image:\n      src: https://example.org/beelden/panel.jpg\n      alt: Het panel\n"
            "      link:\n        url: https://example.org/nieuws/health-campus-limburg-san-francisco\n",
        )
    )
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "link:"),
            "sections[1].image.link",
            "`link` is not a key of `image:`; it belongs to the article that starts on line "
            f"{line_of(text, 'type: article')}: indent it two spaces less, to line up with `image:`",
        )
    ]


def test_status_added_at_the_end_inside_the_last_section_is_a_key_of_the_issue(tmp_path: Path) -> None:
    text = sample_text() + "    status: ready\n    send_at: 2026-02-17T09:00\n"
    text = text.replace("status: draft\n", "")
    _, found = problems_of(tmp_path, text)
    assert said(found)[0] == (
        line_of(text, "status: ready"),
        "sections[4].status",
        "`status` is not a key of a callout; it is a key of the issue as a whole: move it out of "
        "`sections:`, lined up with `sections:`",
    )


def test_a_key_of_the_issue_indented_after_the_last_section_says_to_start_the_line_with_it(
    tmp_path: Path,
) -> None:
    text = sample_text().replace("status: draft\n", "") + "  status: draft\n"
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "status: draft"),
            "status",
            "`status` is a key of the issue as a whole: start it at the beginning of the line, like "
            "`sections:`",
        )
    ]


def test_src_and_alt_without_image_say_that_image_is_missing(tmp_path: Path) -> None:
    text = sample_text(
        (
            "    kicker: Welke economische kansen liggen er voor Limburg?\n",
            "    kicker: Welke economische kansen liggen er voor Limburg?\n"
            "    src: https://example.org/beelden/brainport.jpg\n",
        ),
    )
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "src: https"),
            "sections[3].src",
            "`src` belongs under `image:`, which is not there: add a line `image:` and put `src:` under "
            "it, indented two more spaces",
        )
    ]


# -- did you mean, only with keys of the place ---------------------------------------------------


def test_a_mistyped_image_key_suggests_an_image_key(tmp_path: Path) -> None:
    text = sample_text(IMAGE).replace("alt: Het panel", "atl: Het panel")
    _, found = problems_of(tmp_path, text)
    # One mistake, one message: not also "alt is missing".
    assert said(found) == [
        (line_of(text, "atl:"), "sections[1].image.atl", "unknown key 'atl'; did you mean 'alt'?")
    ]


def test_a_top_level_typo_is_not_offered_a_key_of_a_section(tmp_path: Path) -> None:
    # `kicker` is a key of an article, one level down; it is no suggestion for the issue's own keys.
    text = sample_text(("status: draft\n", "status: draft\nkiker: Nieuws uit Limburg\n"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "kiker:"),
            "kiker",
            "unknown key 'kiker'; remove it or check its spelling (an issue has subject, preheader, "
            "language, layout, audience, status, send_at, sections)",
        )
    ]


def test_a_key_valid_elsewhere_but_not_here_is_never_suggested_as_itself(tmp_path: Path) -> None:
    # An article's link has a url and a label; its title is already there, one level up.
    text = sample_text(
        (
            "      url: https://example.org/groeihefbomen\n",
            "      url: https://example.org/groeihefbomen\n      title: Meer weten\n",
        )
    )
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "title: Meer weten"),
            "sections[4].button.title",
            "unknown key 'title'; remove it or check its spelling (`button:` has label, url)",
        )
    ]


# -- links, images, the files an issue names -----------------------------------------------------


def test_a_plain_http_link_is_refused_with_its_https_spelling(tmp_path: Path) -> None:
    text = sample_text(("url: https://example.org/groeihefbomen", "url: http://example.org/groeihefbomen"))
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "http://"),
            "sections[4].button.url",
            "'http://example.org/groeihefbomen' is a plain http:// link; write "
            "https://example.org/groeihefbomen (mail clients warn about http links)",
        )
    ]


def test_a_plain_http_link_in_a_text_is_refused(tmp_path: Path) -> None:
    text = sample_text(
        ("met de **28 groeihefbomen** van", "met de [28 groeihefbomen](http://example.org/hefbomen) van")
    )
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (
            line_of(text, "body:", occurrence=5),
            "sections[4].body",
            "the link http://example.org/hefbomen is a plain http:// link; write "
            "https://example.org/hefbomen (mail clients warn about http links)",
        )
    ]


def test_a_missing_alt_says_what_alt_text_is_for_with_an_example(tmp_path: Path) -> None:
    text = sample_text(IMAGE).replace("      alt: Het panel op het podium\n", "")
    _, found = problems_of(tmp_path, text)
    assert said(found) == [(line_of(text, "src:"), "sections[1].image.alt", f"`alt:` is missing: {ALT_TEXT}")]


def test_an_empty_alt_says_what_alt_text_is_for(tmp_path: Path) -> None:
    text = sample_text(IMAGE).replace("alt: Het panel op het podium", 'alt: ""')
    _, found = problems_of(tmp_path, text)
    assert said(found) == [(line_of(text, "alt:"), "sections[1].image.alt", f"`alt:` is empty: {ALT_TEXT}")]


def test_a_missing_image_file_and_an_unknown_layout_come_with_the_other_mistakes(tmp_path: Path) -> None:
    text = sample_text(
        ("layout: pom-limburg", "layout: pom"),
        ("kicker: Per rit", "kikcer: Per rit"),
        IMAGE,
    ).replace("https://example.org/beelden/panel.jpg", "beelden/panel.jpg")
    _, found = problems_of(tmp_path, text)
    assert said(found) == [
        (line_of(text, "layout:"), "layout", "unknown layout 'pom'; choose one of: default, pom-limburg"),
        (
            line_of(text, "src:"),
            "sections[1].image.src",
            "no image file 'beelden/panel.jpg' next to the issue",
        ),
        (line_of(text, "kikcer:"), "sections[2].kikcer", "unknown key 'kikcer'; did you mean 'kicker'?"),
    ]


def test_the_audience_file_is_found_beside_the_issue_file() -> None:
    loaded = issues.load(SAMPLE)
    assert loaded.audience_file is None
    assert issues.audience_path(Path("issues/2026-02.yaml"), "leden.csv") == Path("issues/leden.csv")
    assert issues.audience_path(Path("issues/2026-02.yaml"), "../crm/leden.csv") == Path(
        "issues/../crm/leden.csv"
    )


def validate(folder: Path, *files: str) -> tuple[int, list[str], str]:
    result = run("validate", *files, cwd=folder, env=environment(WIDE), timeout=60)
    return result.returncode, result.stderr.splitlines(), result.stdout


def test_validate_names_the_audience_line_when_its_file_is_not_beside_the_issue(tmp_path: Path) -> None:
    copy_project(tmp_path)
    text = sample_text(("status: draft\n", "status: draft\naudience: leden.csv\n"))
    (tmp_path / "issues" / "2026-02.yaml").write_text(text, encoding="utf-8")
    audience_csv(tmp_path / "leden.csv", ["an@example.org"])  # beside the command, not the issue
    code, errors, out = validate(tmp_path, "issues/2026-02.yaml")
    assert code == 2
    assert errors == [
        f"error: issues/2026-02.yaml:{line_of(text, 'audience:')}: audience: no audience file "
        "'leden.csv' next to the issue (looked for issues/leden.csv); export the audience there, or "
        "correct the name"
    ]
    assert out == ""


def test_validate_accepts_an_audience_named_relative_to_the_issue(tmp_path: Path) -> None:
    copy_project(tmp_path)
    (tmp_path / "crm").mkdir()
    audience_csv(tmp_path / "crm" / "leden.csv", ["an@example.org"])
    text = sample_text(("status: draft\n", "status: draft\naudience: ../crm/leden.csv\n"))
    (tmp_path / "issues" / "2026-02.yaml").write_text(text, encoding="utf-8")
    code, errors, out = validate(tmp_path, "issues/2026-02.yaml")
    assert (code, errors) == (0, [])
    assert out.startswith("ok: issues/2026-02.yaml: 5 sections")


def test_validate_prints_every_mistake_once_as_file_line_field_message(tmp_path: Path) -> None:
    copy_project(tmp_path)
    text = sample_text(
        ("title: Groeitip voor jouw bedrijf", "title: Groeitip: zo groeit jouw bedrijf"),
        ("    title: Spaas Kaarsen", "  title: Spaas Kaarsen"),
        ("url: https://example.org/groeihefbomen", "url: http://example.org/groeihefbomen"),
        IMAGE,
    ).replace("      alt: Het panel", "    alt: Het panel")
    (tmp_path / "issues" / "2026-02.yaml").write_text(text, encoding="utf-8")
    code, errors, _ = validate(tmp_path, "issues/2026-02.yaml")
    assert code == 2
    where = [line.split(": ", 3)[:3] for line in errors]
    assert where == [
        ["error", f"issues/2026-02.yaml:{line_of(text, 'alt: Het panel')}", "sections[1].alt"],
        ["error", f"issues/2026-02.yaml:{line_of(text, 'title: Spaas')}", "sections[2].title"],
        ["error", f"issues/2026-02.yaml:{line_of(text, 'Groeitip:')}", "sections[4].title"],
        ["error", f"issues/2026-02.yaml:{line_of(text, 'http://')}", "sections[4].button.url"],
    ]
    assert "mapping values are not allowed" not in "\n".join(errors)


def test_a_layout_file_gets_the_same_plain_words(tmp_path: Path) -> None:
    copy_project(tmp_path)
    layout = tmp_path / "layouts" / "pom-limburg" / "layout.yaml"
    text = layout.read_text(encoding="utf-8").replace(
        "list_name: Nieuwsbrief POM Limburg", "list_name: POM Limburg: de nieuwsbrief"
    )
    layout.write_text(text, encoding="utf-8")
    code, errors, _ = validate(tmp_path, "issues/2026-01.yaml")
    assert code == 2
    assert errors == [
        f"error: layouts/pom-limburg/layout.yaml:{line_of(text, 'list_name:')}: the text of `list_name:` "
        'has a colon followed by a space (": "), which YAML takes for the start of another key; put the '
        'whole text in quotes: list_name: "POM Limburg: de nieuwsbrief"'
    ]
