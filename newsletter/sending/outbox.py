"""The dry-run sender: every message written as an .eml file, nothing sent.

Each file starts with a Return-Path line naming the envelope sender (MAIL FROM) the message would
go out with, as the reader's mailbox would show it: where its bounces would go.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.sending.base import Connection, Reply

_WRITTEN = re.compile(r"[0-9]{6}-[A-Za-z0-9@._+_-]+\.eml")  # the names OutboxConnection.send gives


@dataclass
class OutboxSender:
    folder: Path
    count: int = 0
    bytes_written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def description(self) -> str:
        return f"outbox {self.folder}"

    def clear(self) -> int:
        """Delete the messages an earlier dry run wrote to the folder; how many.

        Left there, they would show people this run writes nothing for (who got the issue since,
        who was suppressed since) as if they were to be sent it. Only files named as this sender
        names them are deleted.
        """
        old = [f for f in self.folder.glob("*.eml") if _WRITTEN.fullmatch(f.name)]
        for file in old:
            file.unlink(missing_ok=True)
        return len(old)

    def connect(self) -> OutboxConnection:
        self.folder.mkdir(parents=True, exist_ok=True)
        return OutboxConnection(self)


@dataclass
class OutboxConnection(Connection):
    outbox: OutboxSender

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        with self.outbox._lock:
            self.outbox.count += 1
            self.outbox.bytes_written += len(data)
            n = self.outbox.count
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)
        return_path = f"Return-Path: <{sender}>\r\n".encode()
        (self.outbox.folder / f"{n:06d}-{safe}.eml").write_bytes(return_path + data)
        return Reply(250, "written")

    def close(self) -> None:
        return None
