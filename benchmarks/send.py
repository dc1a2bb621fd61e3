"""How fast an issue goes out over SMTP, against a bare smtplib loop and mailmerge; and whether a dry
run's memory stays flat as the audience grows.

    python benchmarks/send.py [--recipients 10000] [--dry-run-recipients 100000]
                              [--mailmerge-recipients 500] [--repeat 3]

Everything runs on 127.0.0.1 and is started and stopped by this script:

* the sink: Postfix's `smtp-sink` (/usr/sbin/smtp-sink, Debian package `postfix`) when it is installed,
  else an aiosmtpd server in a separate process that accepts and discards every message;
* this project's real path: `campaign.prepare` (issue render + audience CSV), then `campaign.send` with
  `SMTPSender(security=none)` to the sink and a real `Ledger` in a temporary folder, no rate limit, with
  1 and with 4 connections (the default of 100 messages per connection);
* the ceiling: a bare smtplib loop, one prebuilt message (the same bytes for everyone), on 1 reused
  connection and on 4 connections in threads;
* mailmerge (PyPI `mailmerge`, run as a subprocess in its own folder) with a template made from the same
  issue and a CSV database; it opens a connection per message and is slow, so it sends fewer messages;
* the cost of DKIM signing (NEWSLETTER_DKIM_KEY_FILE): `Composer.compose` with an RSA 2048 and an
  Ed25519 key made for the run, per message, beside the unsigned figure;
* memory: `campaign.dry_run` (every message written as .eml to a temporary outbox) of a small and a large
  audience, each in a fresh subprocess, comparing the peak resident set sizes.

Each SMTP sender runs `--repeat` times, interleaved, and its fastest run counts: the figures are then the
least disturbed by other work on the machine. Prints a table and checks the goals; exits 1 when a goal
fails. A script, not a test: the figures depend
on the machine. Addresses are at example.org and example.com.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from newsletter.composing.dkim import Signer, load_key
from newsletter.composing.message import Composer, Envelope
from newsletter.delivering import campaign as campaign_module
from newsletter.delivering.loop import Options
from newsletter.ledger import Ledger
from newsletter.model import Recipient, Rendered
from newsletter.model.merge import Plan
from newsletter.rendering.project import Project
from newsletter.sending.smtp import Security, SMTPSender

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "issues" / "2026-01.yaml"
SMTP_SINK = Path("/usr/sbin/smtp-sink")
HOST = "127.0.0.1"
DATE = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
ENVELOPE = Envelope(
    sender="POM Limburg <nieuwsbrief@example.org>",
    unsubscribe_url="https://example.org/unsubscribe?token={token}",
    secret="benchmark-secret",
    reply_to="info@example.org",
    unsubscribe_mailto="unsubscribe@example.org",
)
ENVELOPE_FROM = "nieuwsbrief@example.org"

BARE_GOAL = 0.8  # this project at least 0.8 times the bare smtplib loop, at the same number of connections
MAILMERGE_GOAL = 1.0  # and at least as fast as mailmerge
FLAT_GOAL = 1.5  # the large dry run's peak memory within 1.5 times the small one's
TIMES = "\N{MULTIPLICATION SIGN}"

FIRST_NAMES = ("Sam", "Zoë", "Noël", "An", "Britta", "Jan", "Lotte", "", "Mehmet", "Ingrid")
LAST_NAMES = ("Voorbeeld", "Peeters", "Janssens", "Maes", "Claes", "Wouters", "Goossens", "Dubois")
DOMAINS = ("example.org", "example.com")


def person(i: int) -> tuple[str, str, str]:
    """Reader i: (email, first_name, name); some without a first name, some non-ASCII."""
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    name = f"{first} {LAST_NAMES[i % len(LAST_NAMES)]}".strip()
    return f"lezer{i}@{DOMAINS[i % len(DOMAINS)]}", first, name


def write_audience(path: Path, count: int) -> None:
    """An audience CSV as people export it (`;`-separated), written row by row."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(("email", "first_name", "name"))
        for i in range(count):
            writer.writerow(person(i))


def project() -> Project:
    return Project(issues_dir=ROOT / "issues", layouts_dir=ROOT / "layouts")


