"""Colours of a layout: WCAG 2 contrast, and the dark palette made from the light one.

Mail programs in dark mode invert an email's colours on their own unless it brings colours for dark
mode. A layout may give them in `dark:` (the same keys as `brand:`, each optional); what it leaves out
is derived here from its light colours: dark backgrounds in the light background's hue, light text,
and the brand colours lightened just enough to be read on the dark surface (WCAG AA, 4.5:1), with
dark text on them. Computed, so that a layout with other brand colours gets a readable dark mode too.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping

# WCAG 2.x AA for normal text.
AA = 4.5
# The lightness (HLS) of the derived backgrounds: near black, the sections a little lighter than what
# lies around them, as dark themes raise a surface; and of the body text, a soft white.
BACKGROUND_LIGHTNESS = 0.08
SURFACE_LIGHTNESS = 0.13
TEXT_LIGHTNESS = 0.91
MUTED_LIGHTNESS = 0.68
# Greys stay greys, and a tinted background is tinted, not painted, in the dark.
MAX_BACKGROUND_SATURATION = 0.25
MAX_TEXT_SATURATION = 0.15
KEYS = ("primary", "accent", "text", "muted", "background", "surface", "on_primary")


def rgb(colour: str) -> tuple[float, float, float]:
    """`#rrggbb` as three channels from 0 to 1."""
    value = colour.lstrip("#")
    return int(value[0:2], 16) / 255, int(value[2:4], 16) / 255, int(value[4:6], 16) / 255


def hex_colour(channels: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in channels)


def luminance(colour: str) -> float:
    """Relative luminance, WCAG 2.x."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """The contrast ratio of two colours, from 1 to 21."""
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _with_lightness(colour: str, lightness: float, max_saturation: float = 1.0) -> str:
    hue, _, saturation = colorsys.rgb_to_hls(*rgb(colour))
    return hex_colour(colorsys.hls_to_rgb(hue, lightness, min(saturation, max_saturation)))


def lightened(colour: str, against: tuple[str, ...], start: float = 0.0) -> str:
    """`colour` in its own hue and saturation, at the lowest lightness from `start` up at which it
    reads at AA on each of the colours in `against` (white at worst)."""
    _, lightness, _ = colorsys.rgb_to_hls(*rgb(colour))
    step = max(lightness, start)
    while step <= 1.0:
        candidate = _with_lightness(colour, step)
        if all(contrast(candidate, c) >= AA for c in against):
            return candidate
        step += 0.01
    return "#ffffff"


def _on(backgrounds: tuple[str, ...], dark: str) -> str:
    """The text colour for these backgrounds: the dark background where it reads on all of them,
    else white where that does, else whichever of the two reads worst best."""
    choices = (dark, "#000000", "#ffffff")
    for choice in choices:
        if all(contrast(choice, b) >= AA for b in backgrounds):
            return choice
    return max(choices, key=lambda c: min(contrast(c, b) for b in backgrounds))


def dark_palette(light: Mapping[str, str], given: Mapping[str, str | None]) -> dict[str, str]:
    """The dark palette: each key of `given` that is set, the others derived from `light` (and from
    the dark colours already settled, so that a given dark surface is what the text is measured on)."""

    def pick(key: str, derive: str) -> str:
        value = given.get(key)
        return value if value else derive

    background = pick(
        "background",
        _with_lightness(light["background"], BACKGROUND_LIGHTNESS, MAX_BACKGROUND_SATURATION),
    )
    surface = pick(
        "surface", _with_lightness(light["background"], SURFACE_LIGHTNESS, MAX_BACKGROUND_SATURATION)
    )
    grounds = (background, surface)
    text = pick(
        "text", lightened(_with_lightness(light["text"], TEXT_LIGHTNESS, MAX_TEXT_SATURATION), grounds)
    )
    muted = pick(
        "muted", lightened(_with_lightness(light["muted"], MUTED_LIGHTNESS, MAX_TEXT_SATURATION), grounds)
    )
    primary = pick("primary", lightened(light["primary"], grounds))
    accent = pick("accent", lightened(light["accent"], grounds))
    on_primary = pick("on_primary", _on((primary, accent), background))
    return {
        "primary": primary,
        "accent": accent,
        "text": text,
        "muted": muted,
        "background": background,
        "surface": surface,
        "on_primary": on_primary,
    }
