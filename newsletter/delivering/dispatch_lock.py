"""A dispatch that finds the dispatch lock held: another one is busy (exit 0), or that one may be
hung (exit 1, and the staff are mailed once about it).

A lock held for longer than `stale_after`, or by a process that this machine does not have (the
kernel frees a dead holder's lock, so that holder runs elsewhere or left a child holding it), keeps
every later dispatch from sending: cron's mail must say so, not "busy".
"""

from __future__ import annotations

import datetime as dt

from newsletter.delivering.report import Log
from newsletter.delivering.schedule import describe
from newsletter.delivering.staff_mail import Staff, alert_message, mail_staff
from newsletter.ledger import Ledger
from newsletter.ledger.lock import Holder, lock_path

STUCK_NOTE = "alerted-stuck-dispatch"  # which holder of the lock the staff were mailed about


def another_dispatch(
    ledger: Ledger, staff: Staff, *, timezone: dt.tzinfo, stale_after: dt.timedelta, log: Log
) -> int:
    """The dispatch lock is held: busy (exit 0), or possibly hung (exit 1, and `staff` are told)."""
    holder = ledger.lock_holder("dispatch")
    now = dt.datetime.now(dt.UTC)
    problem = None if holder is None else _stuck(holder, ledger, timezone, stale_after, now)
    if holder is None or problem is None:
        by = "" if holder is None else f" (pid {holder.pid}{_since(holder, timezone, now, ' since')})"
        log("busy", {"message": f"another dispatch is running{by}; this one does nothing"})
        return 0
    log("error", {"message": problem})
    if staff.to:
        _alert(ledger, staff, holder, problem, now, log)
    return 1


def _stuck(
    holder: Holder, ledger: Ledger, timezone: dt.tzinfo, stale_after: dt.timedelta, now: dt.datetime
) -> str | None:
    pid, since = holder.pid, _since(holder, timezone, now, " since")
    if holder.alive() is False:
        path = lock_path(ledger.path, "dispatch")
        return (
            f"the dispatch lock is held, but its process {pid}{since} is not running on this machine: "
            f"another machine or container holds {path}, or a child of that process does; find it with "
            f"`fuser -v {path}`. Until it lets go, no dispatch sends anything"
        )
    age = holder.age(now)
    if age is None or age <= stale_after:
        return None
    on = "" if holder.here else f" on {holder.host}"
    return (
        f"dispatch has been running{on}{since} (pid {pid}, {_span(age)}): it may be hung; check it with "
        f"`ps {pid}`, stop it with `kill {pid}`; the next run resumes where it stopped. "
        f"(NEWSLETTER_LOCK_STALE_AFTER is {describe(stale_after)})"
    )


def _since(holder: Holder, timezone: dt.tzinfo, now: dt.datetime, prefix: str) -> str:
    if holder.since is None:
        return ""
    local = holder.since.astimezone(timezone)
    same_day = local.date() == now.astimezone(timezone).date()
    return f"{prefix} {local:%H:%M}" if same_day else f"{prefix} {local:%Y-%m-%d %H:%M}"


def _span(age: dt.timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours} h" if hours else f"{int(age.total_seconds() // 60)} min"


def _alert(ledger: Ledger, staff: Staff, holder: Holder, problem: str, now: dt.datetime, log: Log) -> None:
    """Mail the staff once per stuck holder; cron runs every few minutes and would mail each time."""
    who = f"{holder.pid} {holder.since.isoformat() if holder.since else ''} {holder.host or ''}"
    if ledger.note(STUCK_NOTE) == who:
        return
    failure = mail_staff(staff, alert_message(staff.envelope, staff.to, holder, problem, now))
    if failure is not None:
        log("alert-failed", {"message": failure})
        return
    ledger.set_note(STUCK_NOTE, who)
    log("alert", {"to": ", ".join(staff.to)})