def prepare(audience: Path) -> campaign_module.Campaign:
    return campaign_module.prepare(
        project(), SAMPLE, ENVELOPE, recipients_file=audience, default_recipients=None, now=DATE
    )


# --- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sink exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1.0):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout:g} s")


class Sink:
    """A local SMTP server that accepts and discards every message; counts what it received."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "sink.out"
        self._out: IO[bytes] = self.log.open("wb")
        if SMTP_SINK.exists():
            self.name = f"Postfix smtp-sink ({SMTP_SINK})"
            command = [str(SMTP_SINK), "-c"]
            if os.geteuid() == 0:
                command += ["-u", "nobody"]  # smtp-sink refuses to run as root
            command += [f"{HOST}:{self.port}", "1000"]
        else:
            self.name = "aiosmtpd in a separate process (smtp-sink not found)"
            command = [sys.executable, str(Path(__file__).resolve()), "--serve-aiosmtpd", str(self.port)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, self.process)

    def received(self) -> int | None:
        """Messages accepted so far, as the sink counts them (smtp-sink -c only), else None."""
        if not self.name.startswith("Postfix"):
            return None
        self._out.flush()
        found = re.findall(rb"mesg=(\d+)", self.log.read_bytes())
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the aiosmtpd sink stops at the end of its input
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def serve_aiosmtpd(port: int) -> int:
    """The fallback sink: accepts and discards every message until stdin closes or SIGTERM."""
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802, ARG002
            return "250 2.0.0 Ok: discarded"

    controller = Controller(Discard(), hostname=HOST, port=port, data_size_limit=0)
    controller.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sys.stdin.read()
    finally:
        controller.stop()
    return 0


# --- runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    kind: str  # project, bare, mailmerge
    name: str
    connections: int
    messages: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def best(runs: Sequence[Result]) -> tuple[Result, str]:
    """The fastest of repeated runs (the least disturbed by other work), and the range of all."""
    fastest = max(runs, key=lambda r: r.rate)
    rates = sorted(r.rate for r in runs)
    spread = f"best of {len(runs)}, runs {rates[0]:,.0f} to {rates[-1]:,.0f}" if len(runs) > 1 else "1 run"
    return fastest, spread


def project_send(
    camp: campaign_module.Campaign, port: int, connections: int, folder: Path, run: int
) -> Result:
    """The real send: campaign.send to the sink, a fresh ledger, no rate limit."""
    sender = SMTPSender(HOST, port, security=Security.NONE, timeout=30.0)
    with Ledger(folder / f"ledger-{connections}-{run}.sqlite3") as ledger:
        start = time.perf_counter()
        report = campaign_module.send(camp, sender, ledger, options=Options(connections=connections))
        seconds = time.perf_counter() - start
        counts = ledger.counts(camp.slug)
    total = len(camp.audience.recipients)
    if report.sent != total or not counts.complete:
        raise RuntimeError(f"project send: {report.sent} of {total} sent ({report.stopped}; {counts})")
    return Result("project", "this project: campaign.send", connections, report.sent, seconds)


def bare_send(data: bytes, count: int, port: int, connections: int) -> Result:
    """The ceiling: one prebuilt message, smtplib.sendmail in a loop on reused connections."""
    shares = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
    starts = [sum(shares[:i]) for i in range(connections)]
    errors: list[BaseException] = []
    sent = [0] * connections

    def worker(n: int) -> None:
        try:
            with smtplib.SMTP(HOST, port, timeout=30.0) as smtp:
                smtp.ehlo()
                for i in range(starts[n], starts[n] + shares[n]):
                    refused = smtp.sendmail(ENVELOPE_FROM, [person(i)[0]], data)
                    if not refused:
                        sent[n] += 1
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"bare smtplib loop: {errors[0]!r}")
    return Result("bare", "bare smtplib loop, same bytes", connections, sum(sent), seconds)


# --- mailmerge -------------------------------------------------------------------------------------


def mailmerge_command() -> list[str] | None:
    found = shutil.which("mailmerge", path=str(Path(sys.executable).parent)) or shutil.which("mailmerge")
    if found:
        return [found]
    if importlib.util.find_spec("mailmerge") is not None:
        return [sys.executable, "-m", "mailmerge"]
    return None


def jinja_plan(plan: Plan, rendered: Rendered) -> str:
    """A Plan as a Jinja2 template: literals kept verbatim, each slot an expression with its default."""
    out = []
    for i, literal in enumerate(plan.literals):
        if literal:
            out.append("{% raw %}" + literal + "{% endraw %}")
        if i < len(plan.slots):
            field = rendered.fields[plan.slots[i]]
            default = f" or {json.dumps(field.default)}" if field.default else ""
            out.append(f"{{{{ {field.name}{default} }}}}")
    return "".join(out)


def mailmerge_files(folder: Path, rendered: Rendered, composer: Composer, count: int, port: int) -> None:
    """mailmerge's three files: the issue as a multipart/alternative template, the CSV, the server."""
    boundary = composer.alt_boundary
    template = (
        "TO: {{ name }} <{{ email }}>\n"
        f"FROM: {ENVELOPE.sender}\n"
        f"REPLY-TO: {ENVELOPE.reply_to}\n"
        f"SUBJECT: {jinja_plan(rendered.subject, rendered)}\n"
        "List-Unsubscribe: <{{ unsubscribe_url }}>\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n'
        "\n"
        f"--{boundary}\n"
        'Content-Type: text/plain; charset="utf-8"\n\n'
        f"{jinja_plan(rendered.text, rendered)}\n"
        f"--{boundary}\n"
        'Content-Type: text/html; charset="utf-8"\n\n'
        f"{jinja_plan(rendered.html, rendered)}\n"
        f"--{boundary}--\n"
    )
    (folder / "mailmerge_template.txt").write_text(template, encoding="utf-8")
    with (folder / "mailmerge_database.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("email", "first_name", "name", "unsubscribe_url"))
        for i in range(count):
            email, first, name = person(i)
            writer.writerow((email, first, name, composer.unsubscribe_url(email)))
    (folder / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = {HOST}\nport = {port}\nratelimit = 0\n", encoding="utf-8"
    )


def mailmerge_send(
    command: list[str], rendered: Rendered, composer: Composer, count: int, port: int
) -> Result:
    """mailmerge --no-dry-run over `count` rows; the rate leaves out its start-up (timed with --limit 0)."""
    with tempfile.TemporaryDirectory(prefix="bench-mailmerge-") as name:
        folder = Path(name)
        mailmerge_files(folder, rendered, composer, count, port)

        def run(*extra: str) -> float:
            start = time.perf_counter()
            done = subprocess.run(
                [*command, "--no-dry-run", "--output-format", "raw", *extra],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=600,
                check=False,
            )
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"mailmerge exited {done.returncode}: {done.stderr.decode()[-500:]}")
            return seconds

        startup = run("--limit", "0")
        total = run("--no-limit")
    note = f"{total:.2f} s wall incl. {startup:.2f} s start-up"
    return Result("mailmerge", "mailmerge (subprocess)", 1, count, max(total - startup, 1e-9), note)


