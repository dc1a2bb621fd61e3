"""The unsubscribe pages: the question with its one button, the confirmation, "already unsubscribed",
and "this link cannot be used", all one template in the reader's language and the layout's colours.

Every page has the same parts (a header with the organisation, a heading, the text, a footer), so
that a link that does not verify gets a page of the same shape as one that does. The layout's
colours are kept where they are readable: a pair below WCAG's 4.5:1 for text (3:1 for the button
against the page) is replaced by a readable one, whatever the layout says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

from newsletter.reading.contrast import contrast
from newsletter.reading.layouts import Brand
from newsletter.web.looks import Look
from newsletter.web.pages import render_page
from newsletter.web.unsubscribe_words import WORDS

UNSUBSCRIBE_PAGE = "unsubscribe.html.j2"
State = Literal["ask", "done", "already", "cannot"]

# The colours of a page whose layout could not be read: those of the neutral default layout.
NEUTRAL = Brand(primary="#2b3a55", accent="#b5523b")
NEUTRAL_FONT = "Arial, Helvetica, sans-serif"
TEXT_CONTRAST, SHAPE_CONTRAST = 4.5, 3.0
# Black or white reads on any colour: the worse of the two is still 4.58:1.
_DARK, _LIGHT = "#000000", "#ffffff"


def _readable(wanted: str, background: str, *fallbacks: str) -> str:
    """`wanted` on `background` if it reads (4.5:1), else the first fallback that does, else black
    or white, whichever reads better."""
    for colour in (wanted, *fallbacks):
        if contrast(colour, background) >= TEXT_CONTRAST:
            return colour
    return max((_DARK, _LIGHT), key=lambda c: contrast(c, background))


@dataclass(frozen=True)
class Palette:
    page: str
    card: str
    text: str
    muted: str
    link: str
    band: str
    on_band: str
    button: str
    on_button: str

    @classmethod
    def of(cls, brand: Brand) -> Palette:
        card = brand.surface
        text = _readable(brand.text, card)
        button = brand.primary if contrast(brand.primary, card) >= SHAPE_CONTRAST else text
        return cls(
            page=brand.background,
            card=card,
            text=text,
            muted=_readable(brand.muted, card, text),
            link=_readable(brand.accent, card, brand.primary, text),
            band=brand.primary,
            on_band=_readable(brand.on_primary, brand.primary),
            button=button,
            on_button=_readable(brand.on_primary, button, card),
        )


def render(
    state: State,
    look: Look,
    *,
    address: str | None = None,
    action: str | None = None,
    mailto: str | None = None,
    nonce: str,
) -> str:
    """The page for `state`; `address` is the masked address, `action` where the button posts to."""
    words = WORDS[look.language]
    config = look.config
    list_name = config.list_name if config else words["the_list"]
    values = {
        "address": Markup("<strong>{}</strong>").format(address or ""),
        "list": Markup("<strong>{}</strong>").format(list_name),
        "mailto": Markup('<a href="mailto:{0}">{0}</a>').format(mailto or ""),
    }

    def say(key: str) -> Markup:
        return escape(words[key]).format(**values)

    texts = [say(f"{state}_text")]
    if state == "ask":
        texts.append(say("ask_note"))
    if state == "cannot":
        texts.append(say("cannot_how"))
        if mailto:
            texts.append(say("cannot_mail"))
    organisation = config.organisation if config else None
    website = organisation.website if organisation and organisation.website else None
    return render_page(
        UNSUBSCRIBE_PAGE,
        language=look.language,
        title=f"{words[f'{state}_heading']} \u2013 {list_name}",
        heading=words[f"{state}_heading"],
        texts=texts,
        button=words["button"] if state == "ask" and action else None,
        action=action or "",
        colours=Palette.of(config.brand if config else NEUTRAL),
        body_font=config.fonts.body if config else NEUTRAL_FONT,
        heading_font=config.fonts.heading if config else NEUTRAL_FONT,
        brand_name=(config.wordmark or organisation.name) if config and organisation else list_name,
        logo=look.logo,
        logo_alt=config.logo.alt if config and config.logo else "",
        logo_width=config.logo.width if config and config.logo else 0,
        organisation=organisation.name if organisation else None,
        website=website if website and website.startswith("https://") else None,
        nonce=nonce,
    )
