"""Which keys belong where in a file read into pydantic models, and what to say about one that does not.

A mistyped key gets a suggestion from the keys valid at its place only (an image's keys under `image:`,
never the key itself). A key that is right but at the wrong indentation, the place above or below
taking it (`alt:` under the article instead of under `image:`), is named with the place it belongs to
and the spaces to add or remove.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from newsletter.reading.yaml_lines import Place, move
from newsletter.reading.yaml_text import Document, Loc


def _unwrap(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    """The models an annotation holds (through Optional, unions and Annotated), and whether as a list."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is list:
        models, _ = _unwrap(get_args(annotation)[0])
        return models, True
    if origin in (Union, types.UnionType):
        found: list[type[BaseModel]] = []
        is_list = False
        for arg in get_args(annotation):
            models, listed = _unwrap(arg)
            found.extend(models)
            is_list = is_list or listed
        return found, is_list
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation], False
    return [], False


def _children(model: type[BaseModel]) -> Iterator[tuple[str, list[type[BaseModel]], bool]]:
    for name, info in model.model_fields.items():
        models, is_list = _unwrap(info.annotation)
        if models:
            yield name, models, is_list


def _tag(model: type[BaseModel]) -> str | None:
    """The `type:` a model of a tagged union has (an article's is "article")."""
    info = model.model_fields.get("type")
    if info is not None and get_origin(info.annotation) is Literal:
        return str(get_args(info.annotation)[0])
    return None


def a_or_an(noun: str) -> str:
    """The noun with its article: "an article", "a callout"."""
    return ("an " if noun[0] in "aeiou" else "a ") + noun


