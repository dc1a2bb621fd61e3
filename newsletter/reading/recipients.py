"""The audience: a CSV as people export it from Excel or a CRM, read into validated recipients.

Accepted: UTF-8 with or without BOM, or Windows-1252; `;` or `,` between fields; an email column named
email, e-mail, e-mailadres (any case); optional first_name / name columns; every other column becomes a
merge field. Column names are read as merge field names are (`merge.field_key`, with its table of
aliases), so a column matches the field a person means by it. A row that cannot be used is reported
with its line number and skipped, never dropped silently.

Addresses may be international (`zoë@example.org`, `jan@bücher.example`): the domain is kept in its
`xn--` form, the part before the @ as written (such a message needs a server with SMTPUTF8). A cell
may hold a line break (Excel's Alt+Enter): it is kept, as "\n", but in the address cell, where it is
refused: an address is one line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import AudienceError
from newsletter.model import Recipient
from newsletter.model.merge import ALIASES, field_key


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
    columns: tuple[str, ...]  # the header as the file writes it, for messages; `field_key` to match
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


def check_address(address: str, *, international: bool = True) -> str:
    """The normalised address (trimmed, domain lower-cased, IDN in punycode), or ValueError with the
    reason. The one normalisation of addresses: the audience, the suppression list and --test.

    An international local part (`zoë@…`) is kept in Unicode (NFC), unless `international` is False:
    for the sender's own addresses, which every message would then need SMTPUTF8 for.
    """
    try:
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=international)
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None
    if result.ascii_email:
        return str(result.ascii_email)
    # The domain as the suppression list and the ledger key it, whichever form was typed.
    return f"{result.local_part}@{result.ascii_domain}"


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
    keys = [field_key(h) for h in header]
    email_at = next((i for i, k in enumerate(keys) if k == "email"), None)
    if email_at is None:
        raise AudienceError(
            f"{source}:1: no email column; name one of the columns 'email' (found: {', '.join(header)})"
        )
    first_at = next((i for i, k in enumerate(keys) if k == "first_name"), None)
    name_at = next((i for i, k in enumerate(keys) if k == "name"), None)
    # One column per field: of two that mean the same ("Gemeente" and "gemeente"), the first counts.
    taken = set(ALIASES)
    extra = []
    for i, key in enumerate(keys):
        if key and key not in taken:
            taken.add(key)
            extra.append((i, key))
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
        if "\n" in raw_email or "\r" in raw_email:
            shown = " ".join(raw_email.split())
            yield line, Skipped(line, shown, "the address holds a line break; an address is one line")
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
                first_name=_cell(cells, layout.first_at),
                name=_cell(cells, layout.name_at),
                fields=tuple((name, _cell(cells, i)) for i, name in layout.extra),
            ),
        )


def _cell(cells: list[str], at: int | None) -> str:
    """A cell's value, trimmed; a line break in it (Excel writes LF, others CRLF) as "\n"."""
    if at is None:
        return ""
    value = cells[at].strip()
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


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
        key = hash(item.key)
        if key in seen:
            skipped.append(Skipped(line, item.email, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = line
        count += 1
        first = first or item
    columns = tuple(h.strip() for h in layout.header)
    return Audience(source=source, columns=columns, count=count, skipped=skipped, first=first, _text=text)


def load(path: Path) -> Audience:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AudienceError(f"{path}: no such recipients file") from None
    except OSError as e:
        raise AudienceError(f"{path}: cannot read it: {e.strerror}") from None
    return parse(_decode(raw, str(path)), str(path))
