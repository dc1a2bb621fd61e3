"""A key or a `- ` that lines up with nothing above it: which level it belongs to, found from the lines
above it (and, with the keys each place takes, which of them takes it), and the lines moved there.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.reading.yaml_lines import (
    BLOCK_SCALAR,
    Explained,
    Line,
    Mistake,
    Places,
    leading,
    looks_like_key,
    move,
    shown,
    split,
)


@dataclass(frozen=True)
class _Level:
    """A level of indentation open at some line: a column where keys (or list dashes) start."""

    column: int
    line: int  # 0-based: the nearest line above with a key (or dash) there
    key: str | None  # that line's key at this column (None for a dash level)
    dash: bool
    text: str  # that line


def _levels(lines: list[str], at: int, skipped: set[int]) -> list[_Level]:
    """The levels open at line `at`, deepest first: each the nearest line above that is less indented
    than every line between."""
    levels: list[_Level] = []
    limit = 1 << 30
    for i in range(at - 1, -1, -1):
        if i in skipped or "\t" in leading(lines[i]):
            continue
        parts = split(lines[i])
        if parts.key is not None and parts.key_col < limit:
            levels.append(_Level(parts.key_col, i, parts.key, dash=False, text=lines[i]))
            limit = parts.key_col
        for column in reversed(parts.dashes):
            if column < limit:
                levels.append(_Level(column, i, None, dash=True, text=lines[i]))
                limit = column
        if limit == 0:
            break
    return levels


def _where(key: str, levels: list[_Level], k: int, places: Places) -> str | None:
    """What the key level `levels[k]` is, as the place `key` belongs to; None when `key` is no key there."""
    below = levels[k + 1 :]
    if not below:
        place = places.get("")
        return f"is a key of {place.name} as a whole" if place and key in place.keys else None
    if below[0].dash:
        item = below[0]
        opener = next((level for level in below[1:] if not level.dash), None)
        place = places.get(opener.key or "") if opener else None
        if place is None or key not in place.keys:
            return None
        first = split(item.text)
        name = f"the {first.value}" if first.key == "type" and first.value else place.name
        return f"belongs to {name} that starts on line {item.line + 1}"
    opener = below[0]
    place = places.get(opener.key or "")
    if place is None or key not in place.keys:
        return None
    return f"belongs under `{opener.key}:` (line {opener.line + 1})"


def _shift(lines: list[str], at: int, delta: int, column: int) -> str:
    """The text with line `at` moved by `delta` columns, and with it the lines after it that are
    indented further when they are its value (after `key:` or `key: |`) or its list item's keys."""
    out = list(lines)
    parts = split(lines[at])
    own = not parts.dashes and parts.value and not BLOCK_SCALAR.fullmatch(parts.value)
    i = at
    while i < len(lines) and not (own and i > at):
        line = lines[i]
        if i > at and line.strip() and len(line) - len(line.lstrip(" ")) <= column:
            break
        if line.strip():
            out[i] = " " * delta + line if delta > 0 else line[min(-delta, len(leading(line))) :]
        i += 1
    return "\n".join(out)


def indentation(
    lines: list[str], at: int, parts: Line, places: Places, skipped: set[int]
) -> Explained | None:
    """A key or a `-` that lines up with nothing above it: the level it belongs to, and it moved there."""
    levels = _levels(lines, at, skipped)
    column = parts.dashes[0] if parts.dashes else parts.key_col
    candidates = [(k, level) for k, level in enumerate(levels) if level.dash == bool(parts.dashes)]
    if not candidates or any(level.column == column for _, level in candidates):
        return None

    def nearest(candidate: tuple[int, _Level]) -> tuple[int, int]:
        return abs(candidate[1].column - column), -candidate[1].column

    if parts.dashes or not parts.key:
        _, level = min(candidates, key=nearest)
        how = move(level.column - column, level.column)
        message = f"this `-` does not line up with the `-` on line {level.line + 1}: {how}"
    else:
        fitting = [(k, level) for k, level in candidates if _where(parts.key, levels, k, places)]
        k, level = min(fitting or candidates, key=nearest)
        where = _where(parts.key, levels, k, places) if fitting else None
        first = (
            f"`{parts.key}` {where}" if where else f"`{parts.key}:` does not line up with the keys above it"
        )
        like = f"`{level.key}:`" if where else f"`{level.key}:` on line {level.line + 1}"
        how = move(level.column - column, level.column)
        message = f"{first}: {how}{', like ' if how.startswith('start') else ', to line up with '}{like}"
    return Explained([Mistake(at + 1, message)], _shift(lines, at, level.column - column, column), at)


def text_not_indented(lines: list[str], at: int, skipped: set[int]) -> Explained | None:
    """The lines of a `key: |` text written no further in than the key: YAML ends the text there."""
    above = next((i for i in range(at - 1, -1, -1) if lines[i].strip() and i not in skipped), None)
    if above is None:
        return None
    opener = split(lines[above])
    here = split(lines[at])
    if not opener.key or not BLOCK_SCALAR.fullmatch(opener.value) or here.indent > opener.key_col:
        return None
    if here.key or here.dashes:
        return None
    delta = opener.key_col + 2 - here.indent
    out, i = list(lines), at
    # The text runs on to the next key or list item.
    while i < len(lines) and not (i > at and (looks_like_key(lines[i]) or split(lines[i]).dashes)):
        if lines[i].strip():
            out[i] = " " * delta + lines[i]
        i += 1
    message = (
        f"the text of `{opener.key}: {opener.value}` on line {above + 1} must be indented further than "
        f"`{opener.key}:`; {move(delta, opener.key_col + 2)} here and on the rest of the text's lines"
    )
    return Explained([Mistake(at + 1, message)], "\n".join(out), at)


def missing_dash(
    lines: list[str], at: int, parts: Line, skipped: set[int], places: Places
) -> Explained | None:
    """`type: …` at the indentation of a list's dashes, after an item that has a type: a new item
    written without its `-`."""
    if not parts.key or parts.dashes:
        return None
    levels = _levels(lines, at, skipped)
    dash = next((level for level in levels if level.dash and level.column == parts.key_col), None)
    if dash is None:
        return None
    item_keys = {
        split(lines[i]).key
        for i in range(dash.line, at)
        if i not in skipped and split(lines[i]).key_col == split(lines[dash.line]).key_col
    }
    if parts.key not in item_keys:
        return None
    out = list(lines)
    out[at] = lines[at][: parts.key_col] + "- " + lines[at][parts.key_col :]
    after = [i for i in range(at + 1, len(lines)) if i not in skipped]
    if after and split(lines[after[0]]).indent == parts.key_col and not split(lines[after[0]]).dashes:
        # Its other keys are at the same indentation: they move in with it, and what they hold.
        for i in range(at + 1, len(lines)):
            line = split(lines[i])
            if (
                lines[i].strip()
                and i not in skipped
                and line.indent <= parts.key_col
                and (line.indent < parts.key_col or line.dashes)
            ):
                break
            if lines[i].strip():
                out[i] = "  " + lines[i]
    opener = next((lv for lv in levels[levels.index(dash) + 1 :] if not lv.dash), None)
    place = places.get(opener.key or "") if opener else None
    what = f"a new {place.name.removeprefix('the ')}" if place and place.item else "a new item of the list"
    message = f"{what} starts here and needs a `-` in front: {shown(out[at])}"
    return Explained([Mistake(at + 1, message)], "\n".join(out), at)
