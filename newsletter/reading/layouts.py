"""Layouts: an organisation's folder over the base layout shipped with newsletter.

    layouts/<name>/
        layout.yaml                 colours, fonts, logo, organisation, fixed strings per language
        logo.png                    if the logo is a file (or an https address in layout.yaml)
        email.mjml.j2               only to change the page (head, header, sections, footer)
        sections/<type>.mjml.j2     only to change how one section type looks

Every template the folder does not hold is the base layout's (`base_layout/` beside this module):
the page `email.mjml.j2` cut into blocks, and one partial per section type. A template in the folder
replaces the base one of the same name; it can also extend it as `base/<name>`, e.g.
`{% extends "base/email.mjml.j2" %}` with only the blocks it changes. A new layout is a folder with a
`layout.yaml` (`newsletter layout new NAME` writes a commented one); no Python changes.
"""

from __future__ import annotations

import difflib
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
from jinja2.runtime import Context
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from newsletter.errors import LayoutError
from newsletter.model import LANGUAGES, Language
from newsletter.model.links import is_remote_image
from newsletter.reading import layout_files, palette, template_images, template_loops, yaml_text
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


class DarkBrand(_Strict):
    """The colours in dark mode: each one left out is derived from the light ones (`palette`)."""

    primary: Colour | None = None
    accent: Colour | None = None
    text: Colour | None = None
    muted: Colour | None = None
    background: Colour | None = None
    surface: Colour | None = None
    on_primary: Colour | None = None


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
    logo_dark: str | None = Field(
        default=None, description="The logo shown in dark mode: a PNG/JPEG file in the layout folder."
    )
    wordmark: str | None = Field(default=None, description="Text shown in the header without a logo.")
    main_heading: Literal["title", "header"] = Field(
        default="title",
        description=(
            "What screen readers announce as the email's main heading (its h1): `title`, the intro's "
            "title (the header's name in an issue without one), or `header`, always the header's name."
        ),
    )
    organisation: Organisation
    strings: dict[Language, dict[str, str]]
    dark: DarkBrand = DarkBrand()

    def dark_brand(self) -> Brand:
        """The colours in dark mode: those of `dark:`, the rest derived from `brand:`."""
        return Brand(**palette.dark_palette(self.brand.model_dump(), self.dark.model_dump()))

    def strings_for(self, language: Language) -> dict[str, str]:
        return {**DEFAULT_STRINGS[language], **self.strings[language]}


_PLACES = Schema(LayoutConfig, {LayoutConfig: "layout"}).places()


# The base layout's templates, shipped as package data; an organisation's template extends one as
# "base/<name>".
BASE_FOLDER = Path(__file__).resolve().parent / "base_layout"
BASE_PREFIX = "base"
PAGE = "email.mjml.j2"
_BASE = jinja2.FileSystemLoader(BASE_FOLDER)
BASE_TEMPLATES: tuple[str, ...] = tuple(t for t in _BASE.list_templates() if t.endswith(".j2"))
# The filters the templates use; each render supplies what they do (`Layout.render`).
FILTERS = ("markdown", "date")
_FILTERS_KEY = "_render_filters"


def _filter(name: str) -> Callable[..., Any]:
    @jinja2.pass_context
    def apply(context: Context, value: Any) -> Any:
        return context[_FILTERS_KEY][name](value)

    return apply


@dataclass(frozen=True)
class Layout:
    """A loaded layout: its configuration, its templates and the bytes of its local images."""

    name: str
    path: Path
    config: LayoutConfig
    env: jinja2.Environment = field(repr=False)
    assets: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def render(self, context: Mapping[str, Any], filters: Mapping[str, Callable[[Any], Any]]) -> str:
        """The MJML document for `context`, with `filters` doing the work of the templates' filters
        (FILTERS); a failing template raises LayoutError with file:line.

        The environment is made once per layout and shared by every render of it (a preview or a
        dispatch renders the same layout over and over), so what differs per render (the issue's
        language, the link colour) comes with the call, never set on the environment.
        """
        missing = [name for name in FILTERS if name not in filters]
        if missing:
            raise TypeError(f"Layout.render needs the filters {', '.join(missing)}")
        try:
            return self.env.get_template(PAGE).render({**context, _FILTERS_KEY: filters})
        except jinja2.TemplateSyntaxError as e:
            raise LayoutError(f"{self._where(e.filename, e.lineno)}: {e.message}") from None
        except jinja2.TemplateNotFound as e:
            raise LayoutError(
                f"{self._template_frame(e)}: {_not_found(e.name if isinstance(e.name, str) else '')}"
            ) from None
        except jinja2.TemplateError as e:
            raise LayoutError(f"{self._template_frame(e)}: {e}") from None
        except RecursionError:
            raise LayoutError(self._endless()) from None

    def compile(self, names: list[str]) -> None:
        """Compile these templates now, so that a syntax error in one is found whatever the issue
        holds (an events partial, say, that only a later issue would use)."""
        for name in names:
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as e:
                raise LayoutError(f"{self._where(e.filename, e.lineno)}: {e.message}") from None
            except RecursionError:
                raise LayoutError(self._endless()) from None

    def _endless(self) -> str:
        # The loops that names written out make are refused when the layout loads
        # (template_loops); this is one through a computed name, such as a partial including the page.
        return (
            f"{self.path}: its templates extend or include one another in a circle that never ends; "
            'check their {% extends %} and {% include %} tags (the base layout\'s are "base/<name>")'
        )

    def _where(self, filename: str | None, line: int | None) -> str:
        name = self._shown(filename) if filename else str(self.path)
        return f"{name}:{line}" if line else name

    def _shown(self, filename: str) -> str:
        """A template file as a message names it: `layouts/<name>/…` for the organisation's,
        `base/…` (the name it is extended by) for the base layout's."""
        file = Path(filename)
        if file.is_relative_to(BASE_FOLDER):
            return f"{BASE_PREFIX}/{file.relative_to(BASE_FOLDER).as_posix()}"
        try:
            return str(file.relative_to(self.path.parent.parent))
        except ValueError:
            return filename

    def _template_frame(self, error: BaseException) -> str:
        """Where a template failed: the innermost template line, and when that is in the base layout,
        the organisation's template line that led there (its override passed something wrong)."""
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(".j2")]
        if not frames:
            return str(self.path)
        inner = frames[-1]
        where = self._where(inner.filename, inner.lineno)
        own = [f for f in frames if not Path(f.filename).is_relative_to(BASE_FOLDER)]
        if own and own[-1] is not inner:
            where = f"{self._where(own[-1].filename, own[-1].lineno)}: in {where}"
        return where


