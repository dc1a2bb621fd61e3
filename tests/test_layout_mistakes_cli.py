"""Layout mistakes that used to pass without a word or end in a traceback, as the CLI meets them: a
template that extends or includes itself (alone or through another), a template saved under a name
the loader never looks up, and a layout that leaves the unsubscribe link out. Each is one line and
exit 2, naming the file and what to write instead."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from command import WIDE, environment, run
from conftest import edit, png
from jinja2 import nodes

from newsletter.errors import RenderError
from newsletter.model.merge import Field, Tokens
from newsletter.reading import layouts
from newsletter.rendering import unsubscribe

ISSUE = "issues/2026-02.yaml"


def newsletter(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=cwd, env=environment(WIDE), timeout=120)


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a run that exited 2 without a traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def acme(project: Path, templates: dict[str, str]) -> str:
    """A new layout `acme` holding `templates` (by name), and the sample issue as issues/2026-02.yaml
    using it; the issue's file name."""
    created = newsletter("layout", "new", "acme", cwd=project)
    assert created.returncode == 0, created.stderr
    for name, text in templates.items():
        file = project / "layouts" / "acme" / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    text = (project / "issues" / "2026-01.yaml").read_text(encoding="utf-8")
    assert "layout: pom-limburg\n" in text
    assert "type: callout" in text
    (project / ISSUE).write_text(text.replace("layout: pom-limburg\n", "layout: acme\n"), encoding="utf-8")
    return ISSUE


# -- templates in a circle ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "render"])
def test_an_override_that_extends_its_own_name_is_one_line_saying_to_extend_the_base(
    project_dir: Path, command: str
) -> None:
    issue = acme(project_dir, {"sections/callout.mjml.j2": '{% extends "sections/callout.mjml.j2" %}\n'})
    line = one_error(newsletter(command, issue, cwd=project_dir))
    assert line == (
        'error: layouts/acme/sections/callout.mjml.j2:1: {% extends "sections/callout.mjml.j2" %} '
        "extends this same template, so it never ends; to extend the base layout's, write "
        '{% extends "base/sections/callout.mjml.j2" %}'
    )
    assert not (project_dir / "build").exists()


def test_the_fix_the_line_gives_renders_the_base_partial(project_dir: Path) -> None:
    fixed = '{% extends "base/sections/callout.mjml.j2" %}\n'
    issue = acme(project_dir, {"sections/callout.mjml.j2": fixed})
    rendered = newsletter("render", issue, cwd=project_dir)
    assert rendered.returncode == 0, rendered.stderr
    assert "Groeitip voor jouw bedrijf" in (project_dir / "build" / "2026-02.html").read_text("utf-8")


def test_two_overrides_that_extend_each_other_are_one_line_at_the_first(project_dir: Path) -> None:
    issue = acme(
        project_dir,
        {
            "sections/callout.mjml.j2": '{% extends "sections/intro.mjml.j2" %}\n',
            "sections/intro.mjml.j2": '\n{% extends "sections/callout.mjml.j2" %}\n',
        },
    )
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert line == (
        'error: layouts/acme/sections/callout.mjml.j2:1: {% extends "sections/intro.mjml.j2" %} leads '
        "back to this template (sections/intro.mjml.j2 extends sections/callout.mjml.j2), so it never "
        'ends; to extend the base layout\'s, write {% extends "base/sections/intro.mjml.j2" %}'
    )


def test_a_part_that_includes_itself_is_one_line_with_its_line(project_dir: Path) -> None:
    part = '<mj-text>Signed</mj-text>\n{% include "sections/_signature.mjml.j2" %}\n'
    intro = (
        '{% extends "base/sections/intro.mjml.j2" %}\n'
        '{% block intro_body %}{{ super() }}{% include "sections/_signature.mjml.j2" %}{% endblock %}\n'
    )
    issue = acme(project_dir, {"sections/_signature.mjml.j2": part, "sections/intro.mjml.j2": intro})
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert line == (
        'error: layouts/acme/sections/_signature.mjml.j2:2: {% include "sections/_signature.mjml.j2" %} '
        "includes this same template, so it never ends; take it out, or name a template that does not "
        "lead back here"
    )


def test_an_override_that_leads_back_through_a_base_template_is_one_line(project_dir: Path) -> None:
    """The base article includes sections/_article_image.mjml.j2, which is then the folder's own."""
    part = '{% include "sections/article.mjml.j2" %}\n'
    issue = acme(project_dir, {"sections/_article_image.mjml.j2": part})
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert line.startswith(
        'error: layouts/acme/sections/_article_image.mjml.j2:1: {% include "sections/article.mjml.j2" %} '
        "leads back to this template (base/sections/article.mjml.j2 includes "
        "sections/_article_image.mjml.j2), so it never ends; "
    ), line


