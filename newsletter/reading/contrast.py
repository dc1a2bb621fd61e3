"""Colour contrast: the WCAG 2 ratio of two colours, and the colour pairs of a layout that readers
must be able to read (text on its background, links, headings, buttons, the footer, the callout),
in light mode and in dark mode.

The pairs are those the base layout's templates put together; a layout with templates of its own
uses the same brand colours in the same roles, or it is its maker's to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from newsletter.reading.layouts import Brand, Layout

# WCAG 2.x success criterion 1.4.3 (AA): 4.5:1 for text, 3:1 for large text (24px, or bold from
# 18.66px, i.e. 18pt and 14pt).
TEXT_CONTRAST = 4.5
LARGE_TEXT_CONTRAST = 3.0


def _luminance(colour: str) -> float:
    """The relative luminance of a #rrggbb colour (WCAG 2's definition, sRGB)."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours, from 1 to 21."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def is_large(size_px: float, *, bold: bool) -> bool:
    """Whether text of this size counts as large for WCAG (a lower ratio suffices)."""
    return size_px >= 24 or (bold and size_px >= 18.66)


@dataclass(frozen=True)
class Pair:
    """Two brand colours that the base layout puts one on the other, and the smallest text so shown."""

    name: str
    text: str  # a Brand field
    background: str  # a Brand field
    size_px: float
    bold: bool

    @property
    def required(self) -> float:
        return LARGE_TEXT_CONTRAST if is_large(self.size_px, bold=self.bold) else TEXT_CONTRAST


# The smallest text of each pair decides what it needs: a column's title is an 18px heading (not
# large), the article button's text 16px bold, the footer 13px.
PAIRS = (
    Pair("text colour", "text", "surface", 16, bold=False),
    Pair("link colour", "accent", "surface", 16, bold=False),
    Pair("heading and button colour", "primary", "surface", 18, bold=True),
    Pair("caption colour", "muted", "surface", 13, bold=False),
    Pair("footer text", "muted", "background", 12, bold=False),
    Pair("button text", "on_primary", "primary", 16, bold=True),
    Pair("callout text", "on_primary", "accent", 16, bold=False),
)


def _shown(ratio: float, required: float) -> str:
    """The ratio as people read it (4.48:1, 2.6:1); never rounded up to the ratio it fails."""
    shown = f"{ratio:.2f}"
    if float(shown) >= required:
        shown = f"{int(ratio * 100) / 100:.2f}"
    return shown.rstrip("0").rstrip(".")


def _below(brand: Brand) -> Iterator[tuple[Pair, str]]:
    """Each pair of `brand` below WCAG AA, with its colours and ratio in words."""
    for pair in PAIRS:
        text, background = getattr(brand, pair.text), getattr(brand, pair.background)
        ratio = contrast(text, background)
        if ratio < pair.required:
            yield (
                pair,
                (
                    f"{pair.name} {text} on {background} has contrast "
                    f"{_shown(ratio, pair.required)}:1, below {pair.required:g}:1 (WCAG AA)"
                ),
            )


def problems(brand: Brand, config_file: Path | str) -> list[str]:
    """One line per pair of `brand` below WCAG AA, naming `config_file`, the colours and the ratio."""
    return [
        f"{config_file}: {said}; change brand.{pair.text} or brand.{pair.background}"
        for pair, said in _below(brand)
    ]


def dark_problems(layout: Layout) -> list[str]:
    """One line per pair below WCAG AA in dark mode (`LayoutConfig.dark_brand()`: the layout's `dark:`
    and what is derived from `brand:`), naming the `dark.` key to change: the layout's own where it
    gives one, since what is derived reads at AA unless a given colour stands in its way."""
    config = layout.config
    given = config.dark.model_dump()
    lines = []
    for pair, said in _below(config.dark_brand()):
        own = [key for key in (pair.text, pair.background) if given.get(key)]
        fix = " or ".join(f"dark.{k}" for k in own or (pair.text, pair.background))
        lines.append(
            f"{layout.path / 'layout.yaml'}: in dark mode, {said}; {'change' if own else 'set'} {fix}"
        )
    return lines


def layout_problems(layout: Layout) -> list[str]:
    """The contrast problems of a loaded layout's colours, in light mode and then in dark mode."""
    return problems(layout.config.brand, layout.path / "layout.yaml") + dark_problems(layout)
