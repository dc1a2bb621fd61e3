"""The audience: a CSV as people export it from Excel or a CRM, read into validated recipients.

Accepted: UTF-8 with or without BOM, or Windows-1252; `;` or `,` between fields; an email column named
email, e-mail, e-mailadres (any case); optional first_name / name columns; every other column becomes a
merge field. A row that cannot be used is reported with its line number and skipped, never dropped
silently.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import AudienceError
from newsletter.model import Recipient

EMAIL_COLUMNS = {"email", "e-mail", "e-mailadres", "emailadres", "email address", "mail", "courriel"}
FIRST_NAME_COLUMNS = {"first_name", "firstname", "first name", "voornaam", "prénom", "prenom", "vorname"}
NAME_COLUMNS = {"name", "naam", "full_name", "full name", "nom", "volledige naam"}


@dataclass(frozen=True)
class Skipped:
    line: int
    email: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.email or '(empty)'}: {self.reason}"


@dataclass
class Audience:
    """The usable recipients of a file, and every row that was skipped with the reason.

    The recipients are read again from the file's text each time they are iterated, not kept as
    objects: a send streams them into the ledger, so memory does not grow with the audience.
    """

    source: str
    columns: tuple[str, ...]
    count: int
    skipped: list[Skipped]
    first: Recipient | None
    _text: str = field(repr=False)

    def __iter__(self) -> Iterator[Recipient]:
        for _, item in self._usable():
            yield item

    def refuse(self, problem: Callable[[Recipient], str | None]) -> None:
        """Skip, with its line and the reason, every usable row for which `problem` gives one."""
        found = [
            Skipped(line, item.email, reason)
            for line, item in self._usable()
            if (reason := problem(item)) is not None
        ]
        if not found:
            return
        self.skipped = sorted([*self.skipped, *found], key=lambda s: s.line)
        self.count -= len(found)
        self.first = next(iter(self), None)

    def _usable(self) -> Iterator[tuple[int, Recipient]]:
        skip = {s.line for s in self.skipped}
        for line, item in _rows(self._text, self.source, fast=True):
            if line not in skip and isinstance(item, Recipient):
                yield line, item

    @property
    def recipients(self) -> list[Recipient]:
        """Every usable recipient, in file order (a list: for small audiences and tests)."""
        return list(self)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # What Excel on Windows writes with "CSV (separated by ;)".
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise AudienceError(f"{source}: neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8") from None


def _field_name(header: str) -> str:
    return re.sub(r"[^0-9a-z_]+", "_", header.strip().lower()).strip("_")


def check_address(address: str) -> str:
    """The normalised address (trimmed, domain lower-cased, IDN in punycode), or ValueError with the
    reason. The one normalisation of addresses: the audience, the suppression list and --test."""
    try:
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None
    return str(result.ascii_email or result.normalized)


@dataclass(frozen=True)
class _Layout:
    delimiter: str
    header: list[str]
    email_at: int
    first_at: int | None
    name_at: int | None
    extra: list[tuple[int, str]]


def _columns(text: str, source: str) -> _Layout:
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise AudienceError(f"{source}: empty; the first line names the columns, e.g. email;first_name")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader(io.StringIO(first, newline=""), delimiter=delimiter))
    names = [h.strip().lower() for h in header]
    email_at = next((i for i, h in enumerate(names) if h in EMAIL_COLUMNS), None)
    if email_at is None:
        raise AudienceError(
            f"{source}:1: no email column; name one of the columns 'email' (found: {', '.join(header)})"
        )
    first_at = next((i for i, h in enumerate(names) if h in FIRST_NAME_COLUMNS), None)
    name_at = next((i for i, h in enumerate(names) if h in NAME_COLUMNS), None)
    extra = [(i, _field_name(h)) for i, h in enumerate(header) if i not in (email_at, first_at, name_at)]
    return _Layout(delimiter, header, email_at, first_at, name_at, extra)


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time.

    io.StringIO would hold a second copy of the whole file at four bytes a character.
    """
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _fast_address(raw: str) -> str:
    """What check_address gives for an ASCII address it accepted before: the domain lower-cased."""
    if raw.isascii():
        local, _, domain = raw.rpartition("@")
        return f"{local}@{domain.lower()}"
    return check_address(raw)


def _rows(text: str, source: str, *, fast: bool) -> Iterator[tuple[int, Recipient | Skipped]]:
    """Each data row as (line, Recipient) or (line, Skipped); `fast` for rows checked before."""
    layout = _columns(text, source)
    reader = csv.reader(_lines(text), delimiter=layout.delimiter)
    next(reader)
    width = len(layout.header)
    end = reader.line_num
    for row in reader:
        # A quoted field may span lines: report the line the row starts on, where an editor shows it.
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = [*row, *([""] * (width - len(row)))]
        raw_email = cells[layout.email_at].strip()
        if any("\r" in c or "\n" in c for c in cells):
            yield line, Skipped(line, raw_email, "a field holds a line break")
            continue
        try:
            address = _fast_address(raw_email) if fast else check_address(raw_email)
        except ValueError as e:
            yield line, Skipped(line, raw_email, f"not a valid address: {e}")
            continue
        yield (
            line,
            Recipient(
                email=address,
                first_name=cells[layout.first_at].strip() if layout.first_at is not None else "",
                name=cells[layout.name_at].strip() if layout.name_at is not None else "",
                fields=tuple((name, cells[i].strip()) for i, name in layout.extra if name),
            ),
        )


def parse(text: str, source: str = "<recipients>") -> Audience:
    """Read and check a recipients CSV's text: count the usable rows and note every skipped one."""
    layout = _columns(text, source)
    skipped: list[Skipped] = []
    # Keyed by the address's hash, not the address: the check keeps no copy of the audience (a false
    # duplicate would need two addresses with the same 64-bit hash in one file).
    seen: dict[int, int] = {}
    count = 0
    first: Recipient | None = None
    for line, item in _rows(text, source, fast=False):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        key = hash(item.email.lower())
        if key in seen:
            skipped.append(Skipped(line, item.email, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = line
        count += 1
        first = first or item
    columns = tuple(_field_name(h) for h in layout.header)
    return Audience(source=source, columns=columns, count=count, skipped=skipped, first=first, _text=text)


def load(path: Path) -> Audience:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AudienceError(f"{path}: no such recipients file") from None
    except OSError as e:
        raise AudienceError(f"{path}: cannot read it: {e.strerror}") from None
    return parse(_decode(raw, str(path)), str(path))