# --- memory of a dry run ---------------------------------------------------------------------------


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far.

    On Linux VmHWM of /proc/self/status: getrusage's ru_maxrss survives exec, so in a child started by
    a big parent it would report the parent's size at fork time. Elsewhere ru_maxrss (bytes on macOS).
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def dry_run_child(count: int) -> int:
    """In a fresh process: campaign.prepare + campaign.dry_run of `count` readers; prints JSON."""
    stages: dict[str, int] = {"imports": peak_rss_bytes()}
    with tempfile.TemporaryDirectory(prefix="bench-dry-run-") as name:
        folder = Path(name)
        audience = folder / "audience.csv"
        write_audience(audience, count)
        project().render(SAMPLE)
        stages["render"] = peak_rss_bytes()
        camp = prepare(audience)
        stages["audience loaded (prepare)"] = peak_rss_bytes()
        start = time.perf_counter()
        done = campaign_module.dry_run(camp, folder / "outbox")
        report, sender = done.report, done.outbox
        seconds = time.perf_counter() - start
        stages["dry run (ledger + compose + .eml)"] = peak_rss_bytes()
        result = {
            "count": count,
            "written": sender.count,
            "bytes": sender.bytes_written,
            "sent": report.sent,
            "seconds": seconds,
            "stages": stages,
        }
    print(json.dumps(result))
    return 0