def test_a_circle_through_a_computed_name_is_one_line_naming_the_layout(project_dir: Path) -> None:
    """The page includes each section's partial by a name it computes; a partial that includes the
    page again is found only when it runs."""
    issue = acme(project_dir, {"sections/callout.mjml.j2": '{% include "email.mjml.j2" %}\n'})
    line = one_error(newsletter("render", issue, cwd=project_dir))
    assert line.startswith(
        "error: layouts/acme: its templates extend or include one another in a circle that never ends; "
    ), line


# -- templates under a name the loader never looks up ----------------------------------------------


@pytest.mark.parametrize(
    ("saved", "meant"),
    [
        ("sections/callout.mjml", "sections/callout.mjml.j2"),
        ("email.mjml", "email.mjml.j2"),
        ("sections/callout.jinja", "sections/callout.mjml.j2"),
        ("sections/callout.jinja2", "sections/callout.mjml.j2"),
        ("sections/callout.html", "sections/callout.mjml.j2"),
        ("email.html", "email.mjml.j2"),
        ("sections/callout", "sections/callout.mjml.j2"),
        ("sections/_note.html", "sections/_note.mjml.j2"),
    ],
)
def test_a_template_saved_without_its_mjml_j2_ending_is_refused_with_the_name_it_needs(
    project_dir: Path, saved: str, meant: str
) -> None:
    issue = acme(
        project_dir, {saved: "<mj-section><mj-column><mj-text>Own</mj-text></mj-column></mj-section>\n"}
    )
    line = one_error(newsletter("validate", issue, cwd=project_dir))
    assert line == (
        f"error: layouts/acme/{saved}: a template must end in .mjml.j2 to be used; rename it to {meant}"
    )


def test_images_notes_and_dot_files_beside_the_templates_are_allowed(project_dir: Path) -> None:
    files = {
        "README.md": "# Our layout\n",
        "notes.txt": "Colours from the style guide.\n",
        "sections/callout.txt": "Why the callout is as it is.\n",
        ".DS_Store": "",
        "sections/.callout.mjml.j2.swp": "",
    }
    issue = acme(project_dir, files)
    folder = project_dir / "layouts" / "acme"
    for image in ("logo.png", "photo.jpg", "icon.gif", "mark.svg", "banner.webp"):
        (folder / "images").mkdir(exist_ok=True)
        (folder / "images" / image).write_bytes(b"\x89PNG\r\n")
    checked = newsletter("validate", issue, cwd=project_dir)
    assert checked.returncode == 0, checked.stderr
    assert f"ok: {issue}" in checked.stdout


# -- the unsubscribe link -------------------------------------------------------------------------

NO_UNSUBSCRIBE = (
    "error: layouts/acme: the email has no unsubscribe link, which every email must carry; put it back "
    'in the footer: <a href="{{ merge.unsubscribe_url }}">{{ s.unsubscribe }}</a> (the base page\'s '
    "footer_links block holds it: keep that block, or {{ super() }} in it)"
)


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_footer_that_drops_the_unsubscribe_link_is_refused_in_one_line(
    project_dir: Path, command: str
) -> None:
    page = (
        '{% extends "base/email.mjml.j2" %}\n'
        "{% block footer_links %}<p>Tot volgende maand!</p>{% endblock %}\n"
    )
    issue = acme(project_dir, {"email.mjml.j2": page})
    assert one_error(newsletter(command, issue, cwd=project_dir)) == NO_UNSUBSCRIBE
    assert not (project_dir / "build").exists()


@pytest.mark.parametrize(
    "footer",
    [
        '<a href="https://example.org/uitschrijven">{{ s.unsubscribe }}</a>',
        "{{ s.unsubscribe }}: {{ merge.unsubscribe_url }}",
        "",
    ],
    ids=["a fixed address", "the address as text", "nothing"],
)
def test_a_page_without_a_link_to_the_readers_own_unsubscribe_address_is_refused(
    project_dir: Path, footer: str
) -> None:
    page = f"""\
{{% extends "base/email.mjml.j2" %}}
{{% block footer %}}
<mj-section><mj-column><mj-text>{footer}</mj-text></mj-column></mj-section>
{{% endblock %}}
"""
    issue = acme(project_dir, {"email.mjml.j2": page})
    assert one_error(newsletter("validate", issue, cwd=project_dir)) == NO_UNSUBSCRIBE


