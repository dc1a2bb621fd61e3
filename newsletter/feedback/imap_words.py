"""The small forms of the IMAP protocol that the mailbox pass needs: folder names in modified UTF-7
(RFC 3501 5.1.3) and quoted, UID sets, and the answers of LIST, NAMESPACE and FETCH taken apart."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence


def utf7(name: str) -> str:
    """`name` in IMAP's modified UTF-7: printable ASCII as it is ("&" as "&-"), the rest base64 of UTF-16."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            encoded = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for c in name:
        if " " <= c <= "~":
            flush()
            out.append("&-" if c == "&" else c)
        else:
            run.append(c)
    flush()
    return "".join(out)


def from_utf7(name: str) -> str:
    def decode(found: re.Match[str]) -> str:
        text = found.group(1)
        if not text:
            return "&"
        data = text.replace(",", "/") + "=" * (-len(text) % 4)
        return base64.b64decode(data).decode("utf-16-be", "replace")

    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, name)


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


LIST = re.compile(rb'\((?P<flags>[^)]*)\) (?P<delimiter>"(?:[^"\\]|\\.)"|NIL) (?P<name>.*)', re.S)
NAMESPACE = re.compile(rb'^\(\("(?P<prefix>(?:[^"\\]|\\.)*)" (?:"(?P<delimiter>(?:[^"\\]|\\.))"|NIL)\)')
UID = re.compile(rb"\bUID (\d+)")


def unquote(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith('"') and text.endswith('"'):
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def listed(data: list[object]) -> list[tuple[str, str | None]]:
    """(name, delimiter) of each folder in a LIST answer; a name sent as a literal comes as a tuple."""
    found = []
    for item in data:
        head, literal = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
        if not isinstance(head, bytes) or not (match := LIST.match(head)):
            continue
        delimiter = None if match["delimiter"] == b"NIL" else unquote(match["delimiter"])
        name = literal.decode("utf-8", "replace") if isinstance(literal, bytes) else unquote(match["name"])
        found.append((name, delimiter))
    return found


def uid_set(keys: Sequence[str]) -> str:
    """UIDs as a set in IMAP's form, runs as ranges: "3:7,9,12:13"."""
    numbers = sorted({int(k) for k in keys})
    parts: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(str(start) if start == previous else f"{start}:{previous}")
        if n is not None:
            start = previous = n
    return ",".join(parts)


def words(data: list[object]) -> str:
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
    # Dovecot ends its answers with its timings: "(0.001 + 0.000 secs)."
    return re.sub(r"\s*\([0-9.]+ \+ [0-9.+ ]+ secs\)\.?$", "", text).strip() or "no reason given"
