"""The preflight of `newsletter check` and the preview's panel: one reader's real message, looked over
before anyone gets it.

`preflight` composes the message for one reader (merge fields filled with their values: a sample
reader's, or the audience's first) and looks at it as mail clients and readers will: every link asked
(`web`, in parallel; `online=False` asks nothing), the images, the HTML's size against Gmail's
clipping, the subject and preheader against what inboxes show, the ways to unsubscribe, the HTML's
build, and the SpamAssassin score where the program is installed. It returns a `Report` of findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from newsletter.composing.message import Composer, Envelope, parse
from newsletter.delivering.preflight import images, inbox, links, page, spam, structure
from newsletter.delivering.preflight.findings import AREAS, Finding, Level, Report
from newsletter.delivering.preflight.places import Places
from newsletter.delivering.preflight.web import TIMEOUT, Web
from newsletter.model import SAMPLE_RECIPIENT, Recipient, Rendered
from newsletter.reading.issues import LoadedIssue

__all__ = ["AREAS", "TIMEOUT", "Finding", "Level", "Report", "preflight"]


def preflight(
    loaded: LoadedIssue | None,
    rendered: Rendered,
    envelope: Envelope,
    *,
    now: dt.datetime,
    recipient: Recipient = SAMPLE_RECIPIENT,
    online: bool = True,
    timeout: float = TIMEOUT,
    spamassassin: str | Callable[[], str | None] | None = spam.program,
    example_unsubscribe: bool = False,
    spam_score: bool = True,
) -> Report:
    """Every finding about `recipient`'s message of `rendered` (`loaded` places them in the issue file).

    `online=False` makes no request: links and remote images are listed, not asked. `spamassassin` is
    the program to score with (None: not installed). `example_unsubscribe`: the unsubscribe address is
    the example one of a project without NEWSLETTER_UNSUBSCRIBE_URL, not asked. `spam_score=False`
    leaves SpamAssassin out (it takes a second or two), as the preview's quick check does.
    """
    outgoing = Composer(rendered, envelope, date=now).compose(recipient)
    message = parse(outgoing.data)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None, "a composed message has an HTML part"
    assert text_part is not None, "a composed message has a text part"
    html: str = html_part.get_content()
    text: str = text_part.get_content()
    read = page.read(html)
    places = Places(loaded) if loaded is not None else None
    unsubscribe, _ = inbox.unsubscribe_urls(message)
    web = Web(timeout=timeout) if online else None

    report = Report(online=online)
    found = links.collect(read, text, places, unsubscribe=unsubscribe, view=rendered.view_url)
    skip = frozenset({unsubscribe}) if example_unsubscribe and unsubscribe else frozenset()
    report.add(links.findings(found, web.answer if web else None, skip=skip))
    fetch = (lambda url: web.body(url, images.FETCH_LIMIT)) if web else None
    report.add(images.findings(read, {i.cid: i for i in rendered.images}, places, fetch, rendered.linked))
    report.add(inbox.size(html))
    preheader = rendered.preheader.fill(rendered.values_for(recipient.merge_data()))
    report.add(inbox.subject(str(message["Subject"]), places.of_field("subject") if places else "subject"))
    report.add(inbox.preheader(preheader, places.of_field("preheader") if places else "preheader"))
    report.add(inbox.unsubscribe(message, read, text))
    report.add(structure.findings(read))
    if spam_score:
        binary = spamassassin() if callable(spamassassin) else spamassassin
        report.add(spam.findings(outgoing.data, binary))
    return report
