"""How long an issue takes to render, and how much cheaper each recipient's copy is.

    python benchmarks/render.py [--runs 40] [--recipients 500]

Renders the sample issue (issues/2026-01.yaml, layout pom-limburg) end to end, breaks the render down
into its stages, then times the per-recipient work three ways: the merge alone, the complete wire
message from `message.Composer`, and the naive peer that builds an `EmailMessage` per recipient and
serialises it. Prints a table and checks the goals; exits 1 when a goal fails.

A script, not a test: timings depend on the machine. Every figure is the median of repeated runs after
warm-up runs, measured with time.perf_counter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import mjml

import newsletter.rendering.render as render_module
from newsletter.composing import message
from newsletter.model import Recipient, Rendered
from newsletter.model.merge import escape_html, resolve
from newsletter.reading import issues
from newsletter.reading.layouts import Layout
from newsletter.rendering import project as project_module
from newsletter.rendering.project import Project

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "issues" / "2026-01.yaml"
LAYOUT = "pom-limburg"
DATE = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
ENVELOPE = message.Envelope(
    sender="POM Limburg <nieuwsbrief@example.org>",
    unsubscribe_url="https://example.org/unsubscribe?token={token}",
    secret="benchmark-secret",
    reply_to="info@example.org",
    unsubscribe_mailto="unsubscribe@example.org",
)

RENDER_GOAL_MS = 25.0
CHEAPER_GOAL = 100.0
TIMES = "\N{MULTIPLICATION SIGN}"

FIRST_NAMES = ("Sam", "Zoë", "Noël", "An", "Britta", "Jan", "Lotte", "", "Mehmet", "Ingrid")
LAST_NAMES = ("Voorbeeld", "Peeters", "Janssens", "Maes", "Claes", "Wouters", "Goossens", "Dubois")


def recipients(count: int) -> list[Recipient]:
    """`count` readers at example.org; some without a first name (the default applies), some non-ASCII."""
    people = []
    for i in range(count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[i % len(LAST_NAMES)]
        name = f"{first} {last}".strip()
        people.append(Recipient(email=f"lezer{i}@example.org", first_name=first, name=name))
    return people


def median_ms(fn: Callable[[], object], runs: int, warmup: int) -> tuple[float, list[float]]:
    """The median wall time of `fn()` in milliseconds, and every run's time."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times


def median_us_each(fn: Callable[[Recipient], object], people: Sequence[Recipient], runs: int) -> float:
    """The median, over `runs` passes through `people`, of the microseconds per recipient."""
    for person in people[: min(len(people), 50)]:
        fn(person)
    per_pass = []
    for _ in range(runs):
        start = time.perf_counter()
        for person in people:
            fn(person)
        per_pass.append((time.perf_counter() - start) * 1e6 / len(people))
    return statistics.median(per_pass)


# --- the render and its stages ---------------------------------------------------------------------


class Stages:
    """Wall time spent in each named stage during one render."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[name] = self.current.get(name, 0.0) + (time.perf_counter() - start) * 1000

        return timed


@contextmanager
def instrumented(stages: Stages) -> Iterator[None]:
    """Time the real pipeline's pieces in place (restored afterwards); the package code is unchanged.

    Project.render calls issues.load, Project.layout and issues.read_assets; render() calls
    Layout.render (Jinja2, with the Markdown filter), mjml.mjml2html, _inline_css (premailer) and
    plain_text. Whatever is left is the token pass (a copy of the issue with tokens in its texts) and
    Plan.compile.
    """
    patches: list[tuple[Any, str, Any]] = [
        (issues, "load", stages.wrap("parse + validate (YAML, pydantic)", issues.load)),
        (Project, "layout", stages.wrap("layout load (layout.yaml, Jinja2 env)", Project.layout)),
        (issues, "read_assets", stages.wrap("read local images", issues.read_assets)),
        (Layout, "render", stages.wrap("Jinja2 → MJML (incl. Markdown)", Layout.render)),
        (mjml, "mjml2html", stages.wrap("mjml2html (MRML)", mjml.mjml2html)),
        (render_module, "_inline_css", stages.wrap("premailer inline CSS", render_module._inline_css)),
        (render_module, "plain_text", stages.wrap("plain text", render_module.plain_text)),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def stage_breakdown(project: Project, runs: int) -> tuple[dict[str, float], float]:
    """The median milliseconds of each stage, and the median instrumented total."""
    stages = Stages()
    per_stage: dict[str, list[float]] = {}
    totals = []
    with instrumented(stages):
        for i in range(runs + 3):
            stages.current = {}
            start = time.perf_counter()
            project.render(SAMPLE)
            total = (time.perf_counter() - start) * 1000
            if i < 3:
                continue  # warm-up
            totals.append(total)
            for name, ms in stages.current.items():
                per_stage.setdefault(name, []).append(ms)
            rest = total - sum(stages.current.values())
            per_stage.setdefault("other (tokens, Plan.compile)", []).append(rest)
    return {name: statistics.median(v) for name, v in per_stage.items()}, statistics.median(totals)


# --- one recipient's copy --------------------------------------------------------------------------


def merge_only(rendered: Rendered) -> Callable[[Recipient], object]:
    """Resolve the recipient's values, then fill subject, HTML (escaped) and text."""

    def merge(person: Recipient) -> object:
        data = person.merge_data()
        data["unsubscribe_url"] = "https://example.org/unsubscribe?token=x"
        values = resolve(rendered.fields, data)
        return (
            rendered.subject.fill(values),
            rendered.html.fill(values, escape_html),
            rendered.text.fill(values),
        )

    return merge


