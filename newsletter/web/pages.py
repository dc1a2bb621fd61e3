"""The HTML pages of the preview and the archive, rendered from the templates shipped in this package
(`newsletter/web/templates/`).

Jinja2 escapes every value (autoescape) and refuses a name the page does not get (StrictUndefined),
so a subject, a file name or a mistake that holds markup or `{{ }}` shows as written. The templates
are package data, loaded through the package and not through a path of the source tree: an installed
wheel has them too.
"""

from __future__ import annotations

import functools
import re

import jinja2
from markupsafe import Markup

from newsletter.errors import LayoutError

TEMPLATES = "templates"
PREVIEW_PAGE = "preview.html.j2"
PREVIEW_MISTAKE = "preview_mistake.html.j2"
ARCHIVE_INDEX = "archive_index.html.j2"

# What could end a CSS rule or the <style> element itself; the layout's own checks keep these out.
_BREAKS_CSS = re.compile(r"[<>{};\\]")


def css_value(value: str) -> Markup:
    """A layout's colour or font list, placed in a <style> element as it is.

    A <style> element is raw text: HTML escaping would turn 'Open Sans' into &#39;Open Sans&#39;,
    which CSS reads as it stands. layout.yaml's checks refuse what could end the rule or the element;
    checked again here so that no other value can ever do so.
    """
    if _BREAKS_CSS.search(value):
        raise LayoutError(f"{value!r} cannot stand in a style sheet: it holds one of < > {{ }} ; \\")
    return Markup(value)  # noqa: S704 - checked above: nothing in it can end the rule or the element


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("newsletter.web", TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # A block tag takes its line with it, so the pages read as the templates are laid out.
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["css_value"] = css_value
    return environment


def render_page(name: str, **values: object) -> str:
    """The template `name` of this package filled with `values`, every one of them escaped."""
    return _environment().get_template(name).render(**values)
