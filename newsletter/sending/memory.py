"""A sender that keeps messages in a list: the fake shipped for tests of code that sends.

Failures can be scripted per recipient address: `MemorySender(script={"x@example.org": [Temporary(...)]})`
raises those failures, one per attempt, before accepting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from newsletter.model import address_key
from newsletter.sending.base import Connection, Reply, SendFailure


@dataclass(frozen=True)
class Sent:
    sender: str
    recipient: str
    data: bytes


@dataclass
class MemorySender:
    description: str = "memory"
    script: dict[str, list[SendFailure]] = field(default_factory=dict)
    outbox: list[Sent] = field(default_factory=list)
    connections_opened: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self) -> MemoryConnection:
        with self._lock:
            self.connections_opened += 1
        return MemoryConnection(self)


@dataclass
class MemoryConnection(Connection):
    sender: MemorySender

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        with self.sender._lock:
            failures = self.sender.script.get(address_key(recipient))
            if failures:
                raise failures.pop(0)
            self.sender.outbox.append(Sent(sender, recipient, data))
        return Reply(250, "OK")

    def close(self) -> None:
        return None