@dataclass(frozen=True)
class Schema:
    """A root model and the nouns messages use for its kinds of mapping ("article", "image")."""

    root: type[BaseModel]
    nouns: dict[type[BaseModel], str]

    def places(self) -> dict[str, Place]:
        """For every key whose value is a mapping (or a list of them), the keys valid in it."""
        places = {"": Place(frozenset(self.root.model_fields), "the " + self.nouns[self.root], False)}
        todo, done = [self.root], set()
        while todo:
            model = todo.pop()
            done.add(model)
            for name, models, is_list in _children(model):
                keys = frozenset(k for m in models for k in m.model_fields)
                noun = "the " + (name[:-1] if is_list and name.endswith("s") else name)
                old = places.get(name)
                places[name] = Place(keys | (old.keys if old else frozenset()), noun, is_list)
                todo.extend(m for m in models if m not in done)
        return places

    def model_at(self, loc: Loc, data: Any) -> type[BaseModel] | None:
        """The model the mapping at `loc` (a path of keys and indexes) is read into, if any."""
        model: type[BaseModel] = self.root
        here = data
        i = 0
        while i < len(loc):
            part = loc[i]
            if not isinstance(part, str) or part not in model.model_fields:
                return None
            models, is_list = _unwrap(model.model_fields[part].annotation)
            here = here.get(part) if isinstance(here, dict) else None
            i += 1
            if is_list:
                index = loc[i] if i < len(loc) else None
                if not isinstance(index, int):
                    return None
                here = here[index] if isinstance(here, list) and index < len(here) else None
                i += 1
            chosen = _choose(models, here)
            if chosen is None:
                return None
            model = chosen
        return model

    def noun(self, loc: Loc, data: Any) -> str:
        """What the mapping at `loc` is, for a message: "article", or its key in backquotes."""
        model = self.model_at(loc, data)
        if model in self.nouns and (not loc or isinstance(loc[-1], int)):
            return self.nouns[model]
        return f"`{loc[-1]}:`" if loc else "file"

    def unknown(self, loc: Loc, data: Any, doc: Document) -> tuple[str, Loc | None]:
        """What to say about the unknown key at `loc`, and the missing key it explains (not to repeat)."""
        name = str(loc[-1])
        here = loc[:-1]
        model = self.model_at(here, data)
        if model is None:
            return f"unknown key '{name}'; remove it or check its spelling", None
        found = self._below(name, here, model, data, doc) or self._above(name, here, data, doc)
        if found:
            return found
        keys = [k for k in model.model_fields if k != name]
        close = difflib.get_close_matches(name, keys, n=1)
        if close:
            # A misspelt key that is missing is one mistake: the "missing" message would repeat it.
            return f"unknown key '{name}'; did you mean '{close[0]}'?", (*here, close[0])
        noun = self.noun(here, data)
        whose = a_or_an(noun) if not noun.startswith("`") else noun
        return f"unknown key '{name}'; remove it or check its spelling ({whose} has {', '.join(keys)})", None

    def _below(
        self, name: str, here: Loc, model: type[BaseModel], data: Any, doc: Document
    ) -> tuple[str, Loc] | None:
        """`name` is a key of a mapping inside this one: it is indented too little."""
        mapping = _get(data, here)
        if not isinstance(mapping, dict):
            return None
        line = doc.line((*here, name)) or 0
        for child, models, is_list in _children(model):
            value = mapping.get(child)
            if is_list and isinstance(value, list):
                # The item above the key in the file: the one it was meant to be part of.
                above = [j for j in range(len(value)) if (doc.line((*here, child, j)) or 0) < line]
                target: Loc = (*here, child, above[-1]) if above else ()
                if not above or not self._lacks(target, data, name):
                    continue
                where = f"belongs to the {self.noun(target, data)} that starts on line {doc.line(target)}"
            elif not is_list and any(name in m.model_fields for m in models):
                target = (*here, child)
                if value is None:
                    return (
                        f"`{name}` belongs under `{child}:`, which is not there: add a line `{child}:` "
                        f"and put `{name}:` under it, indented two more spaces"
                    ), (*target, name)
                if not self._lacks(target, data, name):
                    continue
                where = f"belongs under `{child}:` (line {doc.key_line((*here, child))})"
            else:
                continue
            follows = list(mapping).index(name) == list(mapping).index(child) + 1
            return self._move_in(name, where, target, here, follows, doc), (*target, name)
        return None

    def _move_in(self, name: str, where: str, target: Loc, here: Loc, follows: bool, doc: Document) -> str:
        if doc.is_flow(target):
            return f"`{name}` {where}: write it inside the {{ … }} on line {doc.line(target)}"
        column = doc.column((*here, name))
        target_col = doc.key_column(target)
        target_col = column + 2 if target_col is None else target_col
        first = next(
            (str(k[-1]) for k, (_, c) in doc.keys.items() if k[:-1] == target and c == target_col), None
        )
        along = f", to line up with `{first}:`" if first else ""
        if not follows:
            return f"`{name}` {where}: move it there{along}"
        return f"`{name}` {where}: {move(target_col - column, target_col)}{along}"

    def _above(self, name: str, here: Loc, data: Any, doc: Document) -> tuple[str, Loc] | None:
        """`name` is a key of the mapping that holds this one: it is indented too far."""
        if not here:
            return None
        up = here[:-2] if isinstance(here[-1], int) else here[:-1]
        if not self._lacks(up, data, name):
            return None
        outer = str(here[-2] if isinstance(here[-1], int) else here[-1])  # this mapping's key in `up`
        noun = self.noun(here, data)
        what = f"is not a key of {noun if noun.startswith('`') else a_or_an(noun)}"
        if not up:
            where = f"it is a key of the {self.nouns[self.root]} as a whole"
        elif isinstance(up[-1], int):
            where = f"it belongs to the {self.noun(up, data)} that starts on line {doc.line(up)}"
        else:
            where = f"it belongs under `{up[-1]}:` (line {doc.key_line(up)})"
        inner, holder = _get(data, here), _get(data, here[:-1])
        last = isinstance(inner, dict) and list(inner)[-1] == name
        if isinstance(here[-1], int):
            last = last and isinstance(holder, list) and here[-1] == len(holder) - 1
        if not last:
            return f"`{name}` {what}; {where}: move it out of `{outer}:`, lined up with `{outer}:`", (
                *up,
                name,
            )
        target_col = doc.key_column(up) or 0
        how = move(target_col - doc.column((*here, name)), target_col)
        joiner = ", like " if how.startswith("start") else ", to line up with "
        return f"`{name}` {what}; {where}: {how}{joiner}`{outer}:`", (*up, name)

    def _lacks(self, loc: Loc, data: Any, name: str) -> bool:
        """The mapping at `loc` takes a key `name` and has none yet."""
        model = self.model_at(loc, data)
        mapping = _get(data, loc)
        return (
            model is not None
            and name in model.model_fields
            and isinstance(mapping, dict)
            and name not in mapping
        )


def _choose(models: list[type[BaseModel]], here: Any) -> type[BaseModel] | None:
    if len(models) == 1:
        return models[0]
    kind = here.get("type") if isinstance(here, dict) else None
    return next((m for m in models if _tag(m) == kind), None)


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data
