"""Layouts: a folder of Jinja2 templates that produce MJML, and its `layout.yaml`.

    layouts/<name>/
        layout.yaml                 colours, fonts, logo, organisation, fixed strings per language
        email.mjml.j2               the page: head, header, sections, footer
        sections/<type>.mjml.j2     one partial per section type (intro, article, …)

A new layout is a copied folder; no Python changes.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jinja2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from newsletter.errors import LayoutError
from newsletter.model import LANGUAGES, SECTION_TYPES, Language
from newsletter.model.links import is_remote_image
from newsletter.reading import yaml_text
from newsletter.reading.issue_keys import Schema
from newsletter.reading.yaml_lines import Mistake

STRING_KEYS = ("read_more", "view_in_browser", "unsubscribe", "preferences_intro", "events_title")
# Strings a layout may leave out, so that a layout copied before they existed still loads.
DEFAULT_STRINGS: dict[Language, dict[str, str]] = {
    "nl": {"image": "Afbeelding"},
    "en": {"image": "Image"},
    "fr": {"image": "Image"},
    "de": {"image": "Bild"},
}


def _colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError(f"{value!r} is not a colour; write it as #rrggbb, e.g. #1f6f5c")
    return value.lower()


Colour = Annotated[str, AfterValidator(_colour)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Brand(_Strict):
    primary: Colour = Field(description="Headings, buttons and the header band.")
    accent: Colour = Field(description="Kickers, callout background and links.")
    text: Colour = "#222222"
    muted: Colour = "#666666"
    background: Colour = "#f2f2f2"
    surface: Colour = "#ffffff"
    on_primary: Colour = "#ffffff"


def _font_stack(value: str) -> str:
    # Templates place it unescaped inside <mj-style>: an escaped quote (&#39;) would void the rule.
    if re.search(r"[<>{};\\]", value):
        raise ValueError(f"{value!r} is not a font list; write e.g. Georgia, 'Times New Roman', serif")
    return value


FontStack = Annotated[str, AfterValidator(_font_stack)]


class Fonts(_Strict):
    body: FontStack = "Arial, Helvetica, sans-serif"
    heading: FontStack = "Arial, Helvetica, sans-serif"


class Logo(_Strict):
    src: str = Field(description="An https address or a PNG/JPEG file in the layout folder.")
    alt: str
    width: int = Field(default=180, ge=16, le=600)


class Organisation(_Strict):
    name: str
    address: list[str] = Field(default_factory=list)
    phone: str | None = None
    email: str | None = None
    website: str | None = None


class LayoutConfig(_Strict):
    """What `layout.yaml` holds."""

    list_name: str = Field(description="The newsletter's name, in List-Id and the archive.")
    brand: Brand
    fonts: Fonts = Fonts()
    logo: Logo | None = None
    wordmark: str | None = Field(default=None, description="Text shown in the header without a logo.")
    organisation: Organisation
    strings: dict[Language, dict[str, str]]

    def strings_for(self, language: Language) -> dict[str, str]:
        return {**DEFAULT_STRINGS[language], **self.strings[language]}


_PLACES = Schema(LayoutConfig, {LayoutConfig: "layout"}).places()


@dataclass(frozen=True)
class Layout:
    """A loaded layout: its configuration, its templates and the bytes of its local images."""

    name: str
    path: Path
    config: LayoutConfig
    env: jinja2.Environment = field(repr=False)
    assets: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def render(self, context: Mapping[str, Any]) -> str:
        """The MJML document for `context`; a failing template raises LayoutError with file:line."""
        try:
            return self.env.get_template("email.mjml.j2").render(context)
        except jinja2.TemplateSyntaxError as e:
            raise LayoutError(f"{self._where(e.filename, e.lineno)}: {e.message}") from None
        except jinja2.TemplateError as e:
            raise LayoutError(f"{self._template_frame(e)}: {e}") from None

    def _where(self, filename: str | None, line: int | None) -> str:
        name = Path(filename).relative_to(self.path.parent.parent) if filename else self.path
        return f"{name}:{line}" if line else str(name)

    def _template_frame(self, error: BaseException) -> str:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(".j2")]
        if not frames:
            return str(self.path)
        return self._where(frames[-1].filename, frames[-1].lineno)


def available(root: Path) -> list[str]:
    """The names of the layouts under `root`."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "layout.yaml").is_file())


def _mistakes(config_file: Path, mistakes: list[Mistake]) -> LayoutError:
    return LayoutError(
        "\n".join(
            f"{config_file}:{m.line}: {m.message}" if m.line else f"{config_file}: {m.message}"
            for m in mistakes
        )
    )


def _read_config(config_file: Path) -> LayoutConfig:
    """layout.yaml read as issue files are: size cap, no aliases, syntax mistakes in plain words."""
    try:
        doc = yaml_text.load(yaml_text.read(config_file, "a layout file"), _PLACES, "layout file")
    except yaml_text.YamlTextError as e:
        raise _mistakes(config_file, e.mistakes) from None
    if doc.mistakes:
        raise _mistakes(config_file, doc.mistakes)
    try:
        return LayoutConfig.model_validate(doc.data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        line = doc.line(tuple(first["loc"]))
        at = f"{config_file}:{line}" if line else str(config_file)
        raise LayoutError(f"{at}: {where}: {first['msg']} ({e.error_count()} problem(s))") from None


def load(root: Path, name: str) -> Layout:
    """Load `root/name`: check its layout.yaml, its strings and that every section has a partial."""
    path = root / name
    config_file = path / "layout.yaml"
    if not config_file.is_file():
        known = ", ".join(available(root)) or "none"
        raise LayoutError(f"unknown layout {name!r}: no {config_file} (layouts here: {known})")
    config = _read_config(config_file)
    for language in LANGUAGES:
        have = config.strings.get(language, {})
        missing = [k for k in STRING_KEYS if k not in have]
        if missing:
            raise LayoutError(f"{config_file}: strings.{language}: missing {', '.join(missing)}")
    for kind in SECTION_TYPES:
        if not (path / "sections" / f"{kind}.mjml.j2").is_file():
            raise LayoutError(f"{path}/sections/{kind}.mjml.j2: missing; copy it from layouts/default")
    assets: dict[str, bytes] = {}
    if config.logo and not is_remote_image(config.logo.src):
        logo = (path / config.logo.src).resolve()
        if not logo.is_relative_to(path.resolve()) or not logo.is_file():
            raise LayoutError(f"{config_file}: logo.src: no file {config.logo.src!r} in the layout")
        assets[config.logo.src] = logo.read_bytes()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(path),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Layout(name=name, path=path, config=config, env=env, assets=assets)