def dry_run_in_subprocess(count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--dry-run-child", str(count)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dry run of {count}: exit {done.returncode}: {done.stderr.decode()[-1000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


# --- where the time of one message goes ------------------------------------------------------------


def per_item_us(fn: Callable[[], object], items: int, passes: int = 3) -> float:
    """Microseconds per item of `fn()`, which handles `items` items: the fastest of `passes` calls."""
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e6 / items


def signing_costs(camp: campaign_module.Campaign, unsigned_us: float, sample: int = 200) -> dict[str, float]:
    """Microseconds per message of composing with DKIM signing (NEWSLETTER_DKIM_KEY_FILE), RSA 2048
    and Ed25519, the same messages as the unsigned Composer.compose above; the keys made here."""
    keys = {
        "RSA 2048": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "Ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    people: list[Recipient] = camp.audience.recipients[:sample]
    costs: dict[str, float] = {}
    for name, key in keys.items():
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        signer = Signer(load_key(pem), "bench", ENVELOPE.domain)
        composer = Composer(camp.rendered, replace(camp.envelope, dkim=signer), date=camp.date)
        signed_us = per_item_us(lambda c=composer: [c.compose(p) for p in people], len(people))
        costs[f"Composer.compose, DKIM-signed {name}"] = signed_us
        costs[f"  of which signing ({name}, dkimpy)"] = signed_us - unsigned_us
    return costs


def per_message_costs(
    camp: campaign_module.Campaign, data: bytes, port: int, folder: Path, sample: int
) -> dict[str, float]:
    """Microseconds per message of the pieces of the project's send path, single-threaded."""
    composer = camp.composer()
    people: list[Recipient] = camp.audience.recipients[:sample]
    costs: dict[str, float] = {}
    costs["Composer.compose"] = per_item_us(lambda: [composer.compose(p) for p in people], len(people))
    costs.update(signing_costs(camp, costs["Composer.compose"]))

    with Ledger(folder / "costs.sqlite3") as ledger:
        start = time.perf_counter()
        ledger.start(
            camp.slug, subject="x", content_hash="x", audience_source="x", recipients=people, now=DATE
        )
        costs["Ledger.start (snapshot insert, once per run)"] = (
            (time.perf_counter() - start) * 1e6 / len(people)
        )
        costs["Ledger.due (read back, once per run)"] = per_item_us(
            lambda: ledger.due(camp.slug), len(people)
        )

        def marks() -> None:
            for p in people:
                ledger.mark_sending(camp.slug, p.email, "<id@example.org>", DATE)
                ledger.mark(camp.slug, p.email, "sent", "250 ok", DATE)

        costs["Ledger.mark_sending + mark (2 commits)"] = per_item_us(marks, len(people))

    # SMTPConnection.send dot-stuffs with this regex, as smtplib.sendmail does in the bare loop too.
    leading_dot = re.compile(rb"(?m)^\.")
    costs["dot-stuffing re.sub((?m)^\\.) (bare loop too)"] = per_item_us(
        lambda: [leading_dot.sub(b"..", data) for _ in range(200)], 200
    )
    costs["  the same with bytes.replace, for comparison"] = per_item_us(
        lambda: [data.replace(b"\n.", b"\n..") for _ in range(200)], 200
    )
    sender = SMTPSender(HOST, port, security=Security.NONE)
    per_connection = Options().messages_per_connection

    def reconnects() -> None:
        for _ in range(50):
            sender.connect().close()

    costs[f"connect + EHLO + QUIT, / {per_connection} messages"] = (
        per_item_us(reconnects, 50) / per_connection
    )
    return costs


# --- report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    name: str
    ok: bool
    detail: str


def mib(n: float) -> str:
    return f"{n / 2**20:8.1f} MiB"


def step(label: str, fn: Callable[[], Any]) -> Any:
    print(f"  … {label}", file=sys.stderr, flush=True)
    return fn()


@contextlib.contextmanager
def running_sink(folder: Path) -> Iterator[Sink]:
    sink = Sink(folder)
    try:
        yield sink
    finally:
        sink.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000, help="SMTP sends per run (10000)")
    parser.add_argument("--dry-run-recipients", type=int, default=100_000, help="the large dry run (100000)")
    parser.add_argument(
        "--small-dry-run-recipients", type=int, default=None, help="the small dry run (= --recipients)"
    )
    parser.add_argument("--mailmerge-recipients", type=int, default=500, help="mailmerge sends (500)")
    parser.add_argument("--repeat", type=int, default=3, help="SMTP runs of each sender; the best counts (3)")
    parser.add_argument("--serve-aiosmtpd", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--dry-run-child", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_aiosmtpd is not None:
        return serve_aiosmtpd(args.serve_aiosmtpd)
    if args.dry_run_child is not None:
        return dry_run_child(args.dry_run_child)

    began = time.perf_counter()
    load_before = os.getloadavg()
    small_dry = args.small_dry_run_recipients or args.recipients
    with tempfile.TemporaryDirectory(prefix="bench-send-") as name, running_sink(Path(name)) as sink:
        folder = Path(name)
        audience = folder / "audience.csv"
        write_audience(audience, args.recipients)
        start = time.perf_counter()
        camp = prepare(audience)
        prepare_s = time.perf_counter() - start
        composer = camp.composer()
        data = composer.compose(camp.audience.recipients[0]).data

        runs: dict[tuple[str, int], list[Result]] = {}
        for run in range(args.repeat):  # interleaved, so a busy moment does not hit one sender only
            for connections in (1, 4):
                runs.setdefault(("bare", connections), []).append(
                    step(
                        f"run {run + 1}/{args.repeat}: bare smtplib, {connections} connection(s)",
                        partial(bare_send, data, args.recipients, sink.port, connections),
                    )
                )
                runs.setdefault(("project", connections), []).append(
                    step(
                        f"run {run + 1}/{args.repeat}: campaign.send, {connections} connection(s)",
                        partial(project_send, camp, sink.port, connections, folder, run),
                    )
                )
        command = mailmerge_command()
        mailmerge: Result | None = None
        if command is not None:
            mailmerge = step(
                f"mailmerge, {args.mailmerge_recipients} messages",
                lambda: mailmerge_send(
                    command, camp.rendered, composer, args.mailmerge_recipients, sink.port
                ),
            )
        costs = step(
            "per-message costs",
            lambda: per_message_costs(camp, data, sink.port, folder, min(2000, args.recipients)),
        )
        received = sink.received()
        sink_name = sink.name

    dry = {
        n: step(f"dry run of {n:,} in a subprocess", partial(dry_run_in_subprocess, n))
        for n in (small_dry, args.dry_run_recipients)
    }

    # --- print -------------------------------------------------------------------------------------
    expected = 4 * args.recipients * args.repeat + (mailmerge.messages if mailmerge else 0)
    print("newsletter send benchmark: issues/2026-01.yaml to a local SMTP sink on 127.0.0.1")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; sink: {sink_name}")
    print(
        f"load average at start {load_before[0]:.1f}, at end {os.getloadavg()[0]:.1f} "
        "(other work on the machine slows every sender; the best of the repeated runs counts)"
    )
    print(
        f"wire message {len(data) / 1024:.1f} KB; prepare (render + audience of {args.recipients:,}) "
        f"{prepare_s:.2f} s, not in the rates"
    )
    if received is not None:
        print(f"the sink counted {received:,} messages received (expected {expected:,})")
    print()
    width = 40
    print(f"{'sender':<{width}} {'conns':>5} {'messages':>9} {'seconds':>8} {'msg/s':>9}  note")
    print("-" * (width + 50))
    by: dict[tuple[str, int], Result] = {}
    for key in (("bare", 1), ("project", 1), ("bare", 4), ("project", 4)):
        r, spread = best(runs[key])
        by[key] = r
        print(
            f"{r.name:<{width}} {r.connections:>5} {r.messages:>9,} {r.seconds:>8.2f} {r.rate:>9,.0f}  "
            f"{spread}"
        )
    if mailmerge is not None:
        m = mailmerge
        print(
            f"{m.name:<{width}} {m.connections:>5} {m.messages:>9,} {m.seconds:>8.2f} {m.rate:>9,.0f}  "
            f"{m.note}; {args.mailmerge_recipients} not {args.recipients:,}: it is slow"
        )
    else:
        print(f"{'mailmerge':<{width}} {'':>5} {'':>9} {'':>8} {'':>9}  not available")
    print("-" * (width + 50))

    goals: list[Goal] = []
    print(f"{'':<24} {'1 connection':>14} {'4 connections':>14}")
    ratios = {}
    for c in (1, 4):
        ratios[c] = by[("project", c)].rate / by[("bare", c)].rate
    print(f"{'project / bare loop':<24} {ratios[1]:>13.2f}{TIMES} {ratios[4]:>13.2f}{TIMES}")
    for c in (1, 4):
        goals.append(
            Goal(
                f"this project ≥ {BARE_GOAL:g}{TIMES} the bare smtplib loop, {c} connection(s)",
                ratios[c] >= BARE_GOAL,
                f"{ratios[c]:.2f}{TIMES} ({by[('project', c)].rate:,.0f} vs "
                f"{by[('bare', c)].rate:,.0f} msg/s)",
            )
        )
    if mailmerge is not None:
        vs = {c: by[("project", c)].rate / mailmerge.rate for c in (1, 4)}
        print(f"{'project / mailmerge':<24} {vs[1]:>13.1f}{TIMES} {vs[4]:>13.1f}{TIMES}")
        goals.append(
            Goal(
                f"this project (1 connection) ≥ {MAILMERGE_GOAL:g}{TIMES} mailmerge",
                vs[1] >= MAILMERGE_GOAL,
                f"{vs[1]:.1f}{TIMES} ({by[('project', 1)].rate:,.0f} vs {mailmerge.rate:,.0f} msg/s)",
            )
        )
    else:
        print(f"{'project / mailmerge':<24} {'not available':>14}")
    print()

    print("where one message's time goes in the project (pieces timed alone, single thread; µs/message):")
    bare_us = 1e6 / by[("bare", 1)].rate
    project_us = 1e6 / by[("project", 1)].rate
    for label, us in costs.items():
        print(f"  {label:<50} {us:8.1f} µs")
    print(f"  {'whole message, bare smtplib loop (1 connection)':<50} {bare_us:8.1f} µs")
    print(f"  {'whole message, campaign.send (1 connection)':<50} {project_us:8.1f} µs")
    print(f"  {'  difference':<50} {project_us - bare_us:8.1f} µs")
    print()

    small, large = dry[small_dry], dry[args.dry_run_recipients]
    print("peak memory of campaign.dry_run (fresh subprocess each; peak RSS, VmHWM, after each stage):")
    print(f"  {'stage':<36} {small['count']:>12,} {large['count']:>12,}")
    for stage in small["stages"]:
        print(f"  {stage:<36} {mib(small['stages'][stage]):>12} {mib(large['stages'][stage]):>12}")
    for d in (small, large):
        if d["written"] != d["count"] or d["sent"] != d["count"]:
            raise RuntimeError(f"dry run of {d['count']}: wrote {d['written']}, sent {d['sent']}")
    print(
        f"  {'dry run time':<36} {small['seconds']:>10.1f} s {large['seconds']:>10.1f} s"
        f"   ({large['bytes'] / 2**30:.2f} GiB of .eml for the large one)"
    )
    peak_small = max(small["stages"].values())
    peak_large = max(large["stages"].values())
    base = small["stages"]["render"]
    growth = (peak_large - peak_small) / max(1, large["count"] - small["count"])
    flat = peak_large <= FLAT_GOAL * peak_small
    print(
        f"  peak {mib(peak_large).strip()} vs {mib(peak_small).strip()}: "
        f"{peak_large / peak_small:.2f}{TIMES} "
        f"for {large['count'] / small['count']:.0f}{TIMES} the recipients; about {growth / 1024:.1f} KiB "
        f"more per extra recipient (after render: {mib(base).strip()})"
    )
    goals.append(
        Goal(
            f"dry-run memory flat: {large['count']:,} peak within {FLAT_GOAL:g}{TIMES} of {small['count']:,}",
            flat,
            f"{peak_large / peak_small:.2f}{TIMES}",
        )
    )
    print()
    for goal in goals:
        print(f"{'PASS' if goal.ok else 'FAIL'}  {goal.name}: {goal.detail}")
    print(f"\nwhole run: {time.perf_counter() - began:.1f} s")
    return 0 if all(g.ok for g in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
