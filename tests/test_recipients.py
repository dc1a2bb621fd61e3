"""The audience CSV as people export it: separators, encodings, header names, bad rows with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import AudienceError
from newsletter.model import Recipient
from newsletter.model.merge import field_key
from newsletter.reading import recipients


def _write(tmp_path: Path, data: bytes, name: str = "leden.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("separator", [";", ","])
def test_semicolon_and_comma_separated_files_read_the_same(tmp_path: Path, separator: str) -> None:
    text = "\r\n".join(
        separator.join(row)
        for row in (
            ("email", "first_name", "name", "gemeente"),
            ("an@example.org", "An", "An Peeters", "Hasselt"),
            ("bert@example.org", "Bert", "Bert Janssens", "Genk"),
        )
    )
    audience = recipients.load(_write(tmp_path, (text + "\r\n").encode()))
    assert audience.recipients == [
        Recipient("an@example.org", "An", "An Peeters", (("gemeente", "Hasselt"),)),
        Recipient("bert@example.org", "Bert", "Bert Janssens", (("gemeente", "Genk"),)),
    ]
    assert audience.skipped == []


def test_utf8_with_bom_finds_the_email_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "email;voornaam\nnoel@example.org;Noël\n".encode("utf-8-sig"))
    audience = recipients.load(path)
    assert [(r.email, r.first_name) for r in audience.recipients] == [("noel@example.org", "Noël")]


def test_windows_1252_file_keeps_its_accents(tmp_path: Path) -> None:
    data = "E-mail;Voornaam;Gemeente\nnoel@example.org;Noël;Sint-Truiden\nzoe@example.org;Zoë;Genk\n"
    path = _write(tmp_path, data.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    audience = recipients.load(path)
    assert [r.first_name for r in audience.recipients] == ["Noël", "Zoë"]


def test_text_in_no_known_encoding_is_refused_naming_the_file(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 and not valid UTF-8.
    path = _write(tmp_path, b"email\nan\x81@example.org\n")
    with pytest.raises(AudienceError, match=r"leden\.csv.*UTF-8"):
        recipients.load(path)


@pytest.mark.parametrize("header", ["email", "Email", "E-mail", "E-MAIL", "e-mailadres", " E-mailadres "])
def test_email_column_header_variants(header: str) -> None:
    audience = recipients.parse(f"{header};naam\nan@example.org;An Peeters\n")
    assert [r.email for r in audience.recipients] == ["an@example.org"]
    assert audience.recipients[0].name == "An Peeters"


def test_missing_email_column_is_an_audience_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, b"adres;naam\nan@example.org;An\n", name="export-crm.csv")
    with pytest.raises(AudienceError) as caught:
        recipients.load(path)
    assert str(path) in str(caught.value)
    assert "email" in str(caught.value)
    assert "adres, naam" in str(caught.value)


def test_empty_file_is_an_audience_error(tmp_path: Path) -> None:
    with pytest.raises(AudienceError, match=r"leden\.csv: empty"):
        recipients.load(_write(tmp_path, b""))


def test_missing_file_is_an_audience_error(tmp_path: Path) -> None:
    with pytest.raises(AudienceError, match="no such recipients file"):
        recipients.load(tmp_path / "nope.csv")


def test_invalid_addresses_are_reported_with_their_line_and_skipped() -> None:
    text = (
        "email;first_name\n"
        "an@example.org;An\n"
        "not-an-address;Bert\n"
        ";Carla\n"
        "dirk@@example.org;Dirk\n"
        "eva@example.org;Eva\n"
    )
    audience = recipients.parse(text, "leden.csv")
    assert [r.email for r in audience.recipients] == ["an@example.org", "eva@example.org"]
    assert [(s.line, s.email) for s in audience.skipped] == [
        (3, "not-an-address"),
        (4, ""),
        (5, "dirk@@example.org"),
    ]
    assert all(s.reason.startswith("not a valid address") for s in audience.skipped)
    assert str(audience.skipped[1]).startswith("line 4: (empty): not a valid address")


def test_duplicates_differing_only_in_case_are_skipped_naming_the_first_line() -> None:
    text = "email\nAn@Example.org\nbert@example.org\nAN@example.ORG\n\nan@example.org\n"
    audience = recipients.parse(text)
    assert [r.email for r in audience.recipients] == ["An@example.org", "bert@example.org"]
    assert [(s.line, s.reason) for s in audience.skipped] == [
        (4, "duplicate of line 2"),
        (6, "duplicate of line 2"),
    ]


def test_domain_is_normalised_but_the_local_part_kept() -> None:
    audience = recipients.parse("email\nJan.Peeters@EXAMPLE.org\n")
    assert audience.recipients[0].email == "Jan.Peeters@example.org"


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_a_line_break_inside_a_quoted_cell_keeps_the_row_and_becomes_one_newline(newline: str) -> None:
    text = (
        "email;first_name;adres\r\n"
        "an@example.org;An;Markt 1\r\n"
        f'bert@example.org;"Bert{newline}Bcc: everyone@example.net";"Kerkstraat 2{newline}3500 Hasselt"\r\n'
        "carla@example.org;Carla;Dorp 3\r\n"
    )
    audience = recipients.parse(text)
    assert audience.skipped == []
    an, bert, carla = audience.recipients
    assert bert.first_name == "Bert\nBcc: everyone@example.net"
    assert bert.fields == (("adres", "Kerkstraat 2\n3500 Hasselt"),)
    assert (an.email, carla.email) == ("an@example.org", "carla@example.org")


def test_excel_alt_enter_in_a_notes_and_a_name_column_keeps_every_row(tmp_path: Path) -> None:
    # What Excel writes for "CSV UTF-8": a BOM, CRLF between rows, LF (Alt+Enter) inside a cell.
    data = (
        "E-mail;Voornaam;Naam;Notities\r\n"
        'an@example.org;An;"An\nPeeters";"Belt liever\nniet voor 10 uur"\r\n'
        "bert@example.org;Bert;Bert Janssens;\r\n"
    ).encode("utf-8-sig")
    audience = recipients.load(_write(tmp_path, data))
    an, bert = audience.recipients
    assert (an.name, an.fields) == ("An\nPeeters", (("notities", "Belt liever\nniet voor 10 uur"),))
    assert bert.fields == (("notities", ""),)
    assert audience.skipped == []


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_a_line_break_inside_the_address_refuses_that_row_with_its_line(newline: str) -> None:
    text = (
        "email;voornaam\r\n"
        "an@example.org;An\r\n"
        f'"bert@example.org{newline}Bcc: everyone@example.net";Bert\r\n'
        f'"  carla@example.org{newline}";Carla\r\n'
    )
    audience = recipients.parse(text)
    assert [r.email for r in audience.recipients] == ["an@example.org", "carla@example.org"]
    assert [(s.line, s.reason) for s in audience.skipped] == [
        (3, "the address holds a line break; an address is one line")
    ]
    assert audience.skipped[0].email == "bert@example.org Bcc: everyone@example.net"


def test_extra_columns_become_merge_fields() -> None:
    text = (
        "Voornaam,E-mail,Gemeente,Lid sinds,Postcode\n"
        "An,an@example.org,Hasselt,2019,3500\n"
        "Bert,bert@example.org\n"
    )
    audience = recipients.parse(text)
    an, bert = audience.recipients
    assert an.first_name == "An"
    assert an.fields == (("gemeente", "Hasselt"), ("lid_sinds", "2019"), ("postcode", "3500"))
    assert an.merge_data() == {
        "gemeente": "Hasselt",
        "lid_sinds": "2019",
        "postcode": "3500",
        "email": "an@example.org",
        "first_name": "An",
    }
    # A short row gets empty values, not an error.
    assert bert.fields == (("gemeente", ""), ("lid_sinds", ""), ("postcode", ""))
    assert audience.columns == ("Voornaam", "E-mail", "Gemeente", "Lid sinds", "Postcode")


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Voornaam", "first_name"),
        ("VOORNAAM", "first_name"),
        ("Prénom", "first_name"),
        ("First name", "first_name"),
        ("Naam", "name"),
        ("Volledige naam", "name"),
        ("Gemeente", "gemeente"),
        ("Lid sinds", "lid_sinds"),
        ("Région", "region"),
    ],
)
def test_a_column_is_named_as_its_merge_field_is(header: str, field: str) -> None:
    audience = recipients.parse(f"mail;{header}\nan@example.org;Waarde\n")
    assert audience.recipients[0].merge_data()[field] == "Waarde"


@pytest.mark.parametrize("name", ["email", "E-mail", "E-MAILADRES", "Email address", " e_mail "])
def test_every_name_of_the_address_column_is_the_email_field(name: str) -> None:
    assert field_key(name) == "email"


def test_of_two_columns_that_mean_the_same_field_the_first_counts() -> None:
    audience = recipients.parse("email;Voornaam;first_name;Gemeente;GEMEENTE\nan@example.org;An;X;Genk;Y\n")
    (an,) = audience.recipients
    assert an.merge_data() == {"first_name": "An", "gemeente": "Genk", "email": "an@example.org"}


def test_check_address_gives_the_reason() -> None:
    assert recipients.check_address("an@Example.ORG") == "an@example.org"
    with pytest.raises(ValueError, match="@"):
        recipients.check_address("an.example.org")


def test_reading_the_audience_again_gives_what_the_check_accepted() -> None:
    text = (
        "email;voornaam\n"
        "Jan@Example.ORG;Jan\n"
        "an@bücher.example;An\n"
        "JAN@example.org;Dubbel\n"
        "kapot;X\n"
        "zoë@Bücher.example;Zoë\n"
        "eva@EXAMPLE.com;Eva\n"
    )
    audience = recipients.parse(text, "leden.csv")
    typed = ("Jan@Example.ORG", "an@bücher.example", "zoë@Bücher.example", "eva@EXAMPLE.com")
    assert [r.email for r in audience] == [recipients.check_address(a) for a in typed]
    assert audience.count == 4
    assert audience.first is not None
    assert audience.first.email == "Jan@example.org"
    assert [s.line for s in audience.skipped] == [4, 5]
    # Iterating twice reads the same people: the send streams them, the summary counts them.
    assert list(audience) == audience.recipients


def test_check_address_trims_and_gives_international_domains_in_punycode() -> None:
    assert recipients.check_address(" Spaced@Example.org \t") == "Spaced@example.org"
    punycode = "lezer@xn--bcher-kva.example"
    assert recipients.check_address("lezer@bücher.example") == punycode
    assert recipients.check_address("lezer@XN--BCHER-KVA.example") == punycode


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("zoë@example.org", "zoë@example.org"),
        ("zoe\u0308@example.org", "zoë@example.org"),  # the same name typed with a combining accent
        (" Zoë@Bücher.example ", "Zoë@xn--bcher-kva.example"),
        ("jan@bücher.example", "jan@xn--bcher-kva.example"),
    ],
)
def test_international_addresses_are_accepted_with_the_domain_in_punycode(typed: str, kept: str) -> None:
    assert recipients.check_address(typed) == kept
    audience = recipients.parse(f"email\n{typed}\n")
    assert [r.email for r in audience] == [kept]


def test_an_international_local_part_is_refused_where_asked_for_ascii() -> None:
    with pytest.raises(ValueError, match="before the @-sign"):
        recipients.check_address("zoë@example.org", international=False)
