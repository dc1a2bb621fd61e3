"""Mail header lines that cannot break, whatever a name or subject holds.

Every value is cleaned of control characters (a NUL, an ESC or a line break in a CSV cell must never
reach the wire), encoded per RFC 2047 when it is not ASCII, and folded per RFC 5322 so that no line is
longer than 78 octets where a fold is possible and never longer than 998, the limit past which servers
answer 500 and a reader would be lost for a fault of ours.

The common case, a short ASCII value, is one check and one f-string: the Composer writes these for
every recipient.
"""

from __future__ import annotations

import base64
import re

CRLF = "\r\n"
LINE = 78  # RFC 5322's "SHOULD": what any reader shows unbroken
MAX_LINE = 998  # RFC 5322's "MUST", without the CRLF

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators. The whitespace among them
# becomes a space so that "Jan\tPeeters" stays two words; the rest is dropped.
_SPACES = "\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029"
_CONTROLS: dict[int, str | None] = {
    **dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)]),
    **dict.fromkeys(map(ord, _SPACES), " "),
}
# What makes a display name a quoted string (as email.utils.formataddr decides).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
# An encoded word is at most 75 characters (RFC 2047 2): "=?utf-8?b?" + base64 of 45 octets + "?=".
_WORD_OCTETS = 45
_WORD_OVERHEAD = len("=?utf-8?b??=")


def clean(value: str) -> str:
    """`value` without control characters (see _CONTROLS); most values are returned as they are."""
    if value.isprintable():
        return value
    return value.translate(_CONTROLS)


def has_controls(value: str) -> bool:
    """Whether `value` holds a character that `clean` would change: for refusing settings outright."""
    return value.translate(_CONTROLS) != value


def unstructured(name: str, value: str) -> str:
    """`Name: value` CRLF for free text (Subject): folded at spaces, or encoded words when needed."""
    value = clean(value).strip()
    line = f"{name}: {value}"
    if value.isascii():
        if len(line) <= LINE:
            return line + CRLF
        folded = _fold_at_spaces(line)
        if folded is not None:
            return folded
    return _fold_words(f"{name}:", value, "")


def address(name: str, display_name: str, addr: str) -> str:
    """`Name: display name <addr>` CRLF; the name quoted or encoded as it needs, `addr` as given."""
    text = " ".join(clean(display_name).split())
    if not text:
        return f"{name}: {addr}{CRLF}"
    if text.isascii():
        shown = text
        if _SPECIALS.search(text):
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            shown = f'"{escaped}"'
        line = f"{name}: {shown} <{addr}>"
        if len(line) <= LINE:
            return line + CRLF
    return _fold_words(f"{name}:", text, f"<{addr}>")


def phrase_with_id(name: str, phrase: str, ident: str) -> str:
    """`Name: phrase <ident>` CRLF (List-Id): only the phrase is ever encoded, the id stays readable."""
    text = " ".join(clean(phrase).split())
    if not text:
        return f"{name}: <{ident}>{CRLF}"
    if text.isascii() and not _SPECIALS.search(text):
        line = f"{name}: {text} <{ident}>"
        if len(line) <= LINE:
            return line + CRLF
    return _fold_words(f"{name}:", text, f"<{ident}>")


def encoded_words(text: str, first_octets: int = _WORD_OCTETS) -> list[str]:
    """`text` as RFC 2047 encoded words of whole characters, each at most 75 characters long; the
    first holds at most `first_octets` octets, to fit beside the header's name.

    A word ends after a space where one is near, so that readers who (against RFC 2047) put a space
    between adjacent encoded words still show the text as written.
    """
    data = text.encode("utf-8")
    words = []
    start = 0
    room = first_octets
    while start < len(data):
        end = min(start + room, len(data))
        if end < len(data):
            # Never cut inside a character: UTF-8 continuation bytes are 0b10xxxxxx.
            while data[end] & 0xC0 == 0x80:
                end -= 1
            space = data.rfind(b" ", start + 1, end)
            if space > start + room // 2:
                end = space + 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
        room = _WORD_OCTETS
    return words


def _fold_words(head: str, text: str, tail: str) -> str:
    """`head` and `text` as encoded words, then `tail`, folded before each piece that does not fit on
    the current line: every line fits in 78 octets, but for a `tail` that is longer by itself."""
    # Base64 writes 4 characters per 3 octets; the first word shares its line with "head ".
    first = (LINE - len(head) - 1 - _WORD_OVERHEAD) // 4 * 3
    pieces = encoded_words(text, max(first, 12))
    if tail:
        pieces.append(tail)
    lines = []
    current = head
    for i, piece in enumerate(pieces):
        if i and len(current) + 1 + len(piece) > LINE:
            lines.append(current)
            current = ""
        current += " " + piece
    lines.append(current)
    return CRLF.join(lines) + CRLF


_FOLD_POINT = re.compile(r"(?<=\S)(?= )")


def _fold_at_spaces(line: str) -> str | None:
    """An ASCII line folded before spaces into lines of at most 78 octets where the words allow it;
    None when a single word would make a line over 998 (then it is encoded instead)."""
    pieces = _FOLD_POINT.split(line)
    lines = []
    current = pieces[0]
    for piece in pieces[1:]:
        if len(current) + len(piece) > LINE:
            lines.append(current)
            current = piece
        else:
            current += piece
    lines.append(current)
    if max(len(x) for x in lines) > MAX_LINE:
        return None
    return CRLF.join(lines) + CRLF