def compose(composer: message.Composer) -> Callable[[Recipient], bytes]:
    def one(person: Recipient) -> bytes:
        return composer.compose(person).data

    return one


def naive(rendered: Rendered, composer: message.Composer) -> Callable[[Recipient], bytes]:
    """What a simple tool does: merge, build an EmailMessage with the same headers, as_bytes()."""
    list_id = composer.list_id
    date = format_datetime(DATE)

    def one(person: Recipient) -> bytes:
        unsubscribe = composer.unsubscribe_url(person.email)
        data = person.merge_data()
        data["unsubscribe_url"] = unsubscribe
        values = resolve(rendered.fields, data)
        msg = EmailMessage()
        msg["From"] = ENVELOPE.sender
        if ENVELOPE.reply_to:
            msg["Reply-To"] = ENVELOPE.reply_to
        msg["To"] = formataddr((person.name or person.first_name, person.email))
        msg["Subject"] = rendered.subject.fill(values)
        msg["Date"] = date
        msg["Message-ID"] = message.message_id(rendered.slug, list_id, person.email, ENVELOPE.domain)
        msg["List-Id"] = f"{rendered.list_name} <{list_id}>"
        msg["List-Unsubscribe"] = (
            f"<{unsubscribe}>, <mailto:{ENVELOPE.unsubscribe_mailto}?subject=unsubscribe>"
        )
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(rendered.text.fill(values))
        msg.add_alternative(rendered.html.fill(values, escape_html), subtype="html")
        if rendered.images:
            html_part = msg.get_body(("html",))
            assert isinstance(html_part, EmailMessage)
            for image in rendered.images:
                maintype, _, subtype = image.content_type.partition("/")
                html_part.add_related(
                    image.data, maintype, subtype, cid=f"<{image.cid}>", filename=image.filename
                )
        return msg.as_bytes()

    return one


def same_content(a: bytes, b: bytes) -> bool:
    """Both messages decode to the same HTML, text, Subject and To (so the comparison is fair).

    Line endings and a final newline (set_content adds one) do not count, nor whitespace that header
    folding leaves at a header's start.
    """
    seen = []
    for m in (message.parse(a), message.parse(b)):
        html, text = m.get_body(("html",)), m.get_body(("plain",))
        assert html is not None
        assert text is not None
        bodies = tuple(p.get_content().replace("\r\n", "\n").rstrip("\n") for p in (html, text))
        seen.append((*bodies, str(m["Subject"]).strip(), str(m["To"]).strip()))
    return seen[0] == seen[1]


# --- report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    name: str
    ok: bool
    detail: str


def fmt_ms(ms: float) -> str:
    return f"{ms:9.2f} ms"


