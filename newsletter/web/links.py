"""Where the unsubscribe endpoint answers and where the token stands in its links, read from the
NEWSLETTER_UNSUBSCRIBE_URL template the messages were sent with.

The path is whatever the organisation chose (`https://nieuws.example.org/uitschrijven?token={token}`
answers at `/uitschrijven`). The token, and the address for a template with `{email}`, stand either
as the whole value of a query parameter (`?token={token}&email={email}`) or as a segment of the
path (`/u/{token}`). The suppressions a sender pulls are at the path's fixed part + `/suppressions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from newsletter.errors import ConfigError

PLACES = ("token", "email")
PULL = "suppressions"
_PLACEHOLDER = re.compile(r"\{(token|email)\}")


@dataclass(frozen=True)
class Link:
    """What one request's path and query carry: the token, and the address if the links have it."""

    token: str
    email: str | None


@dataclass(frozen=True)
class LinkShape:
    path: str  # as the template writes it, e.g. /uitschrijven or /u/{token}
    pattern: re.Pattern[str]
    pull_path: str
    query_names: dict[str, str]  # "token" / "email" → the query parameter that carries it

    @classmethod
    def of(cls, template: str) -> LinkShape:
        """The shape of the links made from `template`; ConfigError if the token has no place."""
        parts = urlsplit(template)
        path = unquote(parts.path) or "/"
        names = {value[1:-1]: key for key, value in parse_qsl(parts.query) if value in ("{token}", "{email}")}
        in_path = set(_PLACEHOLDER.findall(path))
        if "token" not in in_path and "token" not in names:
            raise ConfigError(
                "NEWSLETTER_UNSUBSCRIBE_URL: the endpoint reads the token from a query parameter of its own "
                "(…/uitschrijven?token={token}) or from a part of the path (…/u/{token}); write it so"
            )
        regex = "".join(
            f"(?P<{piece[1:-1]}>[^/]+)" if _PLACEHOLDER.fullmatch(piece) else re.escape(piece)
            for piece in re.split(r"(\{token\}|\{email\})", path)
            if piece
        )
        fixed = _PLACEHOLDER.split(path)[0] if in_path else path
        pull = f"{fixed.rstrip('/')}/{PULL}"
        return cls(path, re.compile(regex), pull, names)

    def read(self, path: str, query: dict[str, list[str]]) -> Link | None:
        """The token (and address) in a request to `path` with `query`; None if the path is not ours.

        A missing token reads as an empty one: a link that cannot be used, answered as such.
        """
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        values = {name: found.groupdict().get(name) for name in PLACES}
        for name, key in self.query_names.items():
            given = query.get(key)
            values[name] = given[0] if given else None
        return Link(token=values["token"] or "", email=values["email"])
