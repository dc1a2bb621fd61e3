"""The throttle: never faster than the mail server allows, over all connections of a run.

`Rate` is a limit as providers publish it (30/minute, 14/second); `Limiter` holds every connection
of a run to it, at the moment each message reaches the server.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.errors import ConfigError

Sleep = Callable[[float], None]

UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


@dataclass(frozen=True)
class Rate:
    """At most `count` messages per `period` seconds."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'30/minute', '14/second', '1000/hour' (also 's', 'min', 'h')."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", text.lower())
        aliases = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour", "d": "day"}
        unit = aliases.get(match[2], match[2].rstrip("s")) if match else ""
        if not match or unit not in UNITS or int(match[1]) < 1:
            raise ConfigError(f"NEWSLETTER_RATE={text!r}: write it as e.g. 30/minute or 14/second")
        return cls(int(match[1]), UNITS[unit])

    def __str__(self) -> str:
        unit = {v: k for k, v in UNITS.items()}.get(self.period, f"{self.period:g}s")
        return f"{self.count}/{unit}"


class Limiter:
    """One limiter for all connections: never more than `count` messages in any `period` at the server.

    Sends are spaced evenly (no bursts), with a 1 % margin. Spacing alone holds only while every
    message takes as long to reach the server as the one before; a busy machine or network breaks
    that. So a send also waits while `count` others are in flight or ended less than `period` ago:
    the server receives a message after we start sending it and before we hear its reply, hence no
    window of `period` at the server holds more than `count`, whatever the delays. Every `acquire()`
    is paired with a `release()` when that send is over, however it ended.
    """

    def __init__(self, rate: Rate | None, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Sleep | None = None) -> None:  # fmt: skip
        self.rate = rate
        self.interval = rate.period / rate.count * 1.01 if rate else 0.0
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()  # held while waiting for a turn: turns go in order
        self._state = threading.Lock()  # guards the counts, which release() changes meanwhile
        self._in_flight = 0
        self._ended: collections.deque[float] = collections.deque()

    def _wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Wait `seconds`, or less if `stop` is set meanwhile; False when the run is stopping."""
        if self._sleep is not None:
            self._sleep(seconds)
        elif stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)
        return stop is None or not stop.is_set()

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a turn; False (and no turn taken) when `stop` is set while waiting.

        A slow rate (30 a minute, 1000 a day) means long waits: a run that is asked to stop must not
        sit them out.
        """
        if self.rate is None:
            return True
        count, period = self.rate.count, self.rate.period
        with self._lock:
            now = self._monotonic()
            if self._next > now and not self._wait(self._next - now, stop):
                return False
            while True:
                now = self._monotonic()
                with self._state:
                    while self._ended and self._ended[0] <= now - period:
                        self._ended.popleft()
                    if self._in_flight + len(self._ended) < count:
                        self._in_flight += 1
                        break
                    wait = self._ended[0] + period - now if self._ended else 0.01
                if not self._wait(wait, stop):
                    return False
            self._next = now + self.interval
        return True

    def release(self) -> None:
        if self.rate is None:
            return
        with self._state:
            self._in_flight -= 1
            self._ended.append(self._monotonic())


def pace(rate: Rate | None, connections: int, messages: int) -> str:
    """How fast a run goes and how long `messages` take at that rate, for the lines before a send:
    '30/minute over 3 connections: 10000 messages take about 5 h 33 min'."""
    over = f"over {connections} connection{'s' if connections != 1 else ''}"
    if rate is None:
        return f"as fast as the server takes them (no NEWSLETTER_RATE), {over}"
    if messages <= 0:
        return f"at most {rate} {over}"
    seconds = (messages - 1) * rate.period / rate.count
    many = f"{messages} messages take" if messages != 1 else "1 message takes"
    return f"at most {rate} {over}: {many} about {_duration(seconds)}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
