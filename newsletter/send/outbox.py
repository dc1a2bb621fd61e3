"""The dry-run sender: every message written as an .eml file, nothing sent."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.send.base import Reply


@dataclass
class OutboxSender:
    folder: Path
    count: int = 0
    bytes_written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def description(self) -> str:
        return f"outbox {self.folder}"

    def connect(self) -> OutboxConnection:
        self.folder.mkdir(parents=True, exist_ok=True)
        return OutboxConnection(self)


@dataclass
class OutboxConnection:
    outbox: OutboxSender

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:  # noqa: ARG002 - the protocol
        with self.outbox._lock:
            self.outbox.count += 1
            self.outbox.bytes_written += len(data)
            n = self.outbox.count
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)
        (self.outbox.folder / f"{n:06d}-{safe}.eml").write_bytes(data)
        return Reply(250, "written")

    def close(self) -> None:
        return None
