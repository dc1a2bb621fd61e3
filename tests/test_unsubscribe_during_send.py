"""Readers unsubscribe through `newsletter serve` while `newsletter send` delivers to 300 readers within a
rate limit, both on the same ledger file: the one still due is skipped, the one whose message is on
its way and the one already sent get one copy each, nobody gets two, and the send completes."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING

from command import SENDING, environment, read, start, wait
from conftest import audience_csv
from endpoint_server import LIST_ID, SECRET, serve_env, serving

from newsletter.composing.tokens import unsubscribe_token
from newsletter.ledger import Counts, Ledger
from newsletter.web.unsubscribe_words import ONE_CLICK_ANSWER

if TYPE_CHECKING:
    from smtp_server import Arrival, SMTPServer

pytest_plugins = ["smtp_server", "endpoint_server"]

READERS = [f"lid{i:03d}@example.org" for i in range(1, 301)]
HELD_AT = 20  # the server holds its answer to this message while the readers unsubscribe


def test_a_reader_who_unsubscribes_while_the_send_runs_is_skipped_and_nobody_gets_two(
    project_dir: Path, smtp_server: SMTPServer, log: IO[str]
) -> None:
    audience_csv(project_dir / "leden.csv", READERS)
    recorder = smtp_server.recorder
    holding = threading.Event()

    def hold_there(arrival: Arrival) -> None:
        if arrival.number == HELD_AT:
            recorder.hold()
            holding.set()

    recorder.on_arrival = hold_there
    env = environment(
        SENDING, {"NEWSLETTER_SECRET": SECRET}, smtp_server.settings(), {"NEWSLETTER_RATE": "50/second"}
    )
    with serving(project_dir, serve_env()) as endpoint:
        send = start(
            "send",
            "issues/2026-01.yaml",
            "--recipients",
            "leden.csv",
            "--yes",
            cwd=project_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            assert holding.wait(timeout=60), read(log)
            in_flight = recorder.arrivals[HELD_AT - 1].rcpts[0]
            already_sent, still_due = recorder.arrivals[4].rcpts[0], "lid250@example.org"
            assert still_due not in recorder.copies()
            for email in (still_due, in_flight, already_sent):
                answer = endpoint.one_click(unsubscribe_token(SECRET, LIST_ID, email))
                assert (answer.status, answer.text) == (200, ONE_CLICK_ANSWER)
        finally:
            recorder.release()
        assert wait(send, timeout=120) == 0, read(log)

    copies = recorder.copies()
    assert max(copies.values()) == 1
    assert set(copies) == set(READERS) - {still_due}
    with Ledger(project_dir / "newsletter.sqlite3") as ledger:
        assert ledger.counts("2026-01") == Counts(audience=300, sent=299, skipped=1)
        assert {r.recipient.email for r in ledger.rows("2026-01", "skipped")} == {still_due}
        suppressed = {s.email: (s.reason, s.source) for s in ledger.suppressions()}
        delivery = ledger.delivery("2026-01")
    assert suppressed == dict.fromkeys((still_due, in_flight, already_sent), ("unsubscribed", "one-click"))
    assert delivery is not None
    assert delivery.finished_at is not None
    assert "done: everyone still on the list has it" in read(log)
