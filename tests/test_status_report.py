"""The rows `newsletter status` prints, from a real ledger file: the figures of each delivery, who did
not get an issue and why, and where every issue stands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import SUBJECT, T0, copy_project, people

from newsletter.delivering.overview import IssueState
from newsletter.delivering.status import (
    DELIVERY_COLUMNS,
    OVERVIEW_COLUMNS,
    delivery_report,
    issue_overview,
    overview_row,
    reported_issues,
    undelivered,
)
from newsletter.ledger import Counts, Ledger
from newsletter.rendering.project import Project

BRUSSELS = ZoneInfo("Europe/Brussels")


def _deliveries(ledger: Ledger) -> None:
    """2026-01 under way: p1 sent, p2 refused, p3 in doubt, p4 and p5 due. 2026-02 complete."""
    ledger.start(
        "2026-01",
        subject="Januari",
        content_hash="a",
        audience_source="leden.csv",
        recipients=people(5),
        now=T0,
    )
    for email in ("p1@example.org", "p2@example.org", "p3@example.org"):
        ledger.mark_sending("2026-01", email, f"<{email}>", T0)
    ledger.mark("2026-01", "p1@example.org", "sent", "250 OK", T0)
    ledger.mark("2026-01", "p2@example.org", "failed", "550 no such user", T0)
    ledger.mark("2026-01", "p3@example.org", "unknown", "connection lost", T0)
    later = T0 + dt.timedelta(minutes=1)
    ledger.start(
        "2026-02",
        subject="Februari",
        content_hash="b",
        audience_source="leden.csv",
        recipients=people(2),
        now=later,
    )
    for email in ("p1@example.org", "p2@example.org"):
        ledger.mark("2026-02", email, "sent", "250 OK", later)
    ledger.finish("2026-02", T0 + dt.timedelta(hours=1))


def test_delivery_report_gives_each_delivery_its_figures_and_finish_time_in_the_time_zone(
    ledger: Ledger,
) -> None:
    _deliveries(ledger)
    report = delivery_report(ledger, ["2026-01", "2026-02"], BRUSSELS)
    assert report.columns == DELIVERY_COLUMNS
    assert DELIVERY_COLUMNS == (
        "issue", "audience", "sent", "pending", "unknown", "failed", "suppressed", "finished"
    )  # fmt: skip
    assert report.rows == [
        ("2026-01", "5", "1", "2", "1", "1", "0", "-"),
        # T0 + 1h is 10:00 UTC: 11:00 in Brussels in winter.
        ("2026-02", "2", "2", "0", "0", "0", "0", "2026-01-20 11:00"),
    ]
    assert report.unsent == []


def test_delivery_report_names_issues_without_a_delivery_and_every_final_refusal(ledger: Ledger) -> None:
    _deliveries(ledger)
    report = delivery_report(ledger, ["2026-03", "2026-01"], dt.UTC)
    assert report.unsent == ["2026-03"]
    assert [row[0] for row in report.rows] == ["2026-01"]
    assert report.failures == [("2026-01", "p2@example.org", "550 no such user")]


def test_reported_issues_are_the_file_s_issue_or_every_delivery_in_the_order_they_started(
    ledger: Ledger,
) -> None:
    _deliveries(ledger)
    assert reported_issues(ledger, Path("issues/2026-02.yaml")) == ["2026-02"]
    assert reported_issues(ledger, Path("issues/2026-09.yaml")) == ["2026-09"]
    assert reported_issues(ledger, None) == ["2026-01", "2026-02"]


def test_undelivered_lists_the_refused_then_those_in_doubt_then_those_still_due(ledger: Ledger) -> None:
    _deliveries(ledger)
    assert undelivered(ledger, ["2026-01", "2026-02"]) == [
        ("2026-01", "p2@example.org", "failed", 1, "550 no such user"),
        ("2026-01", "p3@example.org", "unknown", 1, "connection lost"),
        ("2026-01", "p4@example.org", "pending", 0, None),
        ("2026-01", "p5@example.org", "pending", 0, None),
    ]


def test_overview_row_counts_sent_of_those_not_suppressed_and_shows_the_note_instead_of_the_subject() -> None:
    state = IssueState(
        slug="2026-01",
        state="incomplete",
        subject="Januari",
        due=dt.datetime(2026, 1, 20, 8, 0, tzinfo=dt.UTC),
        counts=Counts(audience=6, pending=1, sending=1, sent=1, failed=1, unknown=1, skipped=1),
        finished=None,
        note="to continue: newsletter send issues/2026-01.yaml",
    )
    assert len(OVERVIEW_COLUMNS) == len(overview_row(state, BRUSSELS))
    assert overview_row(state, BRUSSELS) == (
        "2026-01", "incomplete", "2026-01-20 09:00", "1/5", "2", "1", "1",
        "to continue: newsletter send issues/2026-01.yaml",
    )  # fmt: skip


def test_overview_row_of_a_draft_has_no_time_and_no_figures() -> None:
    draft = IssueState("2026-02", "draft", "Februari", due=None, counts=None, finished=None)
    assert overview_row(draft, dt.UTC) == ("2026-02", "draft", "-", "", "", "", "", "Februari")


def test_issue_overview_before_the_first_send_lists_every_issue_file_as_it_stands(tmp_path: Path) -> None:
    copy_project(tmp_path)
    project = Project(tmp_path / "issues", tmp_path / "layouts")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    quiet = issue_overview(project, None, dt.UTC, now)
    assert quiet.rows == [("2026-01", "draft", "-", "", "", "", "", SUBJECT)]
    assert quiet.approvals == []
    required = issue_overview(project, None, dt.UTC, now, require_approval=True)
    assert required.approvals == ["2026-01: not approved"]


def test_issue_overview_shows_a_delivery_the_ledger_has_with_its_figures(
    tmp_path: Path, ledger: Ledger
) -> None:
    copy_project(tmp_path)
    _deliveries(ledger)
    project = Project(tmp_path / "issues", tmp_path / "layouts")
    rows = issue_overview(project, ledger, dt.UTC, T0 + dt.timedelta(hours=2)).rows
    by_issue = {row[0]: row for row in rows}
    # 2026-01 has a file (the sample, a draft) and an unfinished delivery; 2026-02 only a delivery.
    assert by_issue["2026-01"][1:7] == ("incomplete", "-", "1/5", "2", "1", "1")
    assert by_issue["2026-02"][1:4] == ("sent", "2026-01-20 10:00", "2/2")
