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
    """The usable recipients of a file, and every row that was skipped with the reason."""

    source: str
    recipients: list[Recipient] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    columns: tuple[str, ...] = ()


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
    """The normalised address (domain lower-cased, IDN encoded), or ValueError with the reason."""
    try:
        result = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as e:
        raise ValueError(str(e)) from None
    return str(result.ascii_email or result.normalized)


def parse(text: str, source: str = "<recipients>") -> Audience:
    """Read a recipients CSV's text."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise AudienceError(f"{source}: empty; the first line names the columns, e.g. email;first_name")
    first = lines[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    names = [h.strip().lower() for h in header]
    email_at = next((i for i, h in enumerate(names) if h in EMAIL_COLUMNS), None)
    if email_at is None:
        raise AudienceError(
            f"{source}:1: no email column; name one of the columns 'email' (found: {', '.join(header)})"
        )
    first_at = next((i for i, h in enumerate(names) if h in FIRST_NAME_COLUMNS), None)
    name_at = next((i for i, h in enumerate(names) if h in NAME_COLUMNS), None)
    extra = [(i, _field_name(h)) for i, h in enumerate(header) if i not in (email_at, first_at, name_at)]
    audience = Audience(source=source, columns=tuple(_field_name(h) for h in header))
    seen: dict[str, int] = {}
    end = reader.line_num
    for row in reader:
        # A quoted field may span lines: report the line the row starts on, where an editor shows it.
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = [*row, *([""] * (len(header) - len(row)))]
        raw_email = cells[email_at].strip()
        if any("\r" in c or "\n" in c for c in cells):
            audience.skipped.append(Skipped(line, raw_email, "a field holds a line break"))
            continue
        try:
            address = check_address(raw_email)
        except ValueError as e:
            audience.skipped.append(Skipped(line, raw_email, f"not a valid address: {e}"))
            continue
        key = address.lower()
        if key in seen:
            audience.skipped.append(Skipped(line, raw_email, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = line
        audience.recipients.append(
            Recipient(
                email=address,
                first_name=cells[first_at].strip() if first_at is not None else "",
                name=cells[name_at].strip() if name_at is not None else "",
                fields=tuple((name, cells[i].strip()) for i, name in extra if name),
            )
        )
    return audience


def load(path: Path) -> Audience:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AudienceError(f"{path}: no such recipients file") from None
    except OSError as e:
        raise AudienceError(f"{path}: cannot read it: {e.strerror}") from None
    return parse(_decode(raw, str(path)), str(path))
