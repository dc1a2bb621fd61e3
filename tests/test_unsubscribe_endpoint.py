"""`newsletter serve` as a subprocess on 127.0.0.1, driven over HTTP with the links of messages really
sent: the scanner-safe page, RFC 8058's one-click POST in the bodies mail clients send, links that do
not verify, replays, and the suppressions a sender pulls.

The module's endpoint serves one project whose sample issue went to 200 readers (`endpoint_server`);
each test unsubscribes readers of its own.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup, Tag
from endpoint_server import LIST_ID, PATH, SECRET, Answer, Endpoint, fetch

from newsletter.composing.tokens import pull_credential, unsubscribe_token
from newsletter.ledger import Ledger
from newsletter.ledger.feedback import Feedback
from newsletter.ledger.suppressions import Suppression
from newsletter.web.unsubscribe_words import ONE_CLICK_ANSWER

if TYPE_CHECKING:
    from endpoint_server import Sent

pytest_plugins = ["smtp_server", "endpoint_server"]

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def recorded(db: Path) -> tuple[list[Suppression], list[Feedback]]:
    """The suppression list and the feedback the ledger holds now."""
    with Ledger(db) as ledger:
        return ledger.suppressions(), ledger.feedback()


def suppression(db: Path, email: str) -> Suppression | None:
    return next((s for s in recorded(db)[0] if s.email == email), None)


def page(answer: Answer) -> BeautifulSoup:
    assert answer.status == 200
    assert answer.header("Content-Type") == "text/html; charset=utf-8"
    return BeautifulSoup(answer.text, "html.parser")


def skeleton(answer: Answer) -> tuple[object, ...]:
    """What every page has, whatever it says: its language, landmarks, one heading, and the headers."""
    soup = page(answer)
    card = soup.select_one("body > div.card")
    assert isinstance(card, Tag)
    landmarks = [child.name for child in card.find_all(recursive=False)]
    names = sorted(
        k for k in answer.headers if k not in ("Date", "Content-Length", "Content-Security-Policy")
    )
    return soup.html["lang"], landmarks, len(soup.find_all("h1")), names  # type: ignore[index]


def heading(answer: Answer) -> str:
    h1 = page(answer).h1
    assert h1 is not None
    return h1.get_text()


def without_nonce(answer: Answer) -> str:
    policy = answer.header("Content-Security-Policy") or ""
    nonce = policy.split("'nonce-")[1].split("'")[0]
    return answer.text.replace(nonce, "")


def test_serve_says_where_it_listens_and_what_it_answers(served: Endpoint) -> None:
    out = served.output()
    assert f"http://127.0.0.1:{served.port}{PATH}" in out
    assert f"{PATH}/suppressions" in out
    assert LIST_ID in out
    assert SECRET not in out


def test_the_page_asks_in_the_issues_language_with_the_address_masked_and_one_button(
    sent: Sent, served: Endpoint
) -> None:
    email = "lid007@example.org"
    answer = served.get(sent.tokens[email])
    soup = page(answer)
    assert soup.html is not None
    assert soup.html["lang"] == "nl"
    assert soup.title is not None
    assert soup.title.get_text() == "Uitschrijven \u2013 Nieuwsbrief POM Limburg"
    text = soup.get_text(" ")
    assert "l•••@example.org" in text
    assert email not in answer.text
    assert "Nieuwsbrief POM Limburg" in text
    (form,) = soup.find_all("form")
    assert form["method"] == "post"
    assert form["action"] == f"?token={sent.tokens[email]}"
    (button,) = form.find_all("button")
    assert (button["type"], button.get_text()) == ("submit", "Ja, schrijf mij uit")
    # The layout's colours: pom-limburg's deep blue band and button.
    style = soup.style.get_text() if soup.style else ""
    assert "background: #0b4f6c" in style
    # Nothing from elsewhere: no script, no link to a style sheet, no image but inline ones.
    assert not soup.find_all(["script", "link", "iframe"])
    assert all(img["src"].startswith("data:") for img in soup.find_all("img"))
    for name, value in SECURITY_HEADERS.items():
        assert answer.header(name) == value
    policy = answer.header("Content-Security-Policy") or ""
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.header("Set-Cookie") is None


def test_neither_get_nor_head_unsubscribes_anyone(sent: Sent, served: Endpoint) -> None:
    before = recorded(sent.db)
    for email in READERS_ONLY_LOOKED_AT:
        got = served.get(sent.tokens[email])
        head = served.get(sent.tokens[email], method="HEAD")
        assert (got.status, head.status) == (200, 200)
        assert head.body == b""
        assert head.header("Content-Length") == str(len(got.body))
        assert head.header("Content-Type") == got.header("Content-Type")
    assert recorded(sent.db) == before


READERS_ONLY_LOOKED_AT = [f"lid{i:03d}@example.org" for i in range(10, 20)]

BODIES = {
    "form": (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
    "form-utf8": (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded; charset=utf-8"),
    "empty": (None, None),
    "multipart": (
        b'--b0undary\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n'
        b"--b0undary--\r\n",
        "multipart/form-data; boundary=b0undary",
    ),
    "text": (b"List-Unsubscribe=One-Click", "text/plain"),
    "json": (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
}


@pytest.mark.parametrize("kind", list(BODIES))
def test_a_one_click_post_unsubscribes_whatever_body_the_mail_client_sends(
    sent: Sent, served: Endpoint, kind: str
) -> None:
    email = f"lid{30 + list(BODIES).index(kind):03d}@example.org"
    body, content_type = BODIES[kind]
    answer = served.one_click(sent.tokens[email], body, content_type)
    assert (answer.status, answer.text) == (200, ONE_CLICK_ANSWER)
    assert answer.header("Set-Cookie") is None
    assert answer.header("Location") is None
    found = suppression(sent.db, email)
    assert found is not None
    assert (found.reason, found.source, found.issue) == ("unsubscribed", "one-click", "2026-01")
    events = [f for f in recorded(sent.db)[1] if f.email == email]
    assert [(f.kind, f.source, f.issue) for f in events] == [("unsubscribed", "one-click", "2026-01")]


def test_a_chunked_one_click_post_unsubscribes_too(sent: Sent, served: Endpoint) -> None:
    email = "lid040@example.org"
    # urllib sends a body it cannot measure with Transfer-Encoding: chunked.
    answer = fetch(served.url(sent.tokens[email]), "POST", iter([b"List-Unsubscribe=", b"One-Click"]))  # type: ignore[arg-type]
    assert (answer.status, answer.text) == (200, ONE_CLICK_ANSWER)
    assert suppression(sent.db, email) is not None


def test_a_replayed_one_click_and_a_later_press_of_the_page_change_nothing(
    sent: Sent, served: Endpoint
) -> None:
    email, token = "lid041@example.org", sent.tokens["lid041@example.org"]
    assert served.one_click(token).status == 200
    first = recorded(sent.db)
    again = served.one_click(token)
    assert (again.status, again.text) == (200, ONE_CLICK_ANSWER)
    assert heading(served.press(token)) == "Je bent uitgeschreven"
    assert recorded(sent.db) == first
    assert heading(served.get(token)) == "Je bent al uitgeschreven"
    assert len([f for f in first[1] if f.email == email]) == 1


def test_the_pages_button_unsubscribes_and_confirms(sent: Sent, served: Endpoint) -> None:
    email = "lid050@example.org"
    token = sent.tokens[email]
    answer = served.press(token)
    soup = page(answer)
    assert heading(answer) == "Je bent uitgeschreven"
    assert "l•••@example.org is uitgeschreven voor Nieuwsbrief POM Limburg" in soup.get_text(" ").replace(
        "  ", " "
    )
    assert not soup.find_all("form")
    assert answer.header("Set-Cookie") is None
    assert answer.header("Location") is None
    found = suppression(sent.db, email)
    assert found is not None
    assert (found.reason, found.source) == ("unsubscribed", "unsubscribe page")
    # The next visit says so, with no button.
    later = served.get(token)
    assert heading(later) == "Je bent al uitgeschreven"
    assert not page(later).find_all("form")


def _tampered(token: str) -> str:
    payload, mac = token.split(".")
    return f"{payload}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"


def _other_address(token: str) -> str:
    """The token with its address changed and its mac kept."""
    payload, mac = token.split(".")
    text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    changed = base64.urlsafe_b64encode(text.replace("lid060", "lid061").encode()).decode().rstrip("=")
    return f"{changed}.{mac}"


def bad_links(sent: Sent) -> dict[str, str | None]:
    token = sent.tokens["lid060@example.org"]
    return {
        "forged": "Zm9yZ2VkQGV4YW1wbGUub3Jn.AAAAAAAAAAAAAAAAAAAAAA",
        "truncated": token[:-5],
        "tampered mac": _tampered(token),
        "another address": _other_address(token),
        "another list": unsubscribe_token(SECRET, "other-newsletter.example.com", "lid060@example.org"),
        "another secret": unsubscribe_token("not-our-secret", LIST_ID, "lid060@example.org"),
        "old form, nobody's": "A" * 24,
        "empty": "",
        "no token": None,
    }


def test_links_that_do_not_verify_change_nothing_and_answer_as_valid_ones_do(
    sent: Sent, served: Endpoint
) -> None:
    valid = served.get(sent.tokens["lid070@example.org"])
    valid_one_click = served.one_click(sent.tokens["lid071@example.org"])
    before = recorded(sent.db)
    for name, token in bad_links(sent).items():
        got = served.get(token)
        assert skeleton(got) == skeleton(valid), name
        assert heading(got) == "Deze link werkt niet", name
        assert not page(got).find_all("form"), name
        one_click = served.one_click(token or "")
        assert (one_click.status, one_click.body) == (valid_one_click.status, valid_one_click.body), name
        assert sorted(one_click.headers) == sorted(valid_one_click.headers), name
        assert heading(served.press(token or "")) == "Deze link werkt niet", name
    assert recorded(sent.db) == before
    assert "lid060" not in served.output()


def test_a_bad_link_for_a_reader_the_ledger_knows_reads_as_one_for_a_stranger(
    sent: Sent, served: Endpoint
) -> None:
    known = served.get(_tampered(sent.tokens["lid080@example.org"]))
    stranger = served.get(_tampered(unsubscribe_token(SECRET, LIST_ID, "nobody.here@example.com")))
    assert without_nonce(known) == without_nonce(stranger)


def test_a_valid_link_for_an_address_never_sent_to_gets_the_same_page_shape(
    sent: Sent, served: Endpoint
) -> None:
    known = served.get(sent.tokens["lid081@example.org"])
    stranger = served.get(unsubscribe_token(SECRET, LIST_ID, "nobody.here@example.com"))
    assert skeleton(stranger) == skeleton(known)
    assert heading(stranger) == heading(known) == "Uitschrijven"


def test_a_sender_pulls_the_suppressions_with_a_credential_and_is_refused_without(
    sent: Sent, served: Endpoint
) -> None:
    assert served.one_click(sent.tokens["lid090@example.org"]).status == 200
    pull = f"{served.base}{PATH}/suppressions"

    def pulled(since: str, credential: str | None) -> Answer:
        headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
        # `since` is an ISO time with a "+": encoded, as in any query.
        return fetch(f"{pull}?{urlencode({'since': since})}", headers=headers)

    everything = pulled("", pull_credential(SECRET, "", int(time.time())))
    assert everything.status == 200
    assert everything.header("Content-Type") == "application/json"
    data = json.loads(everything.text)
    rows = {row["email"]: row for row in data["suppressions"]}
    assert rows["lid090@example.org"]["reason"] == "unsubscribed"
    assert rows["lid090@example.org"]["source"] == "one-click"
    assert rows["lid090@example.org"]["issue"] == "2026-01"
    assert data["until"] == max(row["added_at"] for row in data["suppressions"])
    # `since` is inclusive: from `until` on, the last row comes again and nothing older.
    until = data["until"]
    later = json.loads(pulled(until, pull_credential(SECRET, until, int(time.time()))).text)
    assert [row["added_at"] for row in later["suppressions"]] == [until]
    refused = {
        "no credential": None,
        "another secret": pull_credential("not-our-secret", "", int(time.time())),
        "expired": pull_credential(SECRET, "", int(time.time()) - 3600),
        "for another since": pull_credential(SECRET, "2026-01-01", int(time.time())),
        "garbage": "not.a.credential",
    }
    for name, credential in refused.items():
        answer = pulled("", credential)
        assert answer.status == 401, name
        assert set(json.loads(answer.text)) == {"error"}, name


def test_other_paths_are_404_other_methods_405_and_large_bodies_refused(sent: Sent, served: Endpoint) -> None:
    token = sent.tokens["lid095@example.org"]
    for path in ("/", "/uitschrijven/", "/uitschrijvenx", "/uitschrijven/elders", "/favicon.ico"):
        answer = fetch(f"{served.base}{path}?token={token}")
        assert (answer.status, answer.header("Content-Type")) == (404, "text/plain; charset=utf-8"), path
        assert len(answer.body) < 100
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        answer = fetch(served.url(token), method)
        assert answer.status == 405, method
        assert answer.header("Allow") == "GET, HEAD, POST"
    assert fetch(f"{served.base}{PATH}/suppressions", "POST", b"").status == 405
    large = served.one_click(token, b"List-Unsubscribe=One-Click&" + b"x" * 70_000)
    assert large.status == 413
    assert suppression(sent.db, "lid095@example.org") is None
