"""Drafts and the four-eyes gate: a live send says when an issue is a draft; `newsletter approve`
records who approved what readers will get, and with NEWSLETTER_REQUIRE_APPROVAL=true `send` and
`dispatch` deliver only an issue approved as it renders now.

The commands run in subprocesses against a real SMTP server on 127.0.0.1 and a real ledger file; the
fingerprint and the ledger table are also checked as a library.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import select
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from command import NEWSLETTER, Cli, logged, output, wait
from conftest import ENVELOPE, ROOT, SAMPLE, SUBJECT, T0, edit, png
from issue_files import copy_sample
from issue_files import render as render_issue
from issue_files import write_issue as write_all_sections
from old_ledger import write_old_ledger

from newsletter.delivering import approval
from newsletter.delivering.campaign import prepare
from newsletter.ledger import Ledger
from newsletter.rendering.project import Project

if TYPE_CHECKING:
    from smtp_server import SMTPServer

pytest_plugins = ["smtp_server"]

ISSUE = "issues/2026-01.yaml"
SECRET = "approval-test-secret"
REQUIRED = {"NEWSLETTER_REQUIRE_APPROVAL": "true"}
WORD = ("Limburg wil daar gezien worden.", "Limburg wil daar gezien zijn.")
# "on 2026-02-15 10:02": minutes, in NEWSLETTER_TIMEZONE; the tests do not know the minute.
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d"


def _audience(n: int) -> list[str]:
    return [f"lid{i:03d}@example.org" for i in range(1, n + 1)]


@pytest.fixture
def cli(project_dir: Path, smtp_server: SMTPServer) -> Cli:
    return Cli(project_dir, smtp_server, SECRET)


def _send(cli: Cli, *extra: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return cli.run("send", ISSUE, "--recipients", "leden.csv", *extra, **settings)


def _approve(cli: Cli, name: str = "Anna", path: str = ISSUE) -> subprocess.CompletedProcess[str]:
    result = cli.run("approve", path, "--by", name)
    assert result.returncode == 0, output(result)
    return result


def _latest(cli: Cli, slug: str = "2026-01") -> approval.Approval | None:
    ledger = Ledger(cli.db)
    try:
        return approval.latest(ledger, slug)
    finally:
        ledger.close()


def _reformat(path: Path) -> None:
    """The same issue written differently: the sections indented two spaces deeper, comments added,
    the blank lines between sections dropped, the subject in single quotes."""
    head, sections = path.read_text(encoding="utf-8").split("\nsections:\n")
    head = head.replace(f'subject: "{SUBJECT}"', f"subject: '{SUBJECT}'")
    head = head.replace("layout: pom-limburg", "layout: pom-limburg    # the colours of POM")
    lines: list[str] = []
    for line in sections.splitlines():
        if line.startswith("  - type:"):
            # The blank line before a section ends the last text, which keeps one line break anyway.
            while lines and not lines[-1]:
                lines.pop()
            lines.append("    # the next section")
        lines.append("  " + line if line.startswith(" ") else line)
    path.write_text(head.rstrip() + "\n# what readers get\nsections:\n" + "\n".join(lines) + "\n", "utf-8")


# -- drafts ----------------------------------------------------------------------------------------


def test_a_live_send_of_a_draft_with_yes_warns_that_it_is_a_draft_and_sends_it(cli: Cli) -> None:
    emails = _audience(3)
    cli.recipients(emails)
    result = _send(cli, "--yes")
    assert result.returncode == 0, output(result)
    assert (
        "warning: 2026-01 is a draft (status: draft in issues/2026-01.yaml); sending it to 3 people "
        "anyway, as --yes says"
    ) in result.stdout.splitlines()
    assert cli.server.recorder.copies() == Counter(emails)


def test_a_live_send_of_a_ready_issue_with_yes_has_no_draft_warning(cli: Cli) -> None:
    copy_sample(cli.folder, "2026-01", send_at="2026-01-20T09:00")
    cli.recipients(_audience(2))
    result = _send(cli, "--yes")
    assert result.returncode == 0, output(result)
    assert "draft" not in output(result)


def _read_until(fd: int, needle: bytes) -> bytes:
    """What the terminal `fd` shows until `needle` (or the end); an error if that never comes."""
    seen = b""
    deadline = time.monotonic() + 60
    while needle not in seen:
        assert time.monotonic() < deadline, f"{needle!r} never came: {seen!r}"
        if not select.select([fd], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command has ended and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_the_question_on_a_terminal_says_that_the_issue_is_a_draft_and_no_sends_nothing(cli: Cli) -> None:
    cli.recipients(_audience(2))
    leader, follower = os.openpty()
    env = cli.env(TERM="dumb", NO_COLOR="1", COLUMNS="200")
    args = [*NEWSLETTER, "send", ISSUE, "--recipients", "leden.csv"]
    with subprocess.Popen(
        args, cwd=cli.folder, env=env, stdin=follower, stdout=follower, stderr=follower
    ) as proc:
        os.close(follower)
        try:
            asked = _read_until(leader, b"anyway? [y/N]: ").decode()
            os.write(leader, b"n\n")
            rest = _read_until(leader, b"\0")  # to the end
            assert wait(proc) == 1, asked + rest.decode()
        finally:
            os.close(leader)
    assert "2026-01 is a DRAFT (status: draft in issues/2026-01.yaml). Send it to 2 people anyway?" in asked
    assert cli.server.recorder.connections == 0
    assert not cli.db.exists()


def test_the_question_names_a_draft_and_asks_plainly_for_a_ready_issue(tmp_path: Path) -> None:
    audience = tmp_path / "leden.csv"
    audience.write_text("email\nan@example.org\nbert@example.org\n", encoding="utf-8")
    project = Project(ROOT / "issues", ROOT / "layouts")
    draft = prepare(project, SAMPLE, ENVELOPE, recipients_file=audience, default_recipients=None, now=T0)
    assert approval.confirmation(draft, 2) == (
        f"2026-01 is a DRAFT (status: draft in {SAMPLE}). Send it to 2 people anyway?"
    )
    assert approval.draft_warning(draft, 2) is not None
    ready_file = copy_sample(tmp_path, "2026-01", send_at="2026-01-20T09:00")
    ready = prepare(project, ready_file, ENVELOPE, recipients_file=audience, default_recipients=None, now=T0)
    assert approval.confirmation(ready, 2) == "Send 2026-01 to 2 people now?"
    assert approval.draft_warning(ready, 2) is None


# -- approval required -----------------------------------------------------------------------------


def test_with_approval_required_an_unapproved_issue_is_refused_in_one_line_and_nothing_is_sent(
    cli: Cli,
) -> None:
    cli.recipients(_audience(3))
    result = _send(cli, "--yes", **REQUIRED)
    assert result.returncode == 2, output(result)
    assert result.stderr.splitlines() == [
        "error: issues/2026-01.yaml is not approved, and NEWSLETTER_REQUIRE_APPROVAL is on: run "
        '`newsletter approve issues/2026-01.yaml --by "Name"` first'
    ]
    assert cli.server.recorder.connections == 0
    assert not cli.db.exists()


def test_test_sends_and_dry_runs_never_need_an_approval(cli: Cli) -> None:
    cli.recipients(_audience(2))
    dry = _send(cli, "--dry-run", **REQUIRED)
    assert dry.returncode == 0, output(dry)
    test = _send(cli, "--test", "me@example.org", **REQUIRED)
    assert test.returncode == 0, output(test)
    assert cli.server.recorder.copies() == Counter(["me@example.org"])


def test_approve_shows_what_it_approves_and_then_the_send_goes_out(cli: Cli) -> None:
    emails = _audience(3)
    cli.recipients(emails)
    copy_sample(cli.folder, "2026-01", status="draft", audience="../leden.csv")
    approved = _approve(cli, "Anna Peeters")
    recorded = _latest(cli)
    assert recorded is not None
    assert approved.stdout.splitlines()[:4] == [
        "issue:       2026-01 (issues/2026-01.yaml)",
        f"subject:     {SUBJECT}",
        "audience:    issues/../leden.csv",
        f"fingerprint: {recorded.fingerprint[:12]}",
    ]
    assert re.search(f"^approved by Anna Peeters, {WHEN}; ", approved.stdout, re.M), approved.stdout
    assert cli.server.recorder.connections == 0

    result = _send(cli, "--yes", **REQUIRED)
    assert result.returncode == 0, output(result)
    assert re.search(
        f"^approval:   approved by Anna Peeters, {WHEN} \\({recorded.short}\\)$", result.stdout, re.M
    )
    assert cli.server.recorder.copies() == Counter(emails)


def test_a_word_changed_after_approval_is_refused_with_the_command_to_approve_again(cli: Cli) -> None:
    cli.recipients(_audience(3))
    _approve(cli)
    edit(cli.folder / ISSUE, *WORD)
    result = _send(cli, "--yes", **REQUIRED)
    assert result.returncode == 2, output(result)
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(
        f"error: issues/2026-01.yaml changed after Anna approved it on {WHEN}: run "
        '`newsletter approve issues/2026-01.yaml --by "Name"` again',
        line,
    ), line
    assert cli.server.recorder.connections == 0

    _approve(cli, "Bert")
    again = _send(cli, "--yes", **REQUIRED)
    assert again.returncode == 0, output(again)
    assert "approved by Bert" in again.stdout


def test_reformatting_the_yaml_keeps_the_approval(cli: Cli) -> None:
    emails = _audience(2)
    cli.recipients(emails)
    _approve(cli)
    before = (cli.folder / ISSUE).read_text(encoding="utf-8")
    _reformat(cli.folder / ISSUE)
    assert (cli.folder / ISSUE).read_text(encoding="utf-8") != before
    assert cli.run("validate", ISSUE).returncode == 0
    status = cli.run("status", **REQUIRED)
    assert re.search(f"^2026-01: approved by Anna, {WHEN}$", status.stdout, re.M), output(status)
    result = _send(cli, "--yes", **REQUIRED)
    assert result.returncode == 0, output(result)
    assert cli.server.recorder.copies() == Counter(emails)


def test_a_resumed_delivery_goes_on_while_approved_and_is_refused_after_an_edit(cli: Cli) -> None:
    emails = _audience(5)
    cli.recipients(emails)
    recorder = cli.server.recorder
    _approve(cli)
    first = _send(cli, "--yes", "--limit", "2", **REQUIRED)
    assert first.returncode == 1, output(first)
    second = _send(cli, "--yes", "--limit", "1", **REQUIRED)  # resumed, no new approval needed
    assert second.returncode == 1, output(second)
    assert recorder.copies() == Counter(emails[:3])

    edit(cli.folder / ISSUE, *WORD)
    refused = _send(cli, "--yes", **REQUIRED)
    assert refused.returncode == 2, output(refused)
    assert "changed after Anna approved it on" in refused.stderr
    assert recorder.copies() == Counter(emails[:3])

    _approve(cli, "Bert")
    rest = _send(cli, "--yes", **REQUIRED)
    assert rest.returncode == 0, output(rest)
    assert recorder.copies() == Counter(emails)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "--by: give the name of who approves the issue"),
        ("An\x1bna", "--by: the name holds a control character (U+001B)"),
        ("Anna\u2028Peeters", "--by: the name holds a control character (U+2028)"),
        ("\u202eAnna", "--by: the name holds a control character (U+202E)"),
    ],
)
def test_approve_refuses_an_empty_name_or_one_with_control_characters(
    cli: Cli, name: str, message: str
) -> None:
    result = cli.run("approve", ISSUE, "--by", name)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}"), line
    assert not cli.db.exists()


def test_approve_needs_by_and_stores_the_name_as_typed_but_trimmed(cli: Cli) -> None:
    missing = cli.run("approve", ISSUE)
    assert missing.returncode == 2
    assert "Missing option '--by'" in missing.stderr
    assert not cli.db.exists()
    _approve(cli, "  Zoë Çelik-Peeters ")
    recorded = _latest(cli)
    assert recorded is not None
    assert recorded.by == "Zoë Çelik-Peeters"


def test_approve_refuses_an_issue_that_does_not_validate(cli: Cli) -> None:
    edit(cli.folder / ISSUE, "    kicker: Per rit", "    kicker_: Per rit")
    result = cli.run("approve", ISSUE, "--by", "Anna")
    assert result.returncode == 2
    assert "issues/2026-01.yaml:" in result.stderr
    assert "kicker_" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.db.exists()


def test_a_setting_that_is_not_true_or_false_is_one_line_naming_it(cli: Cli) -> None:
    result = cli.run("status", NEWSLETTER_REQUIRE_APPROVAL="maybe")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: NEWSLETTER_REQUIRE_APPROVAL='maybe': ")
    assert "write true or false" in line


# -- status ----------------------------------------------------------------------------------------


def test_status_says_who_approved_which_issue_and_which_changed_since(cli: Cli) -> None:
    copy_sample(cli.folder, "2026-02", status="draft")
    copy_sample(cli.folder, "2026-03", status="draft")
    before = cli.run("status")
    assert "approved" not in before.stdout  # nobody uses approval yet: status as it was
    assert re.findall("^2026-0.: .*$", cli.run("status", **REQUIRED).stdout, re.M) == [
        "2026-01: not approved",
        "2026-02: not approved",
        "2026-03: not approved",
    ]
    _approve(cli, "Anna", "issues/2026-02.yaml")
    _approve(cli, "Bert", "issues/2026-03.yaml")
    edit(cli.folder / "issues" / "2026-03.yaml", *WORD)

    result = cli.run("status")
    assert result.returncode == 0, output(result)
    lines = re.findall("^2026-0.: .*$", result.stdout, re.M)
    assert lines[0] == "2026-01: not approved"
    assert re.fullmatch(f"2026-02: approved by Anna, {WHEN}", lines[1]), lines
    assert re.fullmatch(f"2026-03: approved version changed since \\(approved by Bert, {WHEN}\\)", lines[2])


# -- dispatch --------------------------------------------------------------------------------------


def test_dispatch_with_approval_required_sends_the_approved_issue_and_logs_the_others(cli: Cli) -> None:
    for slug in ("2026-01", "2026-02", "2026-03"):
        copy_sample(cli.folder, slug, send_at="2026-01-20T09:00", audience=f"{slug}.csv")
        cli.recipients(_audience(2), f"issues/{slug}.csv")
    _approve(cli, "Anna", "issues/2026-01.yaml")
    _approve(cli, "Anna", "issues/2026-03.yaml")
    edit(cli.folder / "issues" / "2026-03.yaml", *WORD)

    result = cli.dispatch("2026-01-20T09:00", **REQUIRED)
    assert result.returncode == 2, output(result)
    errors = logged(result, "error")
    assert [line.split(" ")[2] for line in errors] == ["2026-02", "2026-03"]
    assert errors[0].endswith(
        "error 2026-02 issues/2026-02.yaml is not approved, and NEWSLETTER_REQUIRE_APPROVAL is on: run "
        '`newsletter approve issues/2026-02.yaml --by "Name"` first'
    )
    assert re.search(
        f"error 2026-03 issues/2026-03.yaml changed after Anna approved it on {WHEN}: run "
        '`newsletter approve issues/2026-03.yaml --by "Name"` again$',
        errors[1],
    ), errors[1]
    assert logged(result, "complete")[0].split(" ")[2] == "2026-01"
    assert len(cli.server.recorder.messages) == 2
    assert {r.status for r in cli.rows("2026-02")} == set()


def test_an_approved_draft_is_never_dispatched_and_marking_it_ready_keeps_the_approval(cli: Cli) -> None:
    emails = _audience(2)
    cli.recipients(emails, "issues/leden.csv")
    copy_sample(cli.folder, "2026-01", status="draft", send_at="2026-01-20T09:00", audience="leden.csv")
    _approve(cli)
    draft = cli.dispatch("2026-01-21T09:00", **REQUIRED)
    assert draft.returncode == 0, output(draft)
    assert cli.server.recorder.connections == 0

    edit(cli.folder / ISSUE, "status: draft", "status: ready")
    ready = cli.dispatch("2026-01-21T09:00", **REQUIRED)
    assert ready.returncode == 0, output(ready)
    assert cli.server.recorder.copies() == Counter(emails)


# -- the fingerprint and the ledger table -----------------------------------------------------------


def test_the_fingerprint_follows_the_words_the_preheader_and_the_image_bytes(tmp_path: Path) -> None:
    path = write_all_sections(tmp_path)
    first = approval.fingerprint(render_issue(path)[1])
    assert approval.fingerprint(render_issue(path)[1]) == first
    edit(path, "preheader: Een voorproefje", "preheader: Een voorsmaakje")
    second = approval.fingerprint(render_issue(path)[1])
    assert second != first
    (path.parent / "images" / "dot.png").write_bytes(png(3, 3))
    assert approval.fingerprint(render_issue(path)[1]) not in (first, second)


def test_an_older_ledger_gets_the_approvals_table_and_keeps_its_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    write_old_ledger(path, "2025-12", "December", {"an@example.org": "sent"})
    readonly = Ledger(path, readonly=True)
    try:
        assert approval.latest(readonly, "2025-12") is None  # read as it is, not upgraded
    finally:
        readonly.close()

    ledger = Ledger(path)
    try:
        at = dt.datetime(2026, 2, 15, 9, 2, tzinfo=dt.UTC)
        approval.record(ledger, approval.Approval("2026-02", "f" * 64, "Anna", at, "Februari"))
        assert approval.latest(ledger, "2026-02") == approval.Approval(
            "2026-02", "f" * 64, "Anna", at, "Februari"
        )
        assert [r.status for r in ledger.rows("2025-12")] == ["sent"]
    finally:
        ledger.close()
    tables = {name for (name,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "approvals" in tables
