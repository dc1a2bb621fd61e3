"""What a mail in the bounce mailbox is, from its bytes alone: each mail of the corpus (tests/mail/),
and the refusals, replies and broken mail that a corpus file per case would only repeat."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mail_corpus import UNSUBSCRIBE_MAILTO, corpus_names, mail, message_id

from newsletter.feedback.blame import enhanced_code, judge, tidy
from newsletter.feedback.classify import Finding, classify


def _classify(data: bytes) -> Finding:
    return classify(data, unsubscribe_mailto=UNSUBSCRIBE_MAILTO)


# name: (kind, [(recipient, status, permanent, blamed)], the reader it names)
CORPUS: dict[str, tuple[str, list[tuple[str, str, bool, str]], str]] = {
    "postfix-user-unknown": ("bounce", [("an.peeters@example.com", "5.1.1", True, "address")], ""),
    "exchange-online-recipient-not-found": (
        "bounce",
        [("bram.janssens@example.com", "5.1.10", True, "address")],
        "",
    ),
    "gmail-no-such-user": ("bounce", [("chris.maes@example.com", "5.1.1", True, "address")], ""),
    "mailbox-full-delayed": ("bounce", [("dirk.wouters@example.com", "4.2.2", False, "address")], ""),
    "outlook-sender-not-authenticated": (
        "bounce",
        [("els.claes@example.com", "5.7.515", True, "sender")],
        "",
    ),
    "sendmail-spam-content": ("bounce", [("frank.jacobs@example.com", "5.7.1", True, "sender")], ""),
    "postfix-blocklisted": ("bounce", [("sofie.aerts@example.com", "5.7.1", True, "sender")], ""),
    "qmail-no-mailbox": ("bounce", [("nina.hermans@example.com", "5.1.1", True, "address")], ""),
    "dsn-other-mailing": ("bounce", [("marc.dupont@example.com", "5.1.1", True, "address")], ""),
    "dsn-two-recipients": (
        "bounce",
        [
            ("olaf.smet@example.com", "5.1.1", True, "address"),
            ("pieter.vos@example.com", "4.4.7", False, "address"),
        ],
        "",
    ),
    "verp-forwarded": ("bounce", [("rita@mail.example.com", "5.1.1", True, "address")], ""),
    "arf-complaint-yahoo": ("complaint", [], "redacted@example.com"),
    "arf-complaint-aol": ("complaint", [], "kim.peeters@example.com"),
    "mailto-unsubscribe-gmail": ("unsubscribe", [], "karin.dubois@example.com"),
    "mailto-unsubscribe-nl": ("unsubscribe", [], "Luc.Lambert@example.com"),
    "out-of-office-nl": ("auto_reply", [], ""),
    "out-of-office-en": ("auto_reply", [], ""),
    "challenge-response": ("challenge", [], ""),
}


def test_the_table_covers_the_whole_corpus() -> None:
    assert sorted(CORPUS) == corpus_names()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_mail_of_the_corpus_is_what_it_looks_like(name: str) -> None:
    kind, failures, reader = CORPUS[name]
    finding = _classify(mail(name))
    assert finding.kind == kind, finding.detail
    assert [(f.recipient, f.status, f.permanent, f.blamed) for f in finding.failures] == failures
    assert finding.reader == reader


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("postfix-user-unknown", "an.peeters@example.com"),  # text/rfc822-headers
        ("exchange-online-recipient-not-found", "bram.janssens@example.com"),  # message/rfc822
        ("gmail-no-such-user", "chris.maes@example.com"),
        ("qmail-no-mailbox", "nina.hermans@example.com"),  # quoted in the text
        ("arf-complaint-yahoo", "jan.wouters@example.com"),  # the address redacted, the id kept
    ],
)
def test_the_returned_message_id_is_the_products(name: str, reader: str) -> None:
    assert _classify(mail(name)).original_message_id == message_id(reader)


def test_a_bounce_keeps_the_servers_words_on_one_line_without_the_repeated_codes() -> None:
    (gmail,) = _classify(mail("gmail-no-such-user")).failures
    assert gmail.words.startswith(
        "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking"
    )
    assert "550-5.1.1" not in gmail.words
    (postfix,) = _classify(mail("postfix-user-unknown")).failures
    assert postfix.words == (
        "550 5.1.1 <an.peeters@example.com>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    (qmail,) = _classify(mail("qmail-no-mailbox")).failures
    assert qmail.words == "Sorry, no mailbox here by that name. (#5.1.1)"


def test_the_envelope_recipient_carries_the_verp_tag_and_forwarding_keeps_the_original_recipient() -> None:
    finding = _classify(mail("verp-forwarded"))
    assert finding.original_message_id is None
    assert finding.envelope == ("bounces+4d17702bfc647e7562df6b1ba377a608@example.org",)
    assert finding.failures[0].original_recipient == "rita.segers@example.com"


def test_a_refusal_that_blames_the_sender_says_what_to_fix() -> None:
    (outlook,) = _classify(mail("outlook-sender-not-authenticated")).failures
    assert "does not meet the required authentication level" in outlook.words
    assert "SPF, DKIM and DMARC" in outlook.fix
    (spam,) = _classify(mail("sendmail-spam-content")).failures
    assert "spam filter refused the content" in spam.fix
    (listed,) = _classify(mail("postfix-blocklisted")).failures
    assert "blocklist" in listed.fix
    assert "NEWSLETTER_SMTP_HOST" in listed.fix


@pytest.mark.parametrize(
    ("status", "words", "permanent", "fix"),
    [
        (
            "5.7.26",
            "550-5.7.26 Unauthenticated email from example.org is not accepted due to DMARC policy",
            True,
            "SPF",
        ),
        (
            "5.7.509",
            "550 5.7.509 Access denied, sending domain EXAMPLE.ORG does not pass DMARC verification",
            True,
            "SPF",
        ),
        (
            "5.7.708",
            "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
            True,
            "blocklist",
        ),
        (
            "4.7.650",
            "451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due to IP "
            "reputation.",
            False,
            "blocklist",
        ),
        (
            "4.7.28",
            "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail",
            False,
            "NEWSLETTER_RATE",
        ),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", True, "smaller images"),
        ("5.2.3", "552 5.2.3 Message length exceeds administrative limit", True, "smaller images"),
        ("5.7.1", "554 5.7.1 <x@example.com>: Relay access denied", True, "relaying denied"),
        ("5.7.0", "550 5.7.0 Rejected by policy", True, "own policy"),
        ("5.0.0", "550 5.7.1 Message contains spam or virus", True, "spam filter"),
        (
            "5.1.8",
            "553 5.1.8 <nieuwsbrief@example.org>... Domain of sender address does not exist",
            True,
            "sender address",
        ),
    ],
)
def test_refusals_of_the_sender_are_told_apart_from_dead_addresses(
    status: str, words: str, permanent: bool, fix: str
) -> None:
    judgement = judge(status, words)
    assert (judgement.blamed, judgement.permanent) == ("sender", permanent)
    assert fix in judgement.fix


@pytest.mark.parametrize(
    ("status", "words", "action", "permanent"),
    [
        ("5.1.1", "550 5.1.1 User unknown", "failed", True),
        ("5.1.2", "550 5.1.2 Host unknown: domain does not exist", "failed", True),
        ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled.", "failed", True),
        ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "failed", True),
        # A full mailbox is temporary whatever its class; so is anything delayed.
        ("5.2.2", "552 5.2.2 The email account that you tried to reach is over quota.", "failed", False),
        ("5.1.1", "550 5.1.1 User unknown", "delayed", False),
        ("4.4.7", "451 4.4.1 No answer from host", "failed", False),
        # No status: the reply code says it.
        ("", "550 Requested action not taken: mailbox unavailable", "failed", True),
        ("", "452 Too busy, try later", "failed", False),
        # A policy code with words that blame the address is about the address.
        ("5.7.1", "550 5.7.1 Unknown recipient", "failed", True),
    ],
)
def test_refusals_of_the_address_are_permanent_or_temporary_by_their_code(
    status: str, words: str, action: str, permanent: bool
) -> None:
    judgement = judge(status, words, action=action)
    assert (judgement.blamed, judgement.permanent) == ("address", permanent)


def test_codes_are_not_read_from_ip_addresses_or_version_numbers() -> None:
    assert enhanced_code("host 10.5.1.1 said: try later") == ""
    assert enhanced_code("Postfix 3.5.1.2 here") == ""
    assert enhanced_code("said: 550 5.1.1. User unknown") == "5.1.1"
    assert tidy("smtp;  550-5.7.1 one\n 550-5.7.1 two\n 550 5.7.1 three") == "550 5.7.1 one two three"


def _dsn(fields: str, *, returned: str = "", report: str = "delivery-status") -> bytes:
    parts = [
        "From: MAILER-DAEMON@mail.example.org\nTo: bounces@example.org\nSubject: Undelivered Mail\n"
        "Message-ID: <dsn-1@mail.example.org>\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type={report}; boundary="B"\n\n--B\n'
        "Content-Type: text/plain\n\nSee below.\n--B\n"
        f"Content-Type: message/{report}\n\n{fields}\n"
    ]
    if returned:
        parts.append(f"--B\nContent-Type: text/rfc822-headers\n\n{returned}\n")
    parts.append("--B--\n")
    return "".join(parts).encode()


def test_a_dsn_that_reports_only_deliveries_is_no_bounce() -> None:
    finding = _classify(
        _dsn(
            "Reporting-MTA: dns; mx.example.com\n\n"
            "Final-Recipient: rfc822; a@example.com\nAction: delivered\nStatus: 2.0.0\n"
        )
    )
    assert (finding.kind, finding.failures) == ("unclassified", ())
    assert "Action: delivered" in finding.detail


def test_a_dsn_in_utf8_form_is_read_too() -> None:
    data = _dsn(
        "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: utf-8; zoe@example.com\nAction: failed\n"
        "Status: 5.1.1\n\nFinal-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1\n",
        report="global-delivery-status",
    ).replace(b"report-type=global-delivery-status", b"report-type=delivery-status")
    finding = _classify(data)
    assert [f.recipient for f in finding.failures] == ["zoe@example.com", "b@example.com"]


def test_feedback_reports_that_are_not_complaints_are_left_alone() -> None:
    fields = "Feedback-Type: not-spam\nUser-Agent: Example-FBL/1.0\nVersion: 1\n"
    assert _classify(_dsn(fields, report="feedback-report")).kind == "unclassified"
    fields = (
        "Feedback-Type: abuse\nUser-Agent: Example-FBL/1.0\nVersion: 1\nOriginal-Rcpt-To: <c@example.com>\n"
    )
    finding = _classify(
        _dsn(fields, report="feedback-report", returned="Message-ID: <m@example.org>\nTo: x@example.com")
    )
    assert (finding.kind, finding.reader, finding.original_message_id) == (
        "complaint",
        "c@example.com",
        "<m@example.org>",
    )


def _note(
    subject: str,
    body: str = "",
    *,
    to: str = UNSUBSCRIBE_MAILTO,
    sender: str = "Vera <vera@example.com>",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <n1@example.com>\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    ).encode()


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("unsubscribe", ""),
        ("Uitschrijven", ""),
        ("RE: nieuwsbrief", "Graag afmelden a.u.b."),
        ("Newsletter", "Merci de me désabonner."),
        ("Newsletter", "Bitte abmelden."),
    ],
)
def test_a_request_to_leave_mailed_to_the_unsubscribe_address_names_its_sender(
    subject: str, body: str
) -> None:
    finding = _classify(_note(subject, body))
    assert (finding.kind, finding.reader) == ("unsubscribe", "vera@example.com")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        # Said nothing about leaving: for staff to read.
        (_note("Vraag over het evenement", "Is er nog plaats op 29 januari?"), "unclassified"),
        # "Uitschrijven" only in the newsletter it quotes.
        (
            _note("RE: nieuwsbrief", "Mooi nummer!\n\nVan: POM Limburg\nUitschrijven: https://example.org/u"),
            "unclassified",
        ),
        # To someone else.
        (_note("unsubscribe", to="nieuwsbrief@example.org"), "unclassified"),
        # A machine, not a reader.
        (_note("unsubscribe", sender="MAILER-DAEMON@mail.example.com"), "unclassified"),
        # An out-of-office that quotes the subject.
        (_note("Automatisch antwoord: unsubscribe", extra="Auto-Submitted: auto-replied\n"), "auto_reply"),
    ],
)
def test_mail_to_the_unsubscribe_address_that_asks_nothing_unsubscribes_nobody(
    data: bytes, kind: str
) -> None:
    assert _classify(data).kind == kind


def test_without_an_unsubscribe_address_a_request_is_not_recognised() -> None:
    assert classify(mail("mailto-unsubscribe-gmail")).kind == "unclassified"


@pytest.mark.parametrize(
    ("subject", "extra"),
    [
        ("Afwezig", ""),
        ("Out of Office: Nieuwsbrief januari", ""),
        ("Réponse automatique : Nieuwsbrief", ""),
        ("Re: Nieuwsbrief", "X-Autoreply: yes\n"),
        ("Re: Nieuwsbrief", "Precedence: auto_reply\n"),
    ],
)
def test_automatic_replies_are_known_by_their_headers_or_their_subject(subject: str, extra: str) -> None:
    data = _note(subject, "Ik ben er niet.", to="nieuwsbrief@example.org", extra=extra)
    assert _classify(data).kind == "auto_reply"


def test_a_challenge_is_known_by_its_words_without_a_header() -> None:
    data = _note(
        "Re: Nieuwsbrief",
        "To deliver your mail, please verify you are a human: https://x.example.com",
        to="bounces@example.org",
    )
    assert _classify(data).kind == "challenge"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: \x80\x81\nSubject: =?utf-8?q?broken\nContent-Type: multipart/report; boundary=\n\n--\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\n"
        b"Content-Type: message/delivery-status\n\n\xff\xfe: \x00\n--B--\n",
        b'From: a@example.com\nContent-Type: text/plain; charset="utf\x008"\n\nhello\n',
        b"From: a@example.com\nContent-Type: text/plain; charset=nonsense-42\n\nhello\n",
    ],
)
def test_broken_mail_is_unclassified_never_an_error(data: bytes) -> None:
    assert _classify(data).kind == "unclassified"


def test_a_bounce_that_trips_up_a_detector_is_unclassified_without_a_traceback() -> None:
    # No From header: one of flufl.bounce's detectors raises on it, and logs its traceback. A process
    # of its own, as the mailbox command is: pytest's log capture would hide where the log goes.
    script = (
        "from newsletter.feedback.classify import classify\n"
        "data = b'Subject: failure notice\\nTo: bounces@example.org\\n\\n'\n"
        "data += b'Hi. This is the qmail-send program.\\n'\n"
        "print(classify(data).kind)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert (done.stdout, done.stderr) == ("unclassified\n", "")


# Megabyte-sized headers, markup and report fields. Each is read in well under a second; the stdlib's
# header parser, and regular expressions that can match one text in several ways, would take minutes
# (so a slow run here means that came back).
N = 200_000
HOSTILE = {
    "long From": b"From: " + b"a@" * N + b"\nTo: afmelden@example.org\nSubject: unsubscribe\n\nx\n",
    "long Subject": b"From: a@example.com\nSubject: " + b"out of " * N + b"\n\nbody\n",
    "folded header": b"From: a@example.com\nSubject: x\n" + b" y\n" * N + b"\nbody\n",
    "unclosed Message-ID": b"Message-ID: <" + b"a" * N + b"\nFrom: x@example.com\n\n" + b"<a" * N + b"\n",
    "unclosed markup": b"From: a@example.com\nContent-Type: text/html\n\n" + b"<" * N + b"\n",
    "blank report lines": (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\n"
        b"Content-Type: message/global-delivery-status\n\nReporting-MTA: dns; x\n\n"
        + b"\n \n" * N
        + b"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; "
        + b"550-5.1.1 " * 20_000
        + b"\n--B--\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sizes_are_read_without_getting_stuck(name: str) -> None:
    finding = _classify(HOSTILE[name])
    assert finding.kind == ("bounce" if name == "blank report lines" else "unclassified")
    assert all(len(f.words) <= 500 for f in finding.failures)


def _mail_to_unsubscribe_address(subject: str, body: str) -> bytes:
    return (
        "From: Carla Lid <carla.lid@example.com>\r\nTo: afmelden@example.org\r\n"
        f"Subject: {subject}\r\nMessage-ID: <q1@mail.example.com>\r\n\r\n{body}\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Vraag over het artikel", "Ik wil me NIET uitschrijven, maar heb een vraag over het artikel."),
        ("Re: nieuwsbrief", "Please don't unsubscribe me, I changed jobs but want to keep reading."),
        (
            "Verhuis",
            "Beste, ik verhuis naar Genk en wil graag weten of de nieuwsbrief ook daar verschijnt. "
            "Vorig jaar wilde een collega zich uitschrijven, maar dat lukte toen niet via de link; "
            "is dat intussen opgelost? En kan ik mijn adres aanpassen zonder me eerst af te melden en "
            "dan opnieuw in te schrijven? Alvast bedankt voor het antwoord en tot op de volgende "
            "bijeenkomst in Hasselt.",
        ),
    ],
)
def test_a_question_mailed_to_the_unsubscribe_address_unsubscribes_nobody(subject: str, body: str) -> None:
    """Readers write to that address about other things too: only a request to leave is acted on."""
    finding = classify(_mail_to_unsubscribe_address(subject, body), unsubscribe_mailto="afmelden@example.org")
    assert finding.kind != "unsubscribe", finding


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("unsubscribe", ""),
        ("Afmelden", "Graag, ik ben niet meer bij de gemeente."),
        ("Vraag", "Uitschrijven aub."),
    ],
)
def test_a_short_request_mailed_to_the_unsubscribe_address_unsubscribes_its_sender(
    subject: str, body: str
) -> None:
    finding = classify(_mail_to_unsubscribe_address(subject, body), unsubscribe_mailto="afmelden@example.org")
    assert (finding.kind, finding.reader) == ("unsubscribe", "carla.lid@example.com")