def test_a_footer_of_its_own_with_the_unsubscribe_link_renders(project_dir: Path) -> None:
    page = """\
{% extends "base/email.mjml.j2" %}
{% block footer %}
<mj-section><mj-column>
  <mj-text>Tot volgende maand! <a href="{{ merge.unsubscribe_url }}">Afmelden</a></mj-text>
</mj-column></mj-section>
{% endblock %}
"""
    issue = acme(project_dir, {"email.mjml.j2": page})
    rendered = newsletter("render", issue, cwd=project_dir)
    assert rendered.returncode == 0, rendered.stderr
    html = (project_dir / "build" / "2026-02.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "lxml")
    (link,) = [a for a in soup.find_all("a") if a.get_text() == "Afmelden"]
    assert str(link["href"]).startswith("https://"), link
    text = (project_dir / "build" / "2026-02.txt").read_text(encoding="utf-8")
    assert f"Uitschrijven: {link['href']}" in text


def test_a_plain_text_part_without_the_unsubscribe_address_is_refused(project_dir: Path) -> None:
    """The text part is written from the issue and always ends with the link; the check holds it to
    that all the same."""
    tokens = Tokens()
    html = f'<p><a href="{tokens.token(Field("unsubscribe_url", where="link"))}">Uitschrijven</a></p>'
    layout = layouts.load(project_dir / "layouts", "default")
    unsubscribe.check_link(layout, html, f"Uitschrijven: {tokens.token(Field('unsubscribe_url'))}\n", tokens)
    with pytest.raises(RenderError, match="the plain-text part has no unsubscribe link"):
        unsubscribe.check_link(layout, html, "Uitschrijven: https://example.org/uitschrijven\n", tokens)


# -- a block in every partial ---------------------------------------------------------------------

MORE_SECTIONS = """\
  - type: article
    title: Een artikel met een foto ernaast
    kicker: De foto rechts
    body: Tekst naast de foto.
    image:
      src: images/dot.png
      alt: Een rode stip
      align: right
      caption: Het onderschrift
    link:
      url: https://example.org/foto-artikel
  - type: divider
  - type: button
    label: Schrijf je in
    url: https://example.org/inschrijven
  - type: callout
"""


def test_an_override_changes_one_block_of_the_article_button_and_divider(project_dir: Path) -> None:
    """Each block replaced by a template that extends the base's partial, for every article, with an
    image beside it or without; the rest of the partial stays the base's."""
    templates = {
        "sections/article.mjml.j2": """\
{% extends "base/sections/article.mjml.j2" %}
{% block article_title %}<h2>» {{ section.title }}</h2>{% endblock %}
{% block article_link %}
{% if section.link %}<mj-text><a href="{{ section.link.url }}">Verder lezen</a></mj-text>{% endif %}
{% endblock %}
{% block article_image %}{{ super() }}<mj-text>Foto: {{ image.alt }}</mj-text>{% endblock %}
""",
        "sections/button.mjml.j2": """\
{% extends "base/sections/button.mjml.j2" %}
{% block button %}
<mj-button href="{{ section.url }}" align="left">{{ section.label }} →</mj-button>
{% endblock %}
""",
        "sections/divider.mjml.j2": """\
{% extends "base/sections/divider.mjml.j2" %}
{% block divider %}<mj-divider border-color="{{ brand.accent }}" css-class="own-divider" />{% endblock %}
""",
    }
    issue = acme(project_dir, templates)
    (project_dir / "issues" / "images").mkdir(exist_ok=True)
    (project_dir / "issues" / "images" / "dot.png").write_bytes(png(40, 30))
    edit(project_dir / issue, "  - type: callout\n", MORE_SECTIONS)
    rendered = newsletter("render", issue, cwd=project_dir)
    assert rendered.returncode == 0, rendered.stderr
    source = (project_dir / issue).read_text(encoding="utf-8")
    titles = re.findall(r"(?m)^  - type: article\n    title: (.+)$", source)
    assert len(titles) == 4
    soup = BeautifulSoup((project_dir / "build" / "2026-02.html").read_text(encoding="utf-8"), "lxml")
    assert [h.get_text() for h in soup.find_all("h2")][: len(titles)] == [f"» {t}" for t in titles]
    kickers = [p.get_text() for p in soup.select("p.kicker")]
    assert "De foto rechts" in kickers, "the heading's other block, the kicker, stays the base's"
    texts = [" ".join(div.get_text().split()) for div in soup.find_all("div")]
    assert "Foto: Een rode stip" in texts
    assert "Het onderschrift" in texts, "super() keeps the base's image and caption"
    assert soup.find("img", alt="Een rode stip") is not None
    assert soup.find("a", string="Verder lezen", href="https://example.org/foto-artikel") is not None
    assert not [a for a in soup.find_all("a") if a.get_text(strip=True) == "Lees meer"]
    assert soup.find("a", string="Schrijf je in →", href="https://example.org/inschrijven") is not None
    assert soup.select(".own-divider"), "the divider block"


def test_every_block_of_the_base_partials_is_named_in_the_new_layout_yaml(project_dir: Path) -> None:
    created = newsletter("layout", "new", "acme", cwd=project_dir)
    assert created.returncode == 0, created.stderr
    text = (project_dir / "layouts" / "acme" / "layout.yaml").read_text(encoding="utf-8")
    env = layouts.environment(project_dir / "layouts" / "acme")
    for name in layouts.BASE_TEMPLATES:
        source = (layouts.BASE_FOLDER / name).read_text(encoding="utf-8")
        blocks = [b.name for b in env.parse(source).find_all(nodes.Block)]
        if not name.rpartition("/")[2].startswith("_"):  # a part another template includes
            assert blocks, f"{name} has no block to replace"
        for block in blocks:
            assert re.search(rf"\b{block}\b", text), f"block {block} of {name} is not in layout.yaml"
