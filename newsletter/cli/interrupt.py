"""Stopping a run the ways operators stop programs: Ctrl-C, `systemctl stop` or a shutdown (SIGTERM), a
closed terminal or SSH session (SIGHUP).

The first signal asks the run to stop: no new message is started, each connection finishes the one
it is on and the ledger records it, then the command ends. A second signal ends the process at once,
as a kill would: the ledger is never closed under a worker that is still writing, and the next run
finds the message in flight as `sending` and resends it once with the same Message-ID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What each signal means to the person reading the output.
NAMES = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "stop requested (SIGTERM)",
    signal.SIGHUP: "terminal closed (SIGHUP)",
}


@contextlib.contextmanager
def stop_on_signals(say: Callable[[str], None]) -> Iterator[threading.Event]:
    """An event that SIGINT, SIGTERM or SIGHUP sets while the block runs; `say` tells the person."""
    requested = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = NAMES.get(signal.Signals(signum), signal.Signals(signum).name)
        if not requested.is_set():
            requested.set()
            say(
                f"{name}: stopping after the message each connection is on; "
                "press Ctrl-C again to stop at once (the next run sorts out the message in flight)"
            )
            return
        say(f"{name} again: stopping at once")
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        # No cleanup on purpose: closing the ledger now would pull it from under the workers.
        os._exit(128 + signum)

    previous = {s: signal.signal(s, handle) for s in SIGNALS}
    try:
        yield requested
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