def fmt_us(us: float) -> str:
    return f"{us:9.1f} µs"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=40, help="timed renders (default 40)")
    parser.add_argument("--recipients", type=int, default=500, help="recipients per pass (default 500)")
    args = parser.parse_args(argv)

    project = Project(issues_dir=ROOT / "issues", layouts_dir=ROOT / "layouts")
    loaded, rendered = project.render(SAMPLE)
    if loaded.issue.layout != LAYOUT:
        print(f"{SAMPLE} uses layout {loaded.issue.layout!r}, expected {LAYOUT!r}", file=sys.stderr)
        return 2

    render_ms, render_times = median_ms(lambda: project.render(SAMPLE), args.runs, warmup=5)

    def cold_render() -> None:
        # As the first render of a process does it: layout.yaml read and every template compiled.
        project_module._LAYOUTS.clear()
        project.render(SAMPLE)

    cold_ms, _ = median_ms(cold_render, max(5, args.runs // 4), warmup=2)
    stages, instrumented_total = stage_breakdown(project, args.runs)

    people = recipients(args.recipients)
    composer_ms, _ = median_ms(lambda: message.Composer(rendered, ENVELOPE, date=DATE), 50, warmup=5)
    composer = message.Composer(rendered, ENVELOPE, date=DATE)
    passes = max(5, args.runs // 4)
    merge_us = median_us_each(merge_only(rendered), people, passes)
    compose_us = median_us_each(compose(composer), people, passes)
    naive_us = median_us_each(naive(rendered, composer), people, passes)
    fair = same_content(compose(composer)(people[1]), naive(rendered, composer)(people[1]))

    render_us = render_ms * 1000
    html_kb = len(rendered.html.fill(("x",) * len(rendered.fields)).encode()) / 1024
    wire_kb = len(compose(composer)(people[0])) / 1024

    print(f"newsletter benchmark: {SAMPLE.relative_to(ROOT)}, layout {LAYOUT}")
    print(f"Python {sys.version.split()[0]}; HTML {html_kb:.1f} KB, wire message {wire_kb:.1f} KB")
    print(
        f"{args.runs} renders after 5 warm-ups (min {min(render_times):.2f} ms, "
        f"max {max(render_times):.2f} ms); {args.recipients} recipients {TIMES} {passes} passes"
    )
    print()
    width = 46
    print(f"{'stage':<{width}} {'median':>12} {'share':>7}")
    print("-" * (width + 21))
    print(f"{'full render: Project.render(path)':<{width}} {fmt_ms(render_ms)} {'':>7}")
    print(f"{'  the same, layout loaded and compiled anew':<{width}} {fmt_ms(cold_ms)} {'':>7}")
    for name, ms in stages.items():
        print(f"{'  ' + name:<{width}} {fmt_ms(ms)} {ms / instrumented_total:7.0%}")
    print(f"{'  (instrumented total)':<{width}} {fmt_ms(instrumented_total)}")
    print(f"{'Composer(...) setup, once per issue':<{width}} {fmt_ms(composer_ms)}")
    print("-" * (width + 21))
    print(f"{'per recipient':<{width}} {'median':>12} {'vs render':>10}")
    print("-" * (width + 21))
    rows = (
        ("(a) merge: resolve + subject/html/text fill", merge_us),
        ("(b) compose: Composer.compose → wire bytes", compose_us),
        ("(c) naive: EmailMessage build + as_bytes()", naive_us),
    )
    for name, us in rows:
        print(f"{name:<{width}} {fmt_us(us)} {render_us / us:9.0f}{TIMES}")
    print("-" * (width + 21))
    print(f"merge is {render_us / merge_us:,.0f}{TIMES} cheaper than a render")
    print(f"compose is {render_us / compose_us:,.0f}{TIMES} cheaper than a render")
    print(f"compose is {naive_us / compose_us:,.1f}{TIMES} cheaper than a naive EmailMessage build")
    print(f"(compose and naive messages decode to the same HTML, text, Subject and To: {fair})")
    print()

    goals = [
        Goal(
            f"full render under {RENDER_GOAL_MS:g} ms",
            render_ms < RENDER_GOAL_MS,
            f"{render_ms:.2f} ms",
        ),
        Goal(
            f"merge at least {CHEAPER_GOAL:g}{TIMES} cheaper than a render",
            render_us / merge_us >= CHEAPER_GOAL,
            f"{render_us / merge_us:,.0f}{TIMES}",
        ),
        Goal(
            f"compose at least {CHEAPER_GOAL:g}{TIMES} cheaper than a render",
            render_us / compose_us >= CHEAPER_GOAL,
            f"{render_us / compose_us:,.0f}{TIMES}",
        ),
    ]
    for goal in goals:
        print(f"{'PASS' if goal.ok else 'FAIL'}  {goal.name}: {goal.detail}")
    if not fair:
        print("FAIL  the naive and composed messages differ; the comparison is not like for like")
    return 0 if all(g.ok for g in goals) and fair else 1


if __name__ == "__main__":
    sys.exit(main())
