"""Dates as a reader of the issue's language writes them, from a month-name table per language (the
system's locale is no guide to the language of an issue).
"""

from __future__ import annotations

import datetime as dt
import re

from newsletter.model import Language

MONTHS: dict[Language, tuple[str, ...]] = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
}  # fmt: skip

# An issue named by its month, as `newsletter new 2026-02` names it (a day or a suffix may follow).
_MONTH_SLUG = re.compile(r"(\d{4})-(0[1-9]|1[0-2])(?!\d)")


def format_date(day: dt.date, language: Language) -> str:
    """ "20 januari 2026", "20 January 2026", "20. Januar 2026"."""
    month = MONTHS[language][day.month - 1]
    if language == "en":
        return f"{day.day} {month} {day.year}"
    return f"{day.day}{'.' if language == 'de' else ''} {month} {day.year}"


def format_month(day: dt.date, language: Language) -> str:
    """ "januari 2026", "January 2026"."""
    return f"{MONTHS[language][day.month - 1]} {day.year}"


def issue_month(slug: str, send_at: dt.datetime | None) -> dt.date | None:
    """The month an issue is of: the one its name starts with (2026-01), else the month it is to be
    sent in, else none (then the header shows no date)."""
    found = _MONTH_SLUG.match(slug)
    if found:
        return dt.date(int(found[1]), int(found[2]), 1)
    return send_at.date().replace(day=1) if send_at else None