def _not_found(name: str) -> str:
    known = [*BASE_TEMPLATES, *(f"{BASE_PREFIX}/{t}" for t in BASE_TEMPLATES)]
    close = difflib.get_close_matches(name, known, n=1)
    hint = (
        f"; did you mean {close[0]!r}?" if close else f" (the base layout's are {', '.join(BASE_TEMPLATES)})"
    )
    return f"no template {name!r} in the layout or the base layout{hint}"


def available(root: Path) -> list[str]:
    """The names of the layouts under `root`."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "layout.yaml").is_file())


def folders(root: Path) -> list[str]:
    """The names an issue may give as its layout: the folders under `root`, with their layout.yaml or
    without it (which `missing_config` then explains, rather than call the layout unknown)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def missing_config(path: Path) -> str:
    return (
        f"{path}: no layout.yaml in this layout folder; it holds the layout's colours, organisation "
        "and texts (`newsletter layout new NAME` writes a commented one to start from)"
    )


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


def config_line(layout: Layout, loc: tuple[str | int, ...]) -> int | None:
    """The line of layout.yaml that holds `loc` (e.g. ("logo", "src")), for a message about its value."""
    try:
        doc = yaml_text.load(
            yaml_text.read(layout.path / "layout.yaml", "a layout file"), _PLACES, "layout file"
        )
    except (yaml_text.YamlTextError, OSError):
        return None
    return doc.line(loc)


def _own_templates(path: Path) -> list[str]:
    """The names of the organisation's templates. Each must be UTF-8, and either replace a base
    template or, named with a leading `_`, be a part that its other templates include."""
    names = []
    for file in sorted(path.rglob("*.j2")):
        name = file.relative_to(path).as_posix()
        if not file.is_file() or any(part.startswith(".") for part in name.split("/")):
            continue  # an editor's lock or backup file
        try:
            file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise LayoutError(f"{file}: is not UTF-8 text; save it as UTF-8") from None
        if name not in BASE_TEMPLATES and not file.name.startswith("_"):
            # A misspelt override would silently leave the base's template in force.
            close = difflib.get_close_matches(name, BASE_TEMPLATES, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise LayoutError(
                f"{file}: the base layout has no template of this name, so nothing would use it{hint} "
                "(a part of your own that your templates include starts with _, e.g. sections/_note.mjml.j2)"
            )
        names.append(name)
    return names


def environment(path: Path) -> jinja2.Environment:
    """The templates of the layout folder `path` over the base layout's: a name is looked up in the
    folder first, then in the base; `base/<name>` is always the base's (to extend it)."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.PrefixLoader({BASE_PREFIX: _BASE}), jinja2.FileSystemLoader(path), _BASE]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update({name: _filter(name) for name in FILTERS})
    return env


def _asset(path: Path, config_file: Path, key: str, src: str) -> bytes:
    file = (path / src).resolve()
    if not file.is_relative_to(path.resolve()) or not file.is_file():
        raise LayoutError(f"{config_file}: {key}: no file {src!r} in the layout")
    return file.read_bytes()


def load(root: Path, name: str) -> Layout:
    """Load `root/name`: check its layout.yaml, its strings, its logo and the names of its templates."""
    path = root / name
    config_file = path / "layout.yaml"
    if not path.is_dir():
        known = ", ".join(available(root)) or "none"
        raise LayoutError(f"unknown layout {name!r}: no folder {path} (layouts here: {known})")
    if not config_file.is_file():
        raise LayoutError(missing_config(path))
    config = _read_config(config_file)
    for language in LANGUAGES:
        have = config.strings.get(language, {})
        missing = [k for k in STRING_KEYS if k not in have]
        if missing:
            raise LayoutError(f"{config_file}: strings.{language}: missing {', '.join(missing)}")
    layout_files.check_names(path, BASE_TEMPLATES)
    own = _own_templates(path)
    assets: dict[str, bytes] = {}
    if config.logo and not is_remote_image(config.logo.src):
        assets[config.logo.src] = _asset(path, config_file, "logo.src", config.logo.src)
    if config.logo_dark:
        if config.logo is None:
            raise LayoutError(f"{config_file}: logo_dark: a dark logo needs a logo: add logo: with its alt")
        if not is_remote_image(config.logo_dark):
            assets[config.logo_dark] = _asset(path, config_file, "logo_dark", config.logo_dark)
    layout = Layout(name=name, path=path, config=config, env=environment(path), assets=assets)
    layout.compile(own)
    template_loops.check(layout.env, path, own, BASE_FOLDER, BASE_TEMPLATES)
    template_images.check(path, own)
    return layout
